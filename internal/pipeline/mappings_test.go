package pipeline

import (
	"encoding/json"
	"path"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/compile"
)

// TestMappingsLand holds the option table (compile/mappings.go), which
// explain shows, against the bundles: in every example that writes a
// row's file, the row's key is in it; and in at least one example it
// holds the value the row gives (others may change it through extra).
func TestMappingsLand(t *testing.T) {
	rows := compile.Mappings()
	if len(rows) < 10 {
		t.Fatalf("only %d rows in the option table", len(rows))
	}
	matched := make([]bool, len(rows))
	for _, name := range exampleNames(t) {
		res := buildExample(t, name)
		for i, m := range rows {
			want := m.Value(res.Config)
			entry, written := res.Tree[strings.TrimPrefix(path.Join(res.Config.Host.DataDir, m.File), "/")]
			if !written || want == nil {
				continue
			}
			got, found := lookupKey(t, m.File, entry.Data, m.Key)
			if !found {
				t.Errorf("%s: %s maps to %s %s, which the file does not hold", name, m.Option, m.File, m.KeyString())
				continue
			}
			if asJSON(t, got) == asJSON(t, want) {
				matched[i] = true
			}
		}
	}
	for i, m := range rows {
		if !matched[i] {
			t.Errorf("%s -> %s %s: no example's file holds the value the row gives", m.Option, m.File, m.KeyString())
		}
	}
}

// lookupKey reads a YAML or JSON file (JSON is YAML too) and follows key.
func lookupKey(t *testing.T, file string, data []byte, key []string) (any, bool) {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, k := range key {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = m[k]; !ok {
			return nil, false
		}
	}
	return doc, true
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
