package pipeline

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// TestHomeserverTOMLKeys holds every key of the generated continuwuity.toml
// and tuwunel.toml to the program's own example config (testdata/
// homeservers, SOURCE says which): the key must be documented in the same
// table, with a value of the same TOML type where the example gives one.
// The files are read back with a TOML parser, which also proves them TOML.
func TestHomeserverTOMLKeys(t *testing.T) {
	for _, name := range []string{"continuwuity", "tuwunel"} {
		documented := exampleKeys(t, filepath.Join("testdata", "homeservers", name+"-example.toml"))
		files, _ := filepath.Glob(filepath.Join(repoRoot(t), "golden", "*", "matrix", name, "config", name+".toml"))
		if len(files) == 0 {
			t.Fatalf("no golden %s.toml: examples/%s.yaml should make one", name, name)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := toml.Unmarshal(data, &v); err != nil {
				t.Fatalf("%s: not TOML: %v", file, err)
			}
			for key, value := range flattenTOML("", v) {
				want, ok := documented[key]
				if !ok {
					t.Errorf("%s: %s is not in %s's example config", file, key, name)
					continue
				}
				if got := tomlType(value); want != "" && got != want {
					t.Errorf("%s: %s is a %s; the example has a %s", file, key, got, want)
				}
			}
		}
	}
}

var (
	exampleTable = regexp.MustCompile(`^#?\[([a-z0-9_.]+)\]\s*$`)
	exampleKey   = regexp.MustCompile(`^#?([a-z0-9_]+) =\s*(.*)$`)
)

// exampleKeys reads an example config whose keys are commented out:
// table.key → the TOML type of its example value ("" where it gives none).
func exampleKeys(t *testing.T, file string) map[string]string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys, table := map[string]string{}, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := exampleTable.FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		if m := exampleKey.FindStringSubmatch(line); m != nil && table != "" {
			keys[table+"."+m[1]] = exampleType(m[2])
		}
	}
	if len(keys) < 100 {
		t.Fatalf("%s: only %d keys read; is it the example config?", file, len(keys))
	}
	return keys
}

func exampleType(text string) string {
	var v map[string]any
	if text == "" || toml.Unmarshal([]byte("x = "+text), &v) != nil {
		return "" // no value, or one in words ("24 MiB")
	}
	return tomlType(v["x"])
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case int64:
		return "integer"
	case float64:
		return "float"
	case []any:
		return "array"
	}
	return "other"
}

func flattenTOML(prefix string, m map[string]any) map[string]any {
	out := map[string]any{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := strings.TrimPrefix(prefix+"."+k, ".")
		if sub, ok := m[k].(map[string]any); ok {
			for k2, v2 := range flattenTOML(path, sub) {
				out[k2] = v2
			}
			continue
		}
		out[path] = m[k]
	}
	return out
}
