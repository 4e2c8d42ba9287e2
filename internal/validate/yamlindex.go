package validate

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/diag"
)

// Limits that keep a hostile config from exhausting the machine.
const (
	maxConfigBytes = 1 << 20
	maxNodes       = 10_000 // CUE unifies a long list in quadratic time: 10 000 values take a second or two, 100 000 minutes
	maxDepth       = 64
)

// location of one node of the user's input, by config path ("a.b.0.c").
type location struct {
	key   diag.Range // the mapping key; zero for list items and the root
	value diag.Range
	kind  string // the CUE kind of the value as written: "string", "int", "struct", …
	text  string // a scalar as CUE prints it, to tell it apart in CUE's messages
}

// index maps config paths to where the user wrote them, so that every later
// check can point at the smallest node that explains a problem.
type index struct {
	file  string
	nodes map[string]location
}

func (ix *index) at(path string) diag.Range {
	for p := path; ; p = parentPath(p) {
		if loc, ok := ix.nodes[p]; ok {
			return loc.value
		}
		if p == "" {
			return diag.Range{File: ix.file}
		}
	}
}

// written tells whether the user wrote path (or something under it).
func (ix *index) written(path string) bool {
	_, ok := ix.nodes[path]
	return ok
}

func (ix *index) keyAt(path string) diag.Range {
	if loc, ok := ix.nodes[path]; ok && loc.key.Start.Line > 0 {
		return loc.key
	}
	return ix.at(path)
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' {
			return p[:i]
		}
	}
	return ""
}

func joinPath(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func nodeRange(file string, n *yaml.Node) diag.Range {
	start := diag.Pos{Line: n.Line, Col: n.Column}
	return diag.Range{File: file, Start: start, End: start}
}

// parseYAML reads the document into a node tree and turns it into plain Go
// values, refusing what a config file has no use for: aliases (the classic
// expansion bomb), duplicate keys, non-string keys and absurd nesting.
func parseYAML(file string, data []byte) (any, *index, diag.List) {
	ix := &index{file: file, nodes: map[string]location{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return map[string]any{}, ix, nil
	} else if err != nil {
		return nil, ix, diag.List{yamlError(file, data, err)}
	}
	// yaml.Unmarshal would silently drop every document after the first;
	// only empty ones may follow.
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, ix, diag.List{yamlError(file, data, err)}
		}
		if len(next.Content) > 0 && !isNothing(next.Content[0]) {
			return nil, ix, diag.List{{Summary: "the file holds more than one YAML document (---); a config is one", Subject: nodeRange(file, &next)}}
		}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || isNothing(doc.Content[0]) {
		return map[string]any{}, ix, nil
	}
	b := builder{ix: ix}
	v := b.value(doc.Content[0], "", diag.Range{}, 0)
	return v, ix, b.problems
}

// isNothing tells a document with no content at all ("---" alone), whose
// implicit null yaml.v3 places on a line after the end of the file.
func isNothing(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0
}

type builder struct {
	ix       *index
	problems diag.List
	count    int
}

func (b *builder) value(n *yaml.Node, path string, key diag.Range, depth int) any {
	b.ix.nodes[path] = location{key: key, value: nodeRange(b.ix.file, n)}
	b.count++
	at := nodeRange(b.ix.file, n)
	switch {
	case b.count > maxNodes:
		if b.count == maxNodes+1 {
			b.problems.Addf(at, path, "the config has more than %d values; this is not a config file matrixgen can read", maxNodes)
		}
		return nil
	case depth > maxDepth:
		b.problems.Addf(at, path, "nested deeper than %d levels", maxDepth)
		return nil
	case n.Kind == yaml.AliasNode || n.Anchor != "":
		b.problems.Addf(at, path, "YAML anchors and aliases are not supported; write the value out")
		return nil
	case strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!"):
		// yaml.v3 decodes "!include x" as the string "x": refuse rather
		// than let a file name stand in for its contents.
		b.problems.Addf(at, path, "YAML tags such as %s are not supported; write the value out", n.Tag)
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		b.setKind(path, "struct", "")
		return b.mapping(n, path, depth)
	case yaml.SequenceNode:
		b.setKind(path, "list", "")
		list := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			list = append(list, b.value(item, joinPath(path, strconv.Itoa(i)), diag.Range{}, depth+1))
		}
		return list
	default:
		return b.scalar(n, path)
	}
}

