package mdad

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// variable is one top-level assignment in vars.yml.
type variable struct {
	name string
	line int
	node *yaml.Node
	// overriddenAt is the line of a later assignment of the same name,
	// which is the one Ansible uses.
	overriddenAt int
}

// varFile is a parsed vars.yml: every assignment in file order, and the one
// that counts for each name.
type varFile struct {
	all    []*variable
	byName map[string]*variable
}

func parseVars(data []byte) (*varFile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, fmt.Errorf("holds no variables")
	}
	root := doc.Content[0]
	if n := expandedSize(root, map[*yaml.Node]int{}); n > maxExpandedNodes {
		return nil, fmt.Errorf("holds %d values once its aliases are expanded; a vars file has at most %d", n, maxExpandedNodes)
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: a vars file is a mapping of variable names to values", root.Line)
	}
	vf := &varFile{byName: map[string]*variable{}}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a variable name must be a plain string", k.Line)
		}
		nv := &variable{name: k.Value, line: k.Line, node: v}
		if prev, dup := vf.byName[k.Value]; dup {
			prev.overriddenAt = k.Line
		}
		vf.byName[k.Value] = nv
		vf.all = append(vf.all, nv)
	}
	return vf, nil
}

// maxExpandedNodes bounds the work on a vars file: aliases nested in
// aliases grow exponentially when resolved or shown.
const maxExpandedNodes = 200_000

func expandedSize(n *yaml.Node, memo map[*yaml.Node]int) int {
	if n == nil {
		return 0
	}
	if size, ok := memo[n]; ok {
		return size
	}
	memo[n] = maxExpandedNodes + 1 // an alias cycle counts as too large
	size := 1 + expandedSize(n.Alias, memo)
	for _, c := range n.Content {
		size += expandedSize(c, memo)
		if size > maxExpandedNodes {
			break
		}
	}
	memo[n] = size
	return size
}

// playbookDefaults are the playbook's own values for variables that other
// variables commonly refer to, for when vars.yml does not set them.
var playbookDefaults = map[string]string{
	"matrix_server_fqn_matrix":     "matrix.{{ matrix_domain }}",
	"matrix_server_fqn_element":    "element.{{ matrix_domain }}",
	"postgres_connection_hostname": bundledPostgresHost,
}

// A simple reference: one variable name, nothing else.
var (
	refPattern   = regexp.MustCompile(`\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}`)
	wholePattern = regexp.MustCompile(`^\s*\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}\s*$`)
)

func hasJinja(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%") || strings.Contains(s, "{#")
}

// resolver evaluates the simple Jinja references of vars.yml: a variable
// name inside {{ }}, as a whole value or inside a string. Anything else
// (filters, expressions, statements) is left to a person.
type resolver struct {
	vf     *varFile
	done   map[string]resolved
	active []string
}

type resolved struct {
	node *yaml.Node
	err  error
}

func newResolver(vf *varFile) *resolver {
	return &resolver{vf: vf, done: map[string]resolved{}}
}

// variable returns the value of a name with its references resolved.
func (r *resolver) variable(name string) (*yaml.Node, error) {
	if res, ok := r.done[name]; ok {
		return res.node, res.err
	}
	for i, a := range r.active {
		if a == name {
			return nil, fmt.Errorf("its references form a cycle (%s)", strings.Join(append(r.active[i:], name), " → "))
		}
	}
	var src *yaml.Node
	if v, ok := r.vf.byName[name]; ok {
		src = v.node
	} else if def, ok := playbookDefaults[name]; ok {
		src = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: def}
	} else {
		return nil, fmt.Errorf("it refers to %s, which vars.yml does not set", name)
	}
	r.active = append(r.active, name)
	n, err := r.node(src)
	r.active = r.active[:len(r.active)-1]
	r.done[name] = resolved{n, err}
	return n, err
}

// node returns a copy of n with its references resolved.
func (r *resolver) node(n *yaml.Node) (*yaml.Node, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return r.node(n.Alias)
	case yaml.ScalarNode:
		return r.scalar(n)
	case yaml.SequenceNode, yaml.MappingNode:
		out := *n
		out.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				if hasJinja(c.Value) {
					return nil, fmt.Errorf("line %d: a templated mapping key", c.Line)
				}
				out.Content[i] = c
				continue
			}
			rc, err := r.node(c)
			if err != nil {
				return nil, err
			}
			out.Content[i] = rc
		}
		return &out, nil
	}
	return nil, fmt.Errorf("an unexpected YAML node")
}

