package validate

import (
	"strings"
	"testing"
)

// wantOneProblem loads src and requires exactly one problem, at path and
// line, saying want.
func wantOneProblem(t *testing.T, src, path string, line int, want string) {
	t.Helper()
	_, problems := Load("matrix.yaml", []byte(src))
	if len(problems) != 1 {
		t.Fatalf("want one problem, got %v", problems)
	}
	p := problems[0]
	if p.Path != path || p.Subject.Start.Line != line || !strings.Contains(p.Summary, want) {
		t.Errorf("got %s at line %d: %s\nwant %s at line %d: …%s…", p.Path, p.Subject.Start.Line, p.Summary, path, line, want)
	}
}

// A TURN server elsewhere and the bundle's coturn at once are refused at
// homeserver.turn; either alone is fine.
func TestOneTURNServer(t *testing.T) {
	turn := "homeserver:\n  turn:\n    uris: [\"turn:turn.example.net:3478\"]\n"
	wantOneProblem(t, minimal+"coturn:\n  enabled: true\n"+turn, "homeserver.turn", 7, "coturn.enabled")
	for _, src := range []string{minimal + turn, minimal + "coturn:\n  enabled: true\n"} {
		if _, problems := Load("matrix.yaml", []byte(src)); len(problems) > 0 {
			t.Errorf("%s: %v", src, problems)
		}
	}
	for _, bad := range []string{
		"homeserver:\n  turn:\n    uris: []\n",
		"homeserver:\n  turn:\n    uris: [\"http://turn.example.net\"]\n",
		"homeserver:\n  turn:\n    uris: [\"turn:turn.example.net:3478\\nx\"]\n",
		"homeserver:\n  turn:\n    uris: [\"turn:t.example.net\"]\n    user_lifetime: forever\n",
	} {
		if _, problems := Load("matrix.yaml", []byte(minimal+bad)); len(problems) == 0 {
			t.Errorf("accepted %q", bad)
		}
	}
}

const oidcBase = minimal + `synapse:
  sso:
    oidc_providers:
      - idp_id: keycloak
        issuer: https://sso.example.org/realms/x
        client_id: synapse
`

func TestOIDCProviderChecks(t *testing.T) {
	if _, problems := Load("matrix.yaml", []byte(oidcBase)); len(problems) > 0 {
		t.Fatalf("a plain provider: %v", problems)
	}
	wantOneProblem(t, oidcBase+`      - idp_id: keycloak
        issuer: https://other.example.org/
        client_id: synapse
`, "synapse.sso.oidc_providers.1.idp_id", 10, `also the id of provider 0 (line 7)`)
	wantOneProblem(t, oidcBase+`        discover: false
        token_endpoint: https://sso.example.org/token
`, "synapse.sso.oidc_providers.0.discover", 10, "authorization_endpoint and token_endpoint")
	wantOneProblem(t, oidcBase+`        extra:
          client_secret: s3cret
`, "synapse.sso.oidc_providers.0.extra.client_secret", 11, "/matrix/secrets/synapse-oidc-keycloak-client-secret")
	// The id names a host file: nothing that leaves the secrets directory.
	for _, id := range []string{"../x", "a/b", "a b", ""} {
		src := strings.Replace(oidcBase, "idp_id: keycloak", "idp_id: \""+id+"\"", 1)
		if _, problems := Load("matrix.yaml", []byte(src)); len(problems) == 0 {
			t.Errorf("idp_id %q accepted", id)
		}
	}
}

// The bundle hands Synapse its TURN and OIDC secrets as files; the default
// image must read them, and an older one pinned by the operator is refused
// where the option is used.
func TestSynapseReadsSecretFiles(t *testing.T) {
	c, problems := Load("matrix.yaml", []byte(minimal))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	have, ok := synapseRelease(c.Synapse.Image)
	if !ok {
		t.Fatalf("default image %s has no release tag", c.Synapse.Image)
	}
	// turn_shared_secret_path came in 1.116.0, client_secret_path in 1.91.0.
	if olderThan(have, [3]int{1, 116, 0}) || olderThan(have, [3]int{1, 91, 0}) {
		t.Errorf("default image %s is older than Synapse 1.116.0", c.Synapse.Image)
	}

	old := "  image: ghcr.io/element-hq/synapse:v1.115.0\n"
	wantOneProblem(t, minimal+"coturn:\n  enabled: true\nsynapse:\n"+old, "synapse.image", 7, "turn_shared_secret_path")
	wantOneProblem(t, strings.Replace(oidcBase, "synapse:\n", "synapse:\n  image: ghcr.io/element-hq/synapse:v1.90.1\n", 1),
		"synapse.image", 5, "client_secret_path")
	// Without TURN, 1.115 is fine for OIDC; a digest is the operator's call.
	for _, src := range []string{
		strings.Replace(oidcBase, "synapse:\n", "synapse:\n"+old, 1),
		minimal + "coturn:\n  enabled: true\nsynapse:\n  image: ghcr.io/element-hq/synapse@sha256:" + strings.Repeat("0", 64) + "\n",
	} {
		if _, problems := Load("matrix.yaml", []byte(src)); len(problems) > 0 {
			t.Errorf("%s: %v", src, problems)
		}
	}
}
