package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// synapseSSO is Synapse's own OpenID Connect login, as examples/full.yaml
// had it before MAS took over its logins: every option of synapse.sso set.
const synapseSSO = `
  sso:
    oidc_providers:
      - idp_id: keycloak
        idp_name: Example SSO
        idp_icon: mxc://example.com/keycloakLogo
        issuer: https://sso.example.com/realms/example
        client_id: synapse
        client_auth_method: client_secret_post
        pkce_method: always
        scopes: [openid, profile, email]
        allow_existing_users: true
        backchannel_logout_enabled: true
        attribute_requirements:
          - attribute: groups
            value: matrix-users
        user_mapping:
          localpart_template: "{{ user.preferred_username }}"
          display_name_template: "{{ user.name }}"
          email_template: "{{ user.email }}"
          confirm_localpart: true
        extra:
          additional_authorization_parameters:
            acr_values: 2fa
      # A public client without discovery: no client secret, endpoints given.
      - idp_id: forge
        idp_name: Example Forge
        idp_brand: gitea
        issuer: https://forge.example.com/
        discover: false
        client_id: matrix-example
        client_auth_method: none
        scopes: [read_user]
        authorization_endpoint: https://forge.example.com/login/oauth/authorize
        token_endpoint: https://forge.example.com/login/oauth/access_token
        userinfo_endpoint: https://forge.example.com/api/v1/user
        user_profile_method: userinfo_endpoint
        enable_registration: false
        user_mapping:
          subject_template: "{{ user.id }}"
          localpart_template: "{{ user.login }}"
`

// TestSynapseSSOConsumers keeps Synapse's own SSO under its consumers now
// that no example has it: full.yaml with MAS off and synapse.sso on, its
// homeserver.yaml against Synapse's schema and its files.
func TestSynapseSSOConsumers(t *testing.T) {
	full := exampleSource(t, "full")
	i := strings.Index(full, "\nmas:\n")
	if i < 0 {
		t.Fatal("examples/full.yaml has no mas section")
	}
	src := strings.Replace(full[:i+1], "\nsynapse:\n", "\nsynapse:"+synapseSSO, 1)
	res, problems := Run("full-synapse-sso.yaml", []byte(src))
	if len(problems) > 0 {
		t.Fatalf("does not build: %v", problems)
	}
	b := consumerBundleOf(t, res)
	t.Run("synapse", b.checkSynapse)
	t.Run("placeholders", b.checkPlaceholders)
	if !strings.Contains(string(res.Tree["srv/matrix/synapse/config/homeserver.yaml"].Data), "oidc_providers:") {
		t.Error("homeserver.yaml has no oidc_providers")
	}
}

func exampleSource(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
