package consumers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/diag"
)

// The schemas are upstream files kept in the shared checkout beside the
// repository, not in it: Synapse's is AGPL and must never be embedded in the
// binary, so only tests read it, from disk.
const (
	synapseSchemaFile     = "synapse-config.schema.yaml"
	synapseMetaSchemaFile = "synapse-config-meta-v1.schema.json"
	// synapseMetaSchemaURL is the $schema of Synapse's config schema. It is
	// served from a local copy so that validation never needs the network.
	synapseMetaSchemaURL = "https://element-hq.github.io/synapse/latest/schema/v1/meta.schema.json"
	traefikSchemaFile    = "traefik-v3-file-provider.json"
	// masSchemaFile is MAS's published config schema, kept in this
	// package's testdata (SOURCES.md there): AGPL, so test-only too.
	masSchemaFile = "mas-config.schema.json"
)

// SynapseSchema checks a homeserver.yaml against Synapse's own config
// schema (../shared/schemas/synapse-config.schema.yaml from the repository
// root), plus two things the schema does not catch:
//
//   - a top-level key the schema does not define: the schema allows unknown
//     keys, so a misspelt option would otherwise pass and be ignored by
//     Synapse;
//   - a plain scalar that YAML 1.1 reads differently from YAML 1.2: Synapse
//     loads its config with PyYAML, a YAML 1.1 parser, so an unquoted "on"
//     is the boolean true there and the string "on" for a YAML 1.2 reader.
//
// A missing schema file skips the test (fails under CI=true).
func SynapseSchema(t testing.TB, yamlBytes []byte) {
	t.Helper()
	sch := loadSchema(t, synapseSchemaFile)
	if problems := synapseProblems(sch, yamlBytes); len(problems) > 0 {
		t.Errorf("homeserver.yaml is not a valid Synapse config (%d problems):\n%s", len(problems), indent(strings.Join(problems, "\n")))
	}
}

// TraefikSchema checks a Traefik dynamic configuration for the file
// provider against ../shared/schemas/traefik-v3-file-provider.json. That
// schema forbids unknown keys itself. A missing schema file skips the test
// (fails under CI=true).
func TraefikSchema(t testing.TB, yamlBytes []byte) {
	t.Helper()
	sch := loadSchema(t, traefikSchemaFile)
	if problems := traefikProblems(sch, yamlBytes); len(problems) > 0 {
		t.Errorf("Traefik dynamic config does not match the file provider schema (%d problems):\n%s", len(problems), indent(strings.Join(problems, "\n")))
	}
}

func synapseProblems(sch *schema, yamlBytes []byte) []string {
	doc, err := parseOneDocument(yamlBytes)
	if err != nil {
		return []string{err.Error()}
	}
	problems := sch.validate(doc)
	problems = append(problems, sch.unknownTopLevelKeys(doc)...)
	return append(problems, yaml11Problems(doc)...)
}

// schema is one compiled upstream schema with the names of its top-level
// properties.
type schema struct {
	doc       any // the schema as read, for the key walk of MASSchema
	compiled  *jsonschema.Schema
	topLevel  map[string]bool
	sortedTop []string
}

type loadedSchema struct {
	sch *schema
	err error
}

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]loadedSchema{}
)

// loadSchema compiles a schema from the shared schemas folder once per test
// binary.
func loadSchema(t testing.TB, name string) *schema {
	t.Helper()
	dir, err := sharedSchemasDir()
	if err != nil {
		t.Fatalf("locating schemas: %v", err)
	}
	return loadSchemaFrom(t, dir, name)
}

func loadSchemaFrom(t testing.TB, dir, name string) *schema {
	t.Helper()
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		unavailable(t, fmt.Sprintf("schema %s not found (%v); it belongs to the shared checkout next to the repository, ../shared/schemas", name, err))
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	l, ok := schemaCache[path]
	if !ok {
		l.sch, l.err = compileSchema(dir, name)
		schemaCache[path] = l
	}
	if l.err != nil {
		t.Fatalf("compiling %s: %v", name, l.err)
	}
	return l.sch
}

// sharedSchemasDir finds ../shared/schemas from the repository root, the
// nearest directory above the working directory that has a go.mod. Tests run
// in their package's directory, so this works from any package.
func sharedSchemasDir() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(root), "shared", "schemas"), nil
}

// repoRoot is the nearest directory above the working directory that has
// a go.mod.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("no go.mod in %s or above", wd)
		}
	}
}

func compileSchema(dir, name string) (*schema, error) {
	path := filepath.Join(dir, name)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Both schema files are read as YAML: JSON is YAML, and the Synapse
	// schema is written in YAML.
	doc, err := jsonValueFromYAML(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(offlineLoader{})
	if name == synapseSchemaFile {
		metaPath := filepath.Join(dir, synapseMetaSchemaFile)
		f, err := os.Open(metaPath)
		if err != nil {
			return nil, err
		}
		meta, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", synapseMetaSchemaFile, err)
		}
		if err := c.AddResource(synapseMetaSchemaURL, meta); err != nil {
			return nil, err
		}
	}
	// The schema is registered under its file path, not its $id, so that
	// every error message points at the file that was read.
	loc := "file://" + filepath.ToSlash(path)
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	compiled, err := c.Compile(loc)
	if err != nil {
		return nil, err
	}
	s := &schema{compiled: compiled, topLevel: map[string]bool{}, doc: doc}
	if m, ok := doc.(map[string]any); ok {
		if props, ok := m["properties"].(map[string]any); ok {
			for k := range props {
				s.topLevel[k] = true
				s.sortedTop = append(s.sortedTop, k)
			}
		}
	}
	sort.Strings(s.sortedTop)
	return s, nil
}

