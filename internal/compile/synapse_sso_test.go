package compile

import (
	"reflect"
	"slices"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// wantProvidedSecret: the secret is the operator's to give, Synapse reads
// it, and its file is mounted where Synapse is told to find it.
func wantProvidedSecret(t *testing.T, p *plan.Plan, name string) {
	t.Helper()
	i := slices.IndexFunc(p.Secrets, func(s plan.Secret) bool { return s.Name == name })
	if i < 0 {
		t.Fatalf("no secret %s", name)
	}
	if s := p.Secrets[i]; s.Kind != plan.Provided || !slices.Equal(s.Readers, []string{synapseUnit}) {
		t.Errorf("secret %s: kind %v, readers %v; want provided, read by %s", name, s.Kind, s.Readers, synapseUnit)
	}
	syn, _ := planService(p, synapseUnit)
	want := plan.Mount{Source: "/matrix/secrets/" + name, Target: "/run/secrets/" + name, ReadOnly: true}
	if !slices.Contains(syn.Mounts, want) {
		t.Errorf("Synapse does not mount %s: %v", name, syn.Mounts)
	}
}

// Each OIDC provider's client secret is a host secret the operator
// provides, which Synapse reads through client_secret_path; a public
// client has none. Nothing of a secret is in homeserver.yaml.
func TestSynapseOIDCProviders(t *testing.T) {
	p := compileYAML(t, bridgesBase+`synapse:
  sso:
    oidc_providers:
      - idp_id: keycloak
        issuer: https://sso.example.org/realms/x
        client_id: synapse
        user_mapping:
          localpart_template: "{{ user.preferred_username }}"
        extra:
          additional_authorization_parameters: {acr_values: 2fa}
      - idp_id: public
        issuer: https://id.example.net/
        client_id: matrix
        client_auth_method: none
`)
	wantProvidedSecret(t, p, "synapse-oidc-keycloak-client-secret")
	if slices.ContainsFunc(p.Secrets, func(s plan.Secret) bool { return s.Name == "synapse-oidc-public-client-secret" }) {
		t.Error("a public client (client_auth_method: none) got a client secret")
	}
	providers := homeserverYAML(t, p)["oidc_providers"].([]any)
	if len(providers) != 2 {
		t.Fatalf("oidc_providers: %v", providers)
	}
	kc, pub := providers[0].(obj), providers[1].(obj)
	for k, want := range map[string]any{
		"idp_id": "keycloak", "client_secret_path": "/run/secrets/synapse-oidc-keycloak-client-secret",
		"client_auth_method": "client_secret_basic", "discover": true, "scopes": []any{"openid"},
		"user_mapping_provider":               obj{"config": obj{"localpart_template": "{{ user.preferred_username }}"}},
		"additional_authorization_parameters": map[string]any{"acr_values": "2fa"},
	} {
		if !reflect.DeepEqual(kc[k], want) {
			t.Errorf("keycloak %s = %#v, want %#v", k, kc[k], want)
		}
	}
	if _, ok := kc["client_secret"]; ok {
		t.Error("client_secret in homeserver.yaml")
	}
	if _, ok := pub["client_secret_path"]; ok {
		t.Error("the public client has a client_secret_path")
	}
}

// homeserver.turn points Synapse at a TURN server elsewhere, with its shared
// secret read from a provided host secret; no coturn runs.
func TestSynapseTURNElsewhere(t *testing.T) {
	p := compileYAML(t, bridgesBase+`homeserver:
  turn:
    uris: ["turns:turn.example.net:5349?transport=tcp"]
    allow_guests: true
`)
	wantProvidedSecret(t, p, turnElsewhereSecret)
	if _, ok := planService(p, coturnUnit); ok {
		t.Error("coturn runs although homeserver.turn names a TURN server elsewhere")
	}
	hs := homeserverYAML(t, p)
	for k, want := range map[string]any{
		"turn_uris":               []any{"turns:turn.example.net:5349?transport=tcp"},
		"turn_shared_secret_path": "/run/secrets/" + turnElsewhereSecret,
		"turn_allow_guests":       true,
		"turn_user_lifetime":      "1h",
	} {
		if !reflect.DeepEqual(hs[k], want) {
			t.Errorf("%s = %#v, want %#v", k, hs[k], want)
		}
	}
	if _, ok := hs["turn_shared_secret"]; ok {
		t.Error("turn_shared_secret in homeserver.yaml")
	}
}
