package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// metaKeys lists the keys of meta.json for messages.
const metaKeys = "hypervisor, canShutdown, supportsNotifySocket, tapMultiQueue"

// metaError is a problem at a byte offset of meta.json.
type metaError struct {
	off int
	msg string
}

// parseMeta decodes meta.json strictly: a single object, known keys with
// exact case (encoding/json would match them case-insensitively), no
// duplicates, no nulls. It returns the offset of each key for later
// messages about them.
func parseMeta(data []byte) (*Meta, map[string]int, []metaError) {
	// Unmarshal first: its syntax errors carry an absolute offset, which
	// the Decoder's token API does not.
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, nil, []metaError{{max(int(se.Offset)-1, 0), strings.TrimPrefix(err.Error(), "json: ")}}
		}
		return nil, nil, []metaError{{0, err.Error()}}
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, nil, []metaError{{skipJSON(data, 0, ""), "expected a JSON object"}}
	}

	m := &Meta{}
	keys := make(map[string]int)
	var errs []metaError
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.Token() // the '{', known to be there
	for dec.More() {
		keyOff := skipJSON(data, int(dec.InputOffset()), ",")
		tok, _ := dec.Token()
		key := tok.(string)
		valOff := skipJSON(data, int(dec.InputOffset()), ":")
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, []metaError{{valOff, err.Error()}} // unreachable after Unmarshal
		}
		if _, dup := keys[key]; dup {
			errs = append(errs, metaError{keyOff, fmt.Sprintf("duplicate key %q", key)})
			continue
		}
		keys[key] = keyOff
		var err error
		switch key {
		case "hypervisor":
			if err = decodeString(raw, &m.Hypervisor); err == nil {
				err = CheckHypervisor(m.Hypervisor)
			}
		case "canShutdown":
			err = decodeBool(raw, &m.CanShutdown)
		case "supportsNotifySocket":
			err = decodeBool(raw, &m.SupportsNotifySocket)
		case "tapMultiQueue":
			err = decodeBool(raw, &m.TapMultiQueue)
		default:
			errs = append(errs, metaError{keyOff, fmt.Sprintf("unknown key %q; expected one of %s", key, metaKeys)})
			continue
		}
		if err != nil {
			errs = append(errs, metaError{valOff, fmt.Sprintf("key %q: %v", key, err)})
		}
	}
	if _, ok := keys["hypervisor"]; !ok {
		errs = append(errs, metaError{-1, `missing key "hypervisor"`})
	}
	if errs != nil {
		return nil, nil, errs
	}
	return m, keys, nil
}

// decodeString and decodeBool refuse null, which encoding/json would
// silently skip, and say what was expected instead of Go type names.
func decodeString(raw json.RawMessage, s *string) error {
	if raw[0] != '"' {
		return fmt.Errorf("got %s; expected a string", raw)
	}
	return json.Unmarshal(raw, s)
}

func decodeBool(raw json.RawMessage, b *bool) error {
	if string(raw) != "true" && string(raw) != "false" {
		return fmt.Errorf("got %s; expected true or false", raw)
	}
	return json.Unmarshal(raw, b)
}

// skipJSON returns the offset of the first byte at or after off that is
// neither JSON whitespace nor one of the separators in seps.
func skipJSON(data []byte, off int, seps string) int {
	for off < len(data) && strings.IndexByte(" \t\r\n"+seps, data[off]) >= 0 {
		off++
	}
	return off
}

// lineCol converts a byte offset to a 1-based line and column.
func lineCol(data []byte, off int) (int, int) {
	off = min(off, len(data))
	before := data[:off]
	return bytes.Count(before, []byte("\n")) + 1, off - bytes.LastIndexByte(before, '\n')
}

// meta reads meta.json if present. It returns the line of each key.
func (l *loader) meta() (*Meta, map[string]int) {
	data, f := l.readFile(MetaFile)
	if f != lookupFound {
		return nil, nil
	}
	m, offs, errs := parseMeta(data)
	for _, e := range errs {
		if e.off < 0 {
			l.add(MetaFile, 0, e.msg)
			continue
		}
		line, col := lineCol(data, e.off)
		l.add(MetaFile, line, fmt.Sprintf("column %d: %s", col, e.msg))
	}
	if m == nil {
		return nil, nil
	}
	lines := make(map[string]int)
	for k, off := range offs {
		lines[k], _ = lineCol(data, off)
	}
	return m, lines
}

// checkMeta cross-checks meta.json against the rest of the package:
// these mismatches only show up when the VM starts or stops.
func (l *loader) checkMeta(r *Runner, keyLines map[string]int, multiQueueLine int, hasTapFlags bool) {
	m := r.Meta
	if m.CanShutdown && !r.Helpers.Shutdown {
		l.add(MetaFile, keyLines["canShutdown"], fmt.Sprintf("canShutdown is true but %s is missing; expected the shutdown script", ShutdownScript))
	}
	switch {
	case m.TapMultiQueue && !r.TapFlags.MultiQueue && hasTapFlags:
		l.add(TapFlagsFile, 0, "multi_queue is missing but meta.json sets tapMultiQueue; taps must match the queues the hypervisor opens, or it fails with EINVAL")
	case m.TapMultiQueue && !hasTapFlags:
		l.add(TapFlagsFile, 0, "missing; meta.json sets tapMultiQueue, so expected a file with multi_queue")
	case !m.TapMultiQueue && r.TapFlags.MultiQueue:
		l.add(TapFlagsFile, multiQueueLine, "multi_queue is set but meta.json has tapMultiQueue false; taps must match the queues the hypervisor opens, or it fails with EINVAL")
	}
}
