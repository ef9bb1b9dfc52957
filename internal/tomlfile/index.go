package tomlfile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// Location is where a file writes a key.
type Location struct {
	Line, Col int
	// Empty is the value as written when it is "" or 0, which a decoded
	// struct cannot tell from an absent key; otherwise "".
	Empty string
}

// Index maps key paths, with array elements numbered the way validators
// name them ("interfaces[1].mac"), to where the file writes them.
// go-toml's positions end with decoding; the index lets a caller point at
// the line of a problem it finds afterwards.
type Index struct {
	file    string // for Place
	at      map[string]Location
	order   []string          // paths in document order, for deterministic output
	byPos   map[[2]int]string // first path written at a line and column
	valueAt map[[2]int]string // path of the value at a line and column
	count   map[string]int    // elements seen per array of tables
	// segs are the keys of each path, unambiguous where the path is not:
	// a quoted key may contain a dot.
	segs map[string][]segment
}

// segment is one step of a path: a key, or an element of an array.
type segment struct {
	key  string
	elem bool
}

// IndexKeys indexes data. On invalid TOML the index just ends early:
// decoding reports the syntax error anyway.
func IndexKeys(data []byte) *Index {
	x := &Index{
		at:      map[string]Location{},
		byPos:   map[[2]int]string{},
		valueAt: map[[2]int]string{},
		count:   map[string]int{},
		segs:    map[string][]segment{},
	}
	var p unstable.Parser
	p.Reset(data)
	table, segs := "", []segment(nil)
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table, segs = x.header(&p, e)
		case unstable.KeyValue:
			x.keyValue(&p, table, segs, e)
		}
	}
	return x
}

// header returns the path a [table] or [[array]] header opens, and its
// segments. TOML adds a header below an array of tables to the array's
// last element, and each [[array]] header starts a new element.
func (x *Index) header(p *unstable.Parser, e *unstable.Node) (string, []segment) {
	path := ""
	var segs []segment
	var first *unstable.Node
	it := e.Key()
	for it.Next() {
		k := it.Node()
		if first == nil {
			first = k
		}
		path = joinKey(path, string(k.Data))
		segs = append(segs, segment{key: string(k.Data)})
		if it.IsLast() && e.Kind == unstable.ArrayTable {
			x.record(p, path, segs, first, "") // the first element also stands for the whole array
			n := x.count[path]
			x.count[path] = n + 1
			path = fmt.Sprintf("%s[%d]", path, n)
			segs = append(segs, segment{elem: true})
		} else if n := x.count[path]; n > 0 {
			path = fmt.Sprintf("%s[%d]", path, n-1)
			segs = append(segs, segment{elem: true})
		}
	}
	if first != nil {
		x.record(p, path, segs, first, "")
	}
	return path, segs
}

// keyValue indexes "a.b = value" below table, and what value contains.
func (x *Index) keyValue(p *unstable.Parser, table string, tsegs []segment, kv *unstable.Node) {
	path := table
	segs := slices.Clip(tsegs)
	var first *unstable.Node
	it := kv.Key()
	for it.Next() {
		if first == nil {
			first = it.Node()
		}
		path = joinKey(path, string(it.Node().Data))
		segs = append(segs, segment{key: string(it.Node().Data)})
		if !it.IsLast() { // "macvtap.mode = …" also writes table macvtap
			x.record(p, path, segs, first, "")
		}
	}
	v := kv.Value()
	x.record(p, path, segs, first, emptyValue(p, v))
	x.value(p, path, segs, v)
}

// value indexes the value v written for path, and what it contains.
func (x *Index) value(p *unstable.Parser, path string, segs []segment, v *unstable.Node) {
	if v.Kind != unstable.Array { // arrays carry no position
		start := p.Shape(v.Raw).Start
		x.valueAt[[2]int{start.Line, start.Column}] = path
	}
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if it.Node().Kind == unstable.KeyValue {
				x.keyValue(p, path, segs, it.Node())
			}
		}
	case unstable.Array:
		i := 0
		esegs := append(slices.Clip(segs), segment{elem: true})
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			elem := fmt.Sprintf("%s[%d]", path, i)
			i++
			if c.Kind != unstable.Array { // nested arrays carry no position
				x.record(p, elem, esegs, c, emptyValue(p, c))
			}
			x.value(p, elem, esegs, c)
		}
	}
}

func (x *Index) record(p *unstable.Parser, path string, segs []segment, n *unstable.Node, empty string) {
	if _, ok := x.at[path]; ok {
		return
	}
	start := p.Shape(n.Raw).Start
	x.at[path] = Location{Line: start.Line, Col: start.Column, Empty: empty}
	x.segs[path] = slices.Clone(segs)
	x.order = append(x.order, path)
	pos := [2]int{start.Line, start.Column}
	if _, ok := x.byPos[pos]; !ok {
		x.byPos[pos] = path
	}
}

// Locate returns where the file writes path or, for a key the file
// leaves out, its nearest enclosing table or array element.
func (x *Index) Locate(path string) (Location, bool) {
	for ; path != ""; path = parentPath(path) {
		if l, ok := x.at[path]; ok {
			return l, true
		}
	}
	return Location{}, false
}

// At returns where the file writes exactly path; false when it does not.
func (x *Index) At(path string) (Location, bool) {
	l, ok := x.at[path]
	return l, ok
}

// Paths returns the paths the file writes, in document order.
func (x *Index) Paths() []string { return x.order }

// emptyValue returns v as written if it is "" or 0, and "" otherwise.
func emptyValue(p *unstable.Parser, v *unstable.Node) string {
	switch v.Kind {
	case unstable.String:
		if len(v.Data) == 0 {
			return string(p.Raw(v.Raw))
		}
	case unstable.Integer:
		n, err := strconv.ParseInt(strings.ReplaceAll(string(v.Data), "_", ""), 0, 64)
		if err == nil && n == 0 {
			return string(v.Data)
		}
	}
	return ""
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// KeyOnly drops element numbers: "interfaces[0].mac" → "interfaces.mac",
// the key as a TOML user writes it.
func KeyOnly(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}
