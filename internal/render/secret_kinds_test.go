package render

import (
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

func keyPlan(kind plan.SecretKind, filledInto ...string) *plan.Plan {
	p := &plan.Plan{
		Host:    plan.Host{Domain: "example.org", DataDir: "/matrix", User: "matrix", Group: "matrix", SecretsDir: "/matrix/secrets"},
		Secrets: []plan.Secret{{Name: "app-key", Kind: kind, Length: 4096, Description: "key of the app", Readers: []string{"matrix-app"}}},
	}
	for _, path := range filledInto {
		p.Files = append(p.Files, plan.File{Path: path, Format: plan.Raw, Secrets: []string{"app-key"}})
	}
	return p
}

// Every kind of secret has its word in install.sh's table, and keys are
// made or asked for by it.
func TestSecretKindsInInstallScript(t *testing.T) {
	for kind, word := range map[plan.SecretKind]string{plan.RSAKey: "rsa-key", plan.ProvidedKey: "provided-key", plan.ECKey: "ec-key", plan.HexKey: "hex"} {
		script, err := installScript(keyPlan(kind))
		if err != nil {
			t.Fatal(err)
		}
		if row := "\napp-key " + word + " 4096 /matrix/secrets/app-key - key of the app\n"; !strings.Contains(string(script), row) {
			t.Errorf("install.sh lacks the row %q", row)
		}
	}
	for kind := plan.RandomToken; kind <= plan.HexKey; kind++ {
		if secretKinds[kind] == "" {
			t.Errorf("secret kind %d has no name in install.sh", kind)
		}
	}
}

// A PEM key filled into a file would break it, and install.sh would not
// stop it; the renderer refuses such a plan.
func TestKeysAreNotFilledIn(t *testing.T) {
	for _, kind := range []plan.SecretKind{plan.RSAKey, plan.ProvidedKey, plan.ECKey} {
		_, err := installScript(keyPlan(kind, "/matrix/app/config.yml"))
		if err == nil || !strings.Contains(err.Error(), "/matrix/app/config.yml") || !strings.Contains(err.Error(), "app-key") {
			t.Errorf("kind %d filled into config.yml: error %v, want one naming the file and the secret", kind, err)
		}
	}
	if _, err := installScript(keyPlan(plan.RandomToken, "/matrix/app/config.yml")); err != nil {
		t.Errorf("a token filled into a file: %v", err)
	}
}
