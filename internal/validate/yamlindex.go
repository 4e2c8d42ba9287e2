package validate

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/diag"
)

// Limits that keep a hostile config from exhausting the machine.
const (
	maxConfigBytes = 1 << 20
	maxNodes       = 100_000
	maxDepth       = 64
)

// location of one node of the user's input, by config path ("a.b.0.c").
type location struct {
	key   diag.Range // the mapping key; zero for list items and the root
	value diag.Range
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
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, ix, diag.List{yamlError(file, err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return map[string]any{}, ix, nil
	}
	b := builder{ix: ix}
	v := b.value(doc.Content[0], "", diag.Range{}, 0)
	return v, ix, b.problems
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
	}
	switch n.Kind {
	case yaml.MappingNode:
		return b.mapping(n, path, depth)
	case yaml.SequenceNode:
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
		b.problems.Addf(nodeRange(b.ix.file, n), path, "cannot read value: %v", err)
		return nil
	}
	if n.Tag == "!!binary" || n.Tag == "!!timestamp" {
		return n.Value
	}
	return v
}

func describeTag(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
}

func yamlError(file string, err error) diag.Diagnostic {
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
	return diag.Diagnostic{Summary: "invalid YAML: " + msg, Subject: diag.Range{File: file, Start: diag.Pos{Line: line, Col: 1}}}
}
