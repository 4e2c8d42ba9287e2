package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestRenamedOptionsSameBundle: an example written with the old names of
// the shared options (synapse.*, and traefik.federation_port for the
// federation port) builds the very bundle its current form builds, and
// says so with one warning per old name.
func TestRenamedOptionsSameBundle(t *testing.T) {
	for _, name := range []string{"full", "continuwuity", "bridges", "specialized"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("examples", name+".yaml")
			data, err := os.ReadFile(filepath.Join(repoRoot(t), path))
			if err != nil {
				t.Fatal(err)
			}
			old, oldNames := withOldNames(t, data)
			if len(oldNames) == 0 {
				t.Fatal("the example sets no shared option; the test would prove nothing")
			}
			res, problems := Run(path, old)
			if len(problems) > 0 {
				t.Fatalf("%s with old names does not build:\n%s\n%s", path, problems, old)
			}
			var warned []string
			for _, w := range res.Warnings {
				warned = append(warned, w.Path)
			}
			slices.Sort(warned)
			slices.Sort(oldNames)
			if !slices.Equal(warned, oldNames) {
				t.Errorf("warnings at %q, want one at each old name %q", warned, oldNames)
			}
			requireSameTree(t, path, buildExample(t, name).Tree, "the same config under the old names", res.Tree)
		})
	}
}

// withOldNames writes the shared options of homeserver.* under the names
// they had before: synapse.<option>, and traefik.federation_port for
// homeserver.federation.port, so that the rename and the old chain both
// take part. It returns the old names it wrote.
func withOldNames(t *testing.T, data []byte) ([]byte, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	homeserver := mappingValue(root, "homeserver")
	if homeserver == nil {
		return data, nil
	}
	synapse := ensureMapping(root, "synapse")
	var names []string
	for _, key := range []string{"registration", "max_upload_size_mb", "presence", "federation",
		"trusted_key_servers", "auto_join_rooms", "turn"} {
		value := takeKey(homeserver, key)
		if value == nil {
			continue
		}
		if key == "federation" {
			if port := takeKey(value, "port"); port != nil {
				traefik := ensureMapping(root, "traefik")
				traefik.Content = append(traefik.Content, scalarKey("federation_port"), port)
				names = append(names, "traefik.federation_port")
			}
			if len(value.Content) == 0 {
				continue
			}
		}
		synapse.Content = append(synapse.Content, scalarKey(key), value)
		names = append(names, "synapse."+key)
	}
	return encodeNode(t, &doc), names
}

// takeKey removes key from the mapping m and returns its value.
func takeKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			value := m.Content[i+1]
			m.Content = slices.Delete(m.Content, i, i+2)
			return value
		}
	}
	return nil
}

func ensureMapping(m *yaml.Node, key string) *yaml.Node {
	if v := mappingValue(m, key); v != nil {
		return v
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, scalarKey(key), v)
	return v
}

func scalarKey(key string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
}