// offlineLoader refuses every URL that was not registered up front, so a
// schema that grows a remote $ref fails loudly instead of reaching out.
type offlineLoader struct{}

func (offlineLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not available offline; add a local copy to ../shared/schemas and register it", url)
}

func traefikProblems(sch *schema, yamlBytes []byte) []string {
	doc, err := parseOneDocument(yamlBytes)
	if err != nil {
		return []string{err.Error()}
	}
	return sch.validate(doc)
}

// parseOneDocument parses YAML that must hold exactly one document: both
// consumers read only the first, so a second one would be dead text.
func parseOneDocument(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%d:%d: a second YAML document; the consumer reads only the first", extra.Line, extra.Column)
	}
	return &doc, nil
}

// validate checks doc against the schema and returns one line per leaf
// error, with the line and column of the offending value.
func (s *schema) validate(doc *yaml.Node) []string {
	conv := converter{nodes: map[string]*yaml.Node{}}
	v, err := conv.value(doc, nil)
	if err != nil {
		return []string{err.Error()}
	}
	err = s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var out []string
	seen := map[string]bool{}
	for _, leaf := range leaves(ve, nil) {
		msg := leafMessage(leaf)
		ptr := jsonPointer(leaf.InstanceLocation)
		if ptr == "" {
			ptr = "/"
		}
		line := fmt.Sprintf("%s: %s", ptr, msg)
		if n := conv.nodes[strings.Join(leaf.InstanceLocation, "\x00")]; n != nil {
			line = fmt.Sprintf("%d:%d: %s", n.Line, n.Column, line)
		}
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return out
}

// leaves flattens the error tree. The inner nodes only say "oneOf failed"
// or "allOf failed"; the leaves say what is wrong with which value.
func leaves(e *jsonschema.ValidationError, acc []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(acc, e)
	}
	for _, c := range e.Causes {
		acc = leaves(c, acc)
	}
	return acc
}

// leafMessage is the library's text for one error without its "at '/x': "
// prefix, which we replace with a position. The library renders messages only
// through x/text printers; going through Error() keeps that out of our
// imports.
func leafMessage(e *jsonschema.ValidationError) string {
	alone := *e
	alone.Causes = nil
	msg := alone.Error()
	quoted := fmt.Sprintf("%q", jsonPointer(e.InstanceLocation))
	quoted = strings.ReplaceAll(quoted, `\"`, `"`)
	quoted = "'" + strings.ReplaceAll(quoted[1:len(quoted)-1], `'`, `\'`) + "'"
	if rest, ok := strings.CutPrefix(msg, "at "+quoted+": "); ok {
		return rest
	}
	return msg
}

func jsonPointer(tokens []string) string {
	var sb strings.Builder
	for _, tok := range tokens {
		sb.WriteByte('/')
		sb.WriteString(strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
	}
	return sb.String()
}

// synapseUndocumented are options Synapse reads that its config schema
// leaves out on purpose, each with where Synapse reads it.
var synapseUndocumented = map[string]string{
	// MatrixRTC's flags (msc4143_enabled, msc4222_enabled, msc4354_enabled);
	// experimental features are kept out of the documentation.
	"experimental_features": "synapse/config/experimental.py, ExperimentalConfig.read_config",
}

func (s *schema) unknownTopLevelKeys(doc *yaml.Node) []string {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if s.topLevel[k.Value] || synapseUndocumented[k.Value] != "" {
			continue
		}
		msg := fmt.Sprintf("%d:%d: %s: not an option in Synapse's config schema", k.Line, k.Column, k.Value)
		if near := diag.DidYouMean(k.Value, s.sortedTop); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		out = append(out, msg)
	}
	return out
}

// jsonValueFromYAML decodes a single YAML document into JSON values.
func jsonValueFromYAML(b []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	conv := converter{nodes: map[string]*yaml.Node{}}
	return conv.value(&doc, nil)
}

// converter turns a YAML node tree into the values JSON Schema describes
// (map[string]any, []any, string, int64/uint64/float64, bool, nil) and
// remembers which node each value came from, keyed by its path, so that an
// error can name a line and column.
type converter struct {
	nodes map[string]*yaml.Node
	depth int
}

func (c *converter) value(n *yaml.Node, path []string) (any, error) {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > 10000 {
		return nil, fmt.Errorf("%d:%d: nesting too deep (alias loop?)", n.Line, n.Column)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty document")
		}
		return c.value(n.Content[0], path)
	case yaml.AliasNode:
		return c.value(n.Alias, path)
	}
	c.nodes[strings.Join(path, "\x00")] = n
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				// PyYAML and Go would disagree on what such a key is, and a
				// JSON Schema cannot describe it; no generated file needs one.
				return nil, fmt.Errorf("%d:%d: mapping key %q is %s, not a string", k.Line, k.Column, k.Value, k.ShortTag())
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("%d:%d: duplicate key %q", k.Line, k.Column, k.Value)
			}
			val, err := c.value(v, append(path[:len(path):len(path)], k.Value))
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			val, err := c.value(item, append(path[:len(path):len(path)], fmt.Sprint(i)))
			if err != nil {
				return nil, err
			}
			s[i] = val
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp", "!!binary":
			// A timestamp stays text: JSON has no date type, and the schema
			// types such options as strings.
			return n.Value, nil
		case "!!null":
			return nil, nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("%d:%d: %v", n.Line, n.Column, err)
			}
			return v, nil
		}
		return nil, fmt.Errorf("%d:%d: tag %s is not understood by this check", n.Line, n.Column, n.Tag)
	}
	return nil, fmt.Errorf("%d:%d: unexpected YAML node kind %v", n.Line, n.Column, n.Kind)
}
