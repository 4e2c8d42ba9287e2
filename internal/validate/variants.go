package validate

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// A variant map is an option whose entries take their schema from a table,
// by their type: bridges.<name> is checked against #BridgeTypes[type]. CUE
// does the checking; this file gives the type itself a clear message, and
// lets the unknown-key walk and explain see each type's options, which a
// pattern constraint hides from them.
type variantMap struct {
	path  string // the option, a top-level key
	table string // the definition in #Config holding a schema per type
	names string // what an entry's name may be, in words
}

var variantMaps = []variantMap{{
	path: "bridges", table: "#BridgeTypes",
	names: "a bridge's name is 2 to 40 lowercase letters, digits and '-', starting with a letter and not ending with '-'",
}, {
	path: "bots", table: "#BotTypes",
	names: "a bot's name is 2 to 40 lowercase letters, digits and '-', starting with a letter and not ending with '-'",
}}

// What the bridges' named patterns accept, in words.
func init() {
	for name, want := range map[string]string{
		"#AppserviceID":  "must be lowercase letters, digits and '_', starting with a letter, at most 32 characters",
		"#Localpart":     "must be a Matrix localpart: lowercase letters, digits, '.', '_', '=' and '-'",
		"#UserPrefix":    "must be lowercase letters, digits, '.', '_', '=' and '-', ending with '_'",
		"#IRCUserPrefix": "must be lowercase letters and digits, ending with '_'",
		"#DatabaseName":  "must be a PostgreSQL name: lowercase letters, digits and '_', not starting with a digit",
		"#MatrixID":      "must be a Matrix user ID such as @admin:example.org",
		"#MatrixRoom":    "must be a room ID such as !abc123:example.org or an alias such as #moderators:example.org",
	} {
		patternDescriptions[name] = want
	}
}

// Variant is a variant map as explain shows it.
type Variant struct {
	Path  string // the option, e.g. "bridges"
	Types []VariantType
}

// VariantType is the schema of one type of a variant map's entries.
type VariantType struct {
	Name   string
	Schema cue.Value
}

// Variants lists the variant maps with the schema of each type, types in
// name order.
func Variants() []Variant {
	var out []Variant
	for _, m := range variantMaps {
		v := Variant{Path: m.path}
		for _, name := range m.typeNames() {
			v.Types = append(v.Types, VariantType{name, m.typeSchema(name)})
		}
		out = append(out, v)
	}
	return out
}

// tableValue is the definition of the types, which #Config holds.
func (m variantMap) tableValue() cue.Value {
	_, def := compiled()
	return def.LookupPath(cue.MakePath(cue.Def(m.table)))
}

func (m variantMap) typeNames() []string {
	var names []string
	it, err := m.tableValue().Fields()
	if err != nil {
		panic(err) // the embedded schema is ours
	}
	for it.Next() {
		names = append(names, it.Selector().Unquoted())
	}
	return dedupeSorted(names)
}

func (m variantMap) typeSchema(name string) cue.Value {
	return m.tableValue().LookupPath(cue.MakePath(cue.Str(name)))
}

// variantFor is the variant map at an option path, if it is one.
func variantFor(path string) (variantMap, bool) {
	for _, m := range variantMaps {
		if m.path == path {
			return m, true
		}
	}
	return variantMap{}, false
}

// checkVariants gives every entry of a variant map a type it knows. An
// entry without one is reported here and left out of the rest of the
// checks, which would only say the same thing less clearly.
func checkVariants(root map[string]any, ix *index) (map[string]any, diag.List) {
	var out diag.List
	pruned := root
	for _, m := range variantMaps {
		entries, ok := root[m.path].(map[string]any)
		if !ok {
			continue // absent, or not a mapping: unification says so
		}
		types := m.typeNames()
		kept := map[string]any{}
		_, def := compiled()
		names := def.LookupPath(cue.MakePath(cue.Str(m.path)))
		for _, name := range sortedKeys(entries) {
			path := joinPath(m.path, name)
			// CUE would say "field not allowed", and stop checking the
			// other entries there.
			if !names.Allows(cue.Str(name)) {
				out = append(out, diag.Diagnostic{Path: path, Summary: "invalid name: " + m.names, Subject: ix.keyAt(path)})
				continue
			}
			if d, ok := checkType(entries[name], path, types, ix); !ok {
				out = append(out, d)
				continue
			}
			kept[name] = entries[name]
		}
		if len(kept) < len(entries) {
			pruned = copyMap(pruned) // the caller's input stays as it was
			pruned[m.path] = kept
		}
	}
	return pruned, out
}

func checkType(entry any, path string, types []string, ix *index) (diag.Diagnostic, bool) {
	one := "one of " + strings.Join(quoteAll(types), ", ")
	fields, ok := entry.(map[string]any)
	if !ok {
		return diag.Diagnostic{Path: path, Summary: "must be a mapping with a type, " + one, Subject: ix.at(path)}, false
	}
	typePath := joinPath(path, "type")
	switch t := fields["type"].(type) {
	case nil:
		return diag.Diagnostic{Path: typePath, Summary: "required option is missing: " + one, Subject: ix.keyAt(path)}, false
	case string:
		for _, known := range types {
			if t == known {
				return diag.Diagnostic{}, true
			}
		}
		d := diag.Diagnostic{Path: typePath, Summary: fmt.Sprintf("invalid value %q: must be %s", t, one), Subject: ix.at(typePath)}
		if near := diag.DidYouMean(t, types); near != "" {
			d.Detail = fmt.Sprintf("did you mean %q?", near)
		}
		return d, false
	default:
		return diag.Diagnostic{Path: typePath, Summary: "must be a string, " + one, Subject: ix.at(typePath)}, false
	}
}

// variantKeys reports the unknown keys of a variant map's entries, each
// against the schema of its type.
func variantKeys(m variantMap, entries map[string]any, path string, ix *index) diag.List {
	var out diag.List
	for _, name := range sortedKeys(entries) {
		fields, _ := entries[name].(map[string]any)
		typ, _ := fields["type"].(string)
		schema := m.typeSchema(typ)
		if !schema.Exists() {
			continue // reported by checkVariants
		}
		out = append(out, unknownKeys(schema, fields, joinPath(path, name), ix)...)
	}
	return out
}

// decodeVariants gives each decoded bridge and bot all of its options, for
// the component of its type to read.
func decodeVariants(unified cue.Value, cfg *config.Config) {
	for name, b := range cfg.Bridges {
		b.Options = entryOptions(unified, "bridges", name)
		cfg.Bridges[name] = b
	}
	for name, b := range cfg.Bots {
		b.Options = entryOptions(unified, "bots", name)
		cfg.Bots[name] = b
	}
}

func entryOptions(unified cue.Value, path, name string) config.Options {
	var opts config.Options
	if err := unified.LookupPath(cue.MakePath(cue.Str(path), cue.Str(name))).Decode(&opts); err != nil {
		panic(fmt.Sprintf("%s.%s does not decode: %v", path, name, err))
	}
	return opts
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
