package mdad

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// tree is the config being written, as YAML nodes so that every option can
// carry a comment naming the variable it came from.
type tree struct {
	root *yaml.Node
	// origins maps each option path that was set to who set it.
	origins map[string]string
}

func newTree() *tree {
	return &tree{root: &yaml.Node{Kind: yaml.MappingNode}, origins: map[string]string{}}
}

// topOrder is the order of the schema's sections, for a file that reads
// like the one matrixgen init writes.
var topOrder = []string{"version", "domain", "hostnames", "host", "reverse_proxy", "traefik", "postgres", "homeserver", "synapse", "dendrite", "continuwuity", "tuwunel", "element", "well_known", "mailer", "coturn", "bridges", "bots", "ketesa"}

func lookup(m *yaml.Node, key string) (int, bool) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i, true
		}
	}
	return 0, false
}

// set puts value at a dotted option path. When something is there already
// (the option, or a value above or below it), it changes nothing and
// returns who set that.
func (t *tree) set(path string, value *yaml.Node, origin, comment string) (taken string, ok bool) {
	parts := strings.Split(path, ".")
	m := t.root
	for i, part := range parts {
		at, found := lookup(m, part)
		last := i == len(parts)-1
		if found && (last || m.Content[at+1].Kind != yaml.MappingNode) {
			return t.originOf(strings.Join(parts[:i+1], ".")), false
		}
		if found {
			m = m.Content[at+1]
			continue
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: part}
		if last {
			if value.Kind == yaml.ScalarNode {
				value.LineComment = comment
			} else {
				key.LineComment = comment
			}
			m.Content = append(m.Content, key, value)
			t.origins[path] = origin
			return "", true
		}
		child := &yaml.Node{Kind: yaml.MappingNode}
		m.Content = append(m.Content, key, child)
		m = child
	}
	return "", true
}

// originOf is who set path or the value it is part of.
func (t *tree) originOf(path string) string {
	for p := path; p != ""; {
		if o, ok := t.origins[p]; ok {
			return o
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	// Set below path: name whoever set the first option under it.
	var under []string
	for p := range t.origins {
		if strings.HasPrefix(p, path+".") {
			under = append(under, p)
		}
	}
	slices.Sort(under)
	if len(under) > 0 {
		return t.origins[under[0]]
	}
	return ""
}

func (t *tree) has(path string) bool {
	_, ok := t.get(path)
	return ok
}

func (t *tree) get(path string) (*yaml.Node, bool) {
	n := t.root
	for _, part := range strings.Split(path, ".") {
		if n.Kind != yaml.MappingNode {
			return nil, false
		}
		at, ok := lookup(n, part)
		if !ok {
			return nil, false
		}
		n = n.Content[at+1]
	}
	return n, true
}

// sorted returns the root with its sections in schema order.
func (t *tree) sorted() *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode}
	rank := func(key string) int {
		if i := slices.Index(topOrder, key); i >= 0 {
			return i
		}
		return len(topOrder)
	}
	type pair struct{ k, v *yaml.Node }
	var pairs []pair
	for i := 0; i+1 < len(t.root.Content); i += 2 {
		pairs = append(pairs, pair{t.root.Content[i], t.root.Content[i+1]})
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return rank(a.k.Value) - rank(b.k.Value) })
	for _, p := range pairs {
		out.Content = append(out.Content, p.k, p.v)
	}
	return out
}
