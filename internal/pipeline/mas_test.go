package pipeline

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// masConfigPath is MAS's config.yaml in a bundle, where MDAD keeps it.
const masConfigPath = "/matrix-authentication-service/config/config.yaml"

// checkMAS holds every MAS config.yaml of a bundle against the schema MAS
// publishes, and follows each file it names (*_file) through the
// container's mounts to a file install.sh makes: a path that leads nowhere
// is a service that does not start.
func (b *consumerBundle) checkMAS(t *testing.T) {
	configs := b.paths(func(p string) bool { return strings.HasSuffix("/"+p, masConfigPath) })
	if b.res.Plan.AuthService == nil {
		if len(configs) > 0 {
			t.Errorf("%q without MAS in the plan", configs)
		}
		return
	}
	if len(configs) != 1 {
		t.Fatalf("MAS configs %q, want one", configs)
	}
	p := configs[0]
	consumers.MASSchema(t, b.filled[p].Data)
	mas, ok := b.service(b.res.Plan.AuthService.Unit)
	if !ok {
		t.Fatalf("no unit %s", b.res.Plan.AuthService.Unit)
	}
	var doc any
	if err := yaml.Unmarshal(b.filled[p].Data, &doc); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	collectFileOptions(doc, "", files)
	if len(files) == 0 {
		t.Fatalf("%s names no files: its secrets would be in it", p)
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		host, _, ok := hostSource(mas, files[k])
		switch {
		case !ok:
			t.Errorf("%s: %s: %q is on no mount of %s", p, k, files[k], mas.Unit)
		case !b.existsOnHost(host):
			t.Errorf("%s: %s: %q is %s on the host, which install.sh does not create", p, k, files[k], host)
		}
	}
	if _, _, ok := hostSource(mas, b.res.Plan.AuthService.ConfigFile); !ok {
		t.Errorf("the unit does not mount %s", b.res.Plan.AuthService.ConfigFile)
	}
}

// collectFileOptions finds the options of MAS's config that name a file.
func collectFileOptions(v any, at string, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && strings.HasSuffix(k, "_file") {
				out[at+"/"+k] = s
				continue
			}
			collectFileOptions(val, at+"/"+k, out)
		}
	case []any:
		for i, val := range x {
			collectFileOptions(val, fmt.Sprintf("%s/%d", at, i), out)
		}
	}
}

// TestMASSynapseSecretShared: Synapse and MAS read one shared secret,
// each through its own mount of the same host file.
func TestMASSynapseSecretShared(t *testing.T) {
	res := buildExample(t, "modern")
	var hs, mas map[string]any
	for p, e := range res.Tree {
		switch {
		case strings.HasSuffix(p, "/synapse/config/homeserver.yaml"):
			mustYAML(t, e.Data, &hs)
		case strings.HasSuffix("/"+p, masConfigPath):
			mustYAML(t, e.Data, &mas)
		}
	}
	synapseSide := hs["matrix_authentication_service"].(map[string]any)["secret_path"].(string)
	masSide := mas["matrix"].(map[string]any)["secret_file"].(string)
	hostOf := func(unit, target string) string {
		for _, s := range res.Plan.Services {
			if s.Unit == unit {
				if h, _, ok := hostSource(s, target); ok {
					return h
				}
			}
		}
		t.Fatalf("%s does not mount %s", unit, target)
		return ""
	}
	a, c := hostOf("matrix-synapse", synapseSide), hostOf(res.Plan.AuthService.Unit, masSide)
	if a != c || path.Dir(a) != res.Plan.Host.SecretsDir {
		t.Errorf("Synapse reads %s, MAS reads %s: want one file in %s", a, c, res.Plan.Host.SecretsDir)
	}
	for k, want := range map[string]any{"enable_registration": false, "enable_3pid_changes": false} {
		if hs[k] != want {
			t.Errorf("homeserver.yaml %s = %v, want %v", k, hs[k], want)
		}
	}
	if pc, _ := hs["password_config"].(map[string]any); pc["enabled"] != false {
		t.Errorf("password_config = %v: Synapse refuses its password logins beside MAS", hs["password_config"])
	}
	if _, ok := hs["oidc_providers"]; ok {
		t.Error("oidc_providers beside MAS: Synapse refuses SSO of its own")
	}
	for _, s := range res.Plan.Secrets {
		if strings.HasPrefix(s.Name, "mas-signing-key-") && s.Kind != plan.RSAKey && s.Kind != plan.ECKey {
			t.Errorf("secret %s is of kind %d, want a key made once by openssl", s.Name, s.Kind)
		}
	}
}

func mustYAML(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// checkECKey parses a key as MAS does (PKCS#8 PEM, as openssl genpkey
// writes it) and checks its curve.
func checkECKey(data string) error {
	block, rest := pem.Decode([]byte(data))
	if block == nil || strings.TrimSpace(string(rest)) != "" || block.Type != "PRIVATE KEY" {
		return fmt.Errorf("not one PKCS#8 PEM block: %q", data)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return fmt.Errorf("a %T, not a P-256 key", key)
	}
	return nil
}
