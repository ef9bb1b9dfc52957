package printable

import "io/fs"

// FileKind names the type of a file in words ("a FIFO", "a character
// device"), for messages: Go's mode strings ("Dc---------") mean nothing
// to most readers.
func FileKind(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeSymlink:
		return "a symlink"
	case fs.ModeNamedPipe:
		return "a FIFO"
	case fs.ModeSocket:
		return "a socket"
	case fs.ModeDevice | fs.ModeCharDevice:
		return "a character device"
	case fs.ModeDevice:
		return "a block device"
	}
	return "an irregular file"
}