func (b *builder) mapping(n *yaml.Node, path string, depth int) any {
	m := make(map[string]any, len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		keyAt := nodeRange(b.ix.file, k)
		if k.Tag == "!!merge" {
			b.problems.Addf(keyAt, path, "YAML merge keys (<<) are not supported; write the options out")
			continue
		}
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			b.problems.Addf(keyAt, path, "option names must be plain strings, not %s", describeTag(k))
			continue
		}
		child := joinPath(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			b.problems.Addf(keyAt, child, "%q is set twice (first on line %d); remove one", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		m[k.Value] = b.value(v, child, keyAt, depth+1)
	}
	return m
}

func (b *builder) scalar(n *yaml.Node, path string) any {
	var v any
	if err := n.Decode(&v); err != nil {
		// Only an explicit tag can make a scalar undecodable: !!int fifty.
		b.problems.Addf(nodeRange(b.ix.file, n), path, "%q is not a valid %s; write the value without the tag", n.Value, n.Tag)
		return nil
	}
	if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
		// CUE has no infinity or NaN; they would reach the typed config as garbage.
		b.problems.Addf(nodeRange(b.ix.file, n), path, "%s is not a number a config can use", n.Value)
		return nil
	}
	if _, ok := v.(float64); ok && strings.Trim(strings.TrimLeft(n.Value, "+-"), "0123456789") == "" {
		// yaml.v3 reads an integer beyond 64 bits as a float, which would
		// be reported as "not an integer".
		b.problems.Addf(nodeRange(b.ix.file, n), path, "the number %s is too large", n.Value)
		return nil
	}
	if n.Tag == "!!binary" || n.Tag == "!!timestamp" {
		v = n.Value
	}
	switch v := v.(type) {
	case string:
		b.setKind(path, "string", strconv.Quote(v))
	case bool:
		b.setKind(path, "bool", strconv.FormatBool(v))
	case int, int64, uint64:
		b.setKind(path, "int", fmt.Sprint(v))
	case float64:
		b.setKind(path, "float", "")
	case nil:
		b.setKind(path, "null", "null")
	}
	return v
}

func (b *builder) setKind(path, kind, text string) {
	loc := b.ix.nodes[path]
	loc.kind, loc.text = kind, text
	b.ix.nodes[path] = loc
}

func describeTag(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	kind := map[string]string{"!!int": "an integer", "!!float": "a number", "!!bool": "a boolean", "!!null": "null"}[n.ShortTag()]
	if kind == "" {
		kind = n.ShortTag()
	}
	// YAML reads true, 1 and ~ as values even as keys; quotes make them names.
	return fmt.Sprintf("%s (%s); put the name in quotes", kind, n.Value)
}

func yamlError(file string, data []byte, err error) diag.Diagnostic {
	line, msg := 0, err.Error()
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	var rest string
	if n, _ := fmt.Sscanf(msg, "yaml: line %d: %s", &line, &rest); n >= 1 {
		if i := len(fmt.Sprintf("yaml: line %d: ", line)); i <= len(msg) {
			msg = msg[i:]
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if parserError(msg) {
		// yaml.v3 counts lines from 0 for parser errors (not for scanner
		// errors). It names where the enclosing block starts, or the
		// problem itself when that block starts on the first line.
		line++
		msg += " (here, or in the block that starts here)"
	}
	if line < 1 {
		line = 1 // yaml.v3 leaves out "line 0", so errors on the first line come without one
	}
	if last := offsetPos(data, len(data)).Line; line > last {
		line = last // the end of the stream counts as a line after the last
	}
	if strings.HasPrefix(msg, "found character that cannot start any token") && tabIndented(data, line) {
		msg = "a tab in the indentation; YAML indents with spaces only"
	}
	at := diag.Range{File: file, Start: diag.Pos{Line: line, Col: 1}}
	var anchor string
	if n, _ := fmt.Sscanf(msg, "unknown anchor '%s", &anchor); n == 1 {
		// This error comes without a line; the first use of the alias is it.
		if i := bytes.Index(data, []byte("*"+strings.TrimSuffix(anchor, "'"))); i >= 0 {
			at.Start = offsetPos(data, i)
		}
	}
	return diag.Diagnostic{Summary: "invalid YAML: " + msg, Subject: at}
}

// parserError tells libyaml's parser errors from its scanner errors, which
// differ in how yaml.v3 numbers their lines.
func parserError(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected ") ||
		strings.HasPrefix(msg, "found undefined tag handle") ||
		strings.HasPrefix(msg, "found duplicate %") ||
		strings.HasPrefix(msg, "found incompatible YAML document")
}

func tabIndented(data []byte, line int) bool {
	for i, at := 0, 1; i < len(data); {
		if at == line {
			indent := data[i : len(data)-len(bytes.TrimLeft(data[i:], " \t"))]
			return bytes.IndexByte(indent, '\t') >= 0
		}
		if n := lineBreak(data[i:]); n > 0 {
			i, at = i+n, at+1
		} else {
			i++
		}
	}
	return false
}
