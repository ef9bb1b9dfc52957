package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Script is an executable that Write puts at bin/Name.
type Script struct {
	Name    string
	Content []byte
}

// Package is a runner package to write. Write ignores Runner.Dir, derives
// Runner.Helpers from Scripts, and always writes vnet_hdr to tap-flags as
// microvm.nix does, whatever TapFlags.VnetHdr says.
type Package struct {
	Runner
	Scripts []Script
	// Files are extra data files written to share/microvm/NAME, such as
	// a hypervisor's config file. Their names must not be one of the
	// convention's own files.
	Files []File
}

// File is a data file that Write puts at share/microvm/Name.
type File struct {
	Name    string
	Content []byte
}

// reservedFiles are the convention's own names in share/microvm.
var reservedFiles = []string{
	path.Base(TapInterfacesFile), path.Base(TapFlagsFile), path.Base(MacvtapInterfacesFile), path.Base(TapNetworksFile),
	path.Base(PCIDevicesFile), path.Base(USBDevicesFile), path.Base(VirtiofsDir),
	path.Base(SystemLink), path.Base(MetaFile),
}

// Write creates the runner package dir, which must not exist. It writes
// into a sibling temporary directory, checks the result with Load and
// renames it into place, so dir either appears complete and valid or not
// at all.
func Write(dir string, p *Package) (err error) {
	if p == nil {
		return errors.New("writing runner package: nil package")
	}
	if err := p.check(); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("writing runner package %q: %w", dir, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("writing runner package: %w", err)
	}
	entries, err := p.entries()
	if err != nil {
		return fmt.Errorf("writing runner package %q: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing runner package: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err = writeEntries(tmp, entries); err != nil {
		return fmt.Errorf("writing runner package %q: %w", dir, err)
	}
	if _, err = Load(tmp); err != nil {
		return err
	}
	if err = renameNoReplace(tmp, dir); err != nil {
		return fmt.Errorf("writing runner package: %w", err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("writing runner package %q: %w", dir, err)
	}
	return nil
}

// check refuses what Load cannot catch after writing: names that would
// write outside their directory and values that would change the number
// of lines in a file.
func (p *Package) check() error {
	var pr problems
	names := make(map[string]bool)
	for _, s := range p.Scripts {
		if err := checkFileName(s.Name); err != nil {
			pr.add(binDir, 0, "script "+err.Error())
			continue
		}
		if names[s.Name] {
			pr.add(binDir+"/"+s.Name, 0, fmt.Sprintf("duplicate script %q", s.Name))
		}
		names[s.Name] = true
	}
	if !names[path.Base(RunScript)] {
		pr.add(RunScript, 0, "missing; expected an executable start script")
	}
	files := make(map[string]bool)
	for _, f := range p.Files {
		if err := checkFileName(f.Name); err != nil {
			pr.add(ShareDir, 0, "file "+err.Error())
			continue
		}
		if slices.Contains(reservedFiles, f.Name) || files[f.Name] {
			pr.add(ShareDir+"/"+f.Name, 0, fmt.Sprintf("file name %q is taken", f.Name))
		}
		files[f.Name] = true
	}
	tags := make(map[string]bool)
	for _, s := range p.Shares {
		if err := CheckTag(s.Tag); err != nil {
			pr.add(VirtiofsDir, 0, err.Error())
			continue
		}
		if tags[s.Tag] {
			pr.add(VirtiofsDir+"/"+s.Tag, 0, fmt.Sprintf("duplicate share tag %q", s.Tag))
		}
		tags[s.Tag] = true
		checkOneLine(&pr, shareFile(s.Tag, shareSource), []string{s.Source})
		checkOneLine(&pr, shareFile(s.Tag, shareSocket), []string{s.Socket})
	}
	checkOneLine(&pr, TapInterfacesFile, p.Taps)
	checkOneLine(&pr, MacvtapInterfacesFile, macvtapLines(p.Macvtaps))
	checkOneLine(&pr, TapNetworksFile, tapNetworkLines(p.TapNetworks))
	checkOneLine(&pr, PCIDevicesFile, p.PCIDevices)
	checkOneLine(&pr, USBDevicesFile, p.USBDevices)
	return pr.err()
}

func checkOneLine(pr *problems, rel string, vals []string) {
	for i, v := range vals {
		if strings.Contains(v, "\n") {
			pr.add(rel, i+1, fmt.Sprintf("value %q contains a newline; expected one value per line", v))
		}
	}
}

// checkFileName accepts a single path element.
func checkFileName(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return fmt.Errorf("name %q is reserved; expected a file name", s)
	case len(s) > 255:
		return fmt.Errorf("name %q is %d bytes; expected at most 255", s, len(s))
	case strings.Contains(s, "/"):
		return fmt.Errorf("name %q contains '/'; expected a file name", s)
	}
	return checkText(s)
}

func macvtapLines(ms []Macvtap) []string {
	var lines []string
	for _, m := range ms {
		lines = append(lines, strings.Join([]string{m.ID, m.MAC, m.Link, m.Mode}, " "))
	}
	return lines
}

func tapNetworkLines(ns []TapNetwork) []string {
	var lines []string
	for _, n := range ns {
		lines = append(lines, n.ID+" "+n.Network+" "+n.MAC)
	}
	return lines
}

// entry is one file, directory or symlink of a package, relative to its root.
type entry struct {
	rel    string
	mode   fs.FileMode // fs.ModeDir, fs.ModeSymlink or permission bits
	data   []byte
	target string
}

// entries lays out p, parents before children; the order and content
// depend only on p.
func (p *Package) entries() ([]entry, error) {
	dir := func(rel string) entry { return entry{rel: rel, mode: fs.ModeDir} }
	file := func(rel string, data []byte) entry { return entry{rel: rel, mode: 0o644, data: data} }

	es := []entry{dir(binDir)}
	scripts := slices.SortedFunc(slices.Values(p.Scripts), func(a, b Script) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range scripts {
		es = append(es, entry{rel: binDir + "/" + s.Name, mode: 0o755, data: s.Content})
	}
	es = append(es, dir(path.Dir(ShareDir)), dir(ShareDir))

	flags := tapFlagVnetHdr + "\n"
	if p.TapFlags.MultiQueue {
		flags += tapFlagMultiQ + "\n"
	}
	es = append(es, file(TapFlagsFile, []byte(flags)))
	for _, f := range []struct {
		rel  string
		vals []string
	}{
		{TapInterfacesFile, p.Taps},
		{MacvtapInterfacesFile, macvtapLines(p.Macvtaps)},
		{TapNetworksFile, tapNetworkLines(p.TapNetworks)},
		{PCIDevicesFile, p.PCIDevices},
		{USBDevicesFile, p.USBDevices},
	} {
		if len(f.vals) > 0 {
			es = append(es, file(f.rel, []byte(strings.Join(f.vals, "\n")+"\n")))
		}
	}

	if len(p.Shares) > 0 {
		es = append(es, dir(VirtiofsDir))
	}
	shares := slices.SortedFunc(slices.Values(p.Shares), func(a, b Share) int { return strings.Compare(a.Tag, b.Tag) })
	for _, s := range shares {
		es = append(es,
			dir(VirtiofsDir+"/"+s.Tag),
			file(shareFile(s.Tag, shareSource), []byte(s.Source+"\n")),
			file(shareFile(s.Tag, shareSocket), []byte(s.Socket+"\n")))
	}
	if p.System != "" {
		es = append(es, entry{rel: SystemLink, mode: fs.ModeSymlink, target: p.System})
	}
	if p.Meta != nil {
		data, err := json.MarshalIndent(p.Meta, "", "  ")
		if err != nil {
			return nil, err
		}
		es = append(es, file(MetaFile, append(data, '\n')))
	}
	extra := slices.SortedFunc(slices.Values(p.Files), func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range extra {
		es = append(es, file(ShareDir+"/"+f.Name, f.Content))
	}
	return es, nil
}
