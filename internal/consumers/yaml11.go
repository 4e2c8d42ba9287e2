package consumers

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// YAML 1.1 implicit types of plain scalars, as PyYAML's resolver applies
// them (yaml/resolver.py), since PyYAML is what reads homeserver.yaml. The
// YAML 1.1 bool type also lists y/Y/n/N; PyYAML leaves those out, other 1.1
// readers do not, so they count here too.
var (
	yaml11Bool  = regexp.MustCompile(`^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	yaml11Int   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yaml11Float = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	yaml11Null  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	yaml11Time  = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
)

// yaml11Tag is the type a YAML 1.1 reader gives an untagged plain scalar.
// "=" is PyYAML's "value" type, which its safe loader refuses to load.
func yaml11Tag(s string) string {
	switch {
	case yaml11Bool.MatchString(s):
		return "!!bool"
	case yaml11Int.MatchString(s):
		return "!!int"
	case yaml11Float.MatchString(s):
		return "!!float"
	case yaml11Null.MatchString(s):
		return "!!null"
	case yaml11Time.MatchString(s):
		return "!!timestamp"
	case s == "<<":
		return "!!merge"
	case s == "=":
		return "!!value"
	}
	return "!!str"
}

// yaml11Problems lists every plain scalar, key or value, whose type or
// value under YAML 1.1 differs from what go.yaml.in/yaml/v3 (YAML 1.2)
// resolved. Quoted, block and explicitly tagged scalars mean the same in
// both. Besides the famous "on"/"no" booleans this finds 12:30 (an integer
// in base 60 for YAML 1.1), 1e+06 (a string for YAML 1.1, which wants a dot
// in a float, yet what yaml.v3 writes for float64(1000000)) and 010 (octal).
func yaml11Problems(n *yaml.Node) []string {
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Style == 0 {
			if msg := yaml11Mismatch(n); msg != "" {
				out = append(out, fmt.Sprintf("%d:%d: %s", n.Line, n.Column, msg))
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}

func yaml11Mismatch(n *yaml.Node) string {
	v12, v11 := n.ShortTag(), yaml11Tag(n.Value)
	if v12 != v11 {
		return fmt.Sprintf("plain %q is %s in YAML 1.1 (PyYAML, which Synapse uses) but %s in YAML 1.2; quote it or write it in a form both agree on", n.Value, v11, v12)
	}
	if v12 == "!!int" {
		var got int64
		want, err11 := yaml11IntValue(n.Value)
		if err := n.Decode(&got); err != nil || err11 != nil || got != want {
			return fmt.Sprintf("plain %q is a different integer in YAML 1.1 (PyYAML, which Synapse uses) than in YAML 1.2; write it in decimal", n.Value)
		}
	}
	return ""
}

// yaml11IntValue follows PyYAML's construct_yaml_int.
func yaml11IntValue(s string) (int64, error) {
	s = strings.ReplaceAll(s, "_", "")
	sign := int64(1)
	switch {
	case strings.HasPrefix(s, "-"):
		sign, s = -1, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	var v int64
	var err error
	switch {
	case s == "0":
		return 0, nil
	case strings.HasPrefix(s, "0b"):
		v, err = strconv.ParseInt(s[2:], 2, 64)
	case strings.HasPrefix(s, "0x"):
		v, err = strconv.ParseInt(s[2:], 16, 64)
	case strings.HasPrefix(s, "0"):
		v, err = strconv.ParseInt(s[1:], 8, 64)
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			d, perr := strconv.ParseInt(part, 10, 64)
			if perr != nil {
				return 0, perr
			}
			v = v*60 + d
		}
	default:
		v, err = strconv.ParseInt(s, 10, 64)
	}
	return sign * v, err
}
