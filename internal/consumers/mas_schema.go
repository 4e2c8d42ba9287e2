package consumers

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/diag"
)

// MASSchema checks a Matrix Authentication Service config.yaml against the
// schema MAS publishes (testdata/mas-config.schema.json, MAS 1.22.0), and
// every mapping key against the properties the schema defines there: the
// schema sets no additionalProperties, so a misspelt key would pass it.
func MASSchema(t testing.TB, yamlBytes []byte) {
	t.Helper()
	dir, err := repoRoot()
	if err != nil {
		t.Fatalf("locating the repository: %v", err)
	}
	sch := loadSchemaFrom(t, filepath.Join(dir, "internal", "consumers", "testdata"), masSchemaFile)
	if problems := masProblems(sch, yamlBytes); len(problems) > 0 {
		t.Errorf("config.yaml is not a valid MAS config (%d problems):\n%s", len(problems), indent(strings.Join(problems, "\n")))
	}
}

func masProblems(sch *schema, yamlBytes []byte) []string {
	doc, err := parseOneDocument(yamlBytes)
	if err != nil {
		return []string{err.Error()}
	}
	problems := sch.validate(doc)
	root, _ := sch.doc.(map[string]any)
	k := keyWalk{definitions: asObject(root["definitions"])}
	k.walk(doc, root, "")
	return append(problems, k.problems...)
}

// keyWalk follows the document and the schema together through objects
// whose schema is plain (properties, possibly behind $ref or allOf), and
// reports keys those properties lack. Where the schema branches (anyOf,
// oneOf) it stops: which branch applies is the validator's business.
type keyWalk struct {
	definitions map[string]any
	problems    []string
}

func (k *keyWalk) walk(n *yaml.Node, sch map[string]any, path string) {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	sch = k.resolve(sch)
	if sch == nil {
		return
	}
	switch n.Kind {
	case yaml.SequenceNode:
		items := asObject(sch["items"])
		for i, item := range n.Content {
			k.walk(item, items, fmt.Sprintf("%s/%d", path, i))
		}
	case yaml.MappingNode:
		props := asObject(sch["properties"])
		if props == nil {
			return
		}
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		sort.Strings(names)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			prop, ok := props[key.Value]
			if !ok {
				msg := fmt.Sprintf("%d:%d: %s/%s: not an option in MAS's config schema", key.Line, key.Column, path, key.Value)
				if near := diag.DidYouMean(key.Value, names); near != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", near)
				}
				k.problems = append(k.problems, msg)
				continue
			}
			k.walk(value, asObject(prop), path+"/"+key.Value)
		}
	}
}

// resolve follows $ref and a single-entry allOf (how the schema wraps a
// reference with a description); nil for a schema that branches.
func (k *keyWalk) resolve(sch map[string]any) map[string]any {
	for range 16 {
		if sch == nil {
			return nil
		}
		if ref, ok := sch["$ref"].(string); ok {
			sch = asObject(k.definitions[strings.TrimPrefix(ref, "#/definitions/")])
			continue
		}
		if all, ok := sch["allOf"].([]any); ok && len(all) == 1 {
			sch = asObject(all[0])
			continue
		}
		if _, ok := sch["anyOf"]; ok {
			return nil
		}
		if _, ok := sch["oneOf"]; ok {
			return nil
		}
		return sch
	}
	return nil
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