func (r *resolver) scalar(n *yaml.Node) (*yaml.Node, error) {
	switch n.Tag {
	case "!unsafe":
		// Ansible's marker for a string it must not template.
		out := *n
		out.Tag = "!!str"
		return &out, nil
	case "!vault":
		return nil, fmt.Errorf("it is encrypted with ansible-vault; decrypt it (ansible-vault decrypt_string) and set it by hand")
	case "!!str":
	default:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return nil, fmt.Errorf("it is tagged %s, which matrixgen does not read", n.Tag)
		}
		return n, nil
	}
	if !hasJinja(n.Value) {
		return n, nil
	}
	if m := wholePattern.FindStringSubmatch(n.Value); m != nil {
		v, err := r.variable(m[1])
		if err != nil {
			return nil, err
		}
		out := *v
		out.Line, out.Column = n.Line, n.Column
		return &out, nil
	}
	s, err := r.substitute(n.Value)
	if err != nil {
		return nil, err
	}
	out := *n
	out.Value = s
	out.Style = 0
	return &out, nil
}

// jinjaSpan matches what matrixgen evaluates of Jinja: a raw block, a
// variable name or a quoted string literal (the playbook's docs write
// "{{ '{{ x }}' }}" to pass Jinja through to Synapse, and wrap the mautrix
// bridges' Go templates in {% raw %}). The other alternatives match
// expressions, statements and comments, which it does not evaluate.
var jinjaSpan = regexp.MustCompile(`(?s)` + rawBlock + `|\{\{-?\s*(?:'([^']*)'|"([^"]*)"|([A-Za-z_][A-Za-z0-9_]*))\s*-?\}\}|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}`)

// rawBlock is Jinja's {% raw %}…{% endraw %}: its content is taken as written.
const rawBlock = `\{%-?\s*raw\s*-?%\}(.*?)\{%-?\s*endraw\s*-?%\}`

var rawBlocks = regexp.MustCompile(`(?s)` + rawBlock)

// hasStatement tells whether s holds a Jinja statement other than a raw block.
func hasStatement(s string) bool {
	return strings.Contains(rawBlocks.ReplaceAllString(s, ""), "{%")
}

// unevaluated is a piece of Jinja that expand left alone, and why.
type unevaluated struct {
	text string
	err  error
}

// expand evaluates the Jinja in s that matrixgen understands. Each piece it
// cannot evaluate is replaced by mark(i), i indexing the returned list; text
// that looks like Jinja but does not parse as any is listed with no mark.
func (r *resolver) expand(s string, mark func(i int, text string) string) (string, []unevaluated) {
	var out, rest strings.Builder
	var left []unevaluated
	last := 0
	for _, m := range jinjaSpan.FindAllStringSubmatchIndex(s, -1) {
		out.WriteString(s[last:m[0]])
		rest.WriteString(s[last:m[0]])
		last = m[1]
		text := s[m[0]:m[1]]
		switch {
		case m[2] >= 0:
			out.WriteString(s[m[2]:m[3]])
		case m[4] >= 0:
			out.WriteString(s[m[4]:m[5]])
		case m[6] >= 0:
			out.WriteString(s[m[6]:m[7]])
		case m[8] >= 0:
			name := s[m[8]:m[9]]
			v, err := r.variable(name)
			if err == nil && v.Kind != yaml.ScalarNode {
				err = fmt.Errorf("it puts %s, which is not a single value, inside a string", name)
			}
			if err == nil {
				out.WriteString(v.Value)
				continue
			}
			out.WriteString(mark(len(left), text))
			left = append(left, unevaluated{text, err})
		default:
			out.WriteString(mark(len(left), text))
			left = append(left, unevaluated{text, errComplexJinja})
		}
	}
	out.WriteString(s[last:])
	rest.WriteString(s[last:])
	if hasJinja(rest.String()) {
		left = append(left, unevaluated{"", errComplexJinja})
	}
	return out.String(), left
}

// substitute evaluates all the Jinja in s, or fails with the reason for
// the first piece it cannot.
func (r *resolver) substitute(s string) (string, error) {
	out, left := r.expand(s, func(_ int, text string) string { return text })
	if len(left) > 0 {
		return "", left[0].err
	}
	return out, nil
}

var errComplexJinja = fmt.Errorf("it uses Jinja beyond a plain {{ variable }} (a filter, an expression or a statement), which matrixgen does not evaluate")

// refsIn lists the variable names that n refers to, for spreading the
// secrecy of a secret variable to the variables it is built from.
func refsIn(n *yaml.Node) []string {
	var out []string
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.ScalarNode {
			for _, m := range refPattern.FindAllStringSubmatch(n.Value, -1) {
				out = append(out, m[1])
			}
			// Names inside complex expressions count too.
			for _, m := range identifier.FindAllString(jinjaBodies(n.Value), -1) {
				out = append(out, m)
			}
		}
		walk(n.Alias)
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}

var jinjaBody = regexp.MustCompile(`\{[{%]([^}]*)[}%]\}`)

var identifier = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

func jinjaBodies(s string) string {
	var b strings.Builder
	for _, m := range jinjaBody.FindAllStringSubmatch(s, -1) {
		b.WriteString(m[1] + " ")
	}
	return b.String()
}
