// Package dendrite checks the dendrite.yaml files of the golden trees with
// Dendrite's own configuration code (v0.13.8, Apache-2.0): a module of
// its own, as tools/traefik is, so that Dendrite's dependencies stay out
// of matrixgen's go.mod. Run: cd tools/dendrite && go test ./...
package dendrite

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matrix-org/dendrite/setup/config"
	"gopkg.in/yaml.v2"
)

// TestGoldenDendriteConfigs decodes every golden dendrite.yaml strictly
// into Dendrite's config structs (a key Dendrite does not know fails),
// then loads it as Dendrite starts (defaults, the signing key, the
// appservice registrations) and runs Dendrite's own Verify.
func TestGoldenDendriteConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../golden/*/matrix/dendrite/config/dendrite.yaml")
	if len(files) == 0 {
		t.Fatal("no golden dendrite.yaml: examples/dendrite.yaml should make one")
	}
	for _, file := range files {
		t.Run(strings.Split(file, "/")[3], func(t *testing.T) { checkConfig(t, file) })
	}
}

func checkConfig(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var strict config.Dendrite
	strict.Defaults(config.DefaultOpts{Generate: false, SingleDatabase: true})
	if err := yaml.UnmarshalStrict(data, &strict); err != nil {
		t.Fatalf("%s: keys Dendrite does not read: %v", file, err)
	}
	// The container's paths become a temporary directory's: the key and
	// every registration the golden tree holds.
	dir := t.TempDir()
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	global := raw["global"].(map[any]any)
	global["private_key"] = writeKey(t, dir)
	tree := filepath.Dir(filepath.Dir(filepath.Dir(file))) // the tree's /matrix
	as := raw["app_service_api"].(map[any]any)
	var regs []any
	for _, target := range asList(as["config_files"]) {
		id := strings.TrimSuffix(filepath.Base(target), ".yaml")
		host := filepath.Join(tree, id, "config", "registration.yaml")
		if _, err := os.Stat(host); err != nil {
			host = filepath.Join(tree, "appservice-"+id, "registration.yaml")
		}
		regs = append(regs, host)
	}
	as["config_files"] = regs
	out, err := yaml.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dendrite.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("%s: Dendrite does not load it: %v", file, err)
	}
	// The flag Dendrite's command line sets, read from the unit the
	// golden tree runs it with.
	unit, err := os.ReadFile(filepath.Join(filepath.Dir(tree), "etc", "systemd", "system", "matrix-dendrite.service"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientAPI.OpenRegistrationWithoutVerificationEnabled = strings.Contains(string(unit), "--really-enable-open-registration")
	var problems config.ConfigErrors
	cfg.Verify(&problems)
	if len(problems) > 0 {
		t.Fatalf("%s: Dendrite's checks: %v", file, problems)
	}
	if got := string(cfg.Global.ServerName); got != "example.org" {
		t.Errorf("server_name = %q", got)
	}
	if len(regs) > 0 && len(cfg.Derived.ApplicationServices) != len(regs) {
		t.Errorf("%d appservices loaded, want %d", len(cfg.Derived.ApplicationServices), len(regs))
	}
}

func asList(v any) []string {
	var out []string
	items, _ := v.([]any)
	for _, item := range items {
		out = append(out, item.(string))
	}
	return out
}

// writeKey writes a key in the form install.sh makes: a PEM block of a
// 32-byte seed with its Key-ID header.
func writeKey(t *testing.T, dir string) string {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "MATRIX PRIVATE KEY", Headers: map[string]string{"Key-ID": "ed25519:a_test"}, Bytes: seed})
	path := filepath.Join(dir, "signing.key")
	if err := os.WriteFile(path, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
