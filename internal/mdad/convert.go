package mdad

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A converter turns a resolved vars.yml value into the value of a matrixgen
// option, or says why it cannot.
type converter func(*yaml.Node) (*yaml.Node, error)

// errEmpty marks a value the playbook treats as unset.
var errEmpty = errors.New("empty")

func scalarText(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("it is not a single value")
	}
	if n.Tag == "!!null" || n.Value == "" {
		return "", errEmpty
	}
	return n.Value, nil
}

func str(n *yaml.Node) (*yaml.Node, error) {
	s, err := scalarText(n)
	if err != nil {
		return nil, err
	}
	return strNode(s), nil
}

func boolean(n *yaml.Node) (*yaml.Node, error) {
	b, err := toBool(n)
	if err != nil {
		return nil, err
	}
	return boolNode(b), nil
}

// toBool reads a boolean as Ansible does: PyYAML reads YAML 1.1, where
// yes/no and on/off are booleans too.
func toBool(n *yaml.Node) (bool, error) {
	s, err := scalarText(n)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}

func integer(n *yaml.Node) (*yaml.Node, error) {
	s, err := scalarText(n)
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a whole number", s)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}, nil
}

func number(n *yaml.Node) (*yaml.Node, error) {
	s, err := scalarText(n)
	if err != nil {
		return nil, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(f, 'f', -1, 64)}, nil
}

func stringList(n *yaml.Node) (*yaml.Node, error) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "") {
		return nil, errEmpty
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("it is not a list")
	}
	out := &yaml.Node{Kind: yaml.SequenceNode}
	for _, item := range n.Content {
		s, err := scalarText(item)
		if err != nil {
			return nil, fmt.Errorf("an item of the list: %v", err)
		}
		out.Content = append(out.Content, strNode(s))
	}
	return out, nil
}

// choice maps a boolean onto two values of an enum option.
func choice(ifTrue, ifFalse string) converter {
	return func(n *yaml.Node) (*yaml.Node, error) {
		b, err := toBool(n)
		if err != nil {
			return nil, err
		}
		if b {
			return strNode(ifTrue), nil
		}
		return strNode(ifFalse), nil
	}
}

// yaml11Special matches plain scalars that YAML 1.1 readers take for
// something other than a string.
var yaml11Special = regexp.MustCompile(`^(?i:y|yes|n|no|true|false|on|off|null|~|[-+]?\.?[0-9][0-9_:.eE+-]*|[-+]?\.(inf|nan)|0x[0-9a-f_]+|0b[01_]+)$`)

func strNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if yaml11Special.MatchString(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func intNode(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}
