package validate

import (
	"strings"
	"testing"
)

const masProvider = `
  upstream_oauth2:
    providers:
      - name: keycloak
        id: 01JSHPZHAXC50QBKH67MH33TNF
        issuer: https://sso.example.org/realms/example
        client_id: matrix
`

// TestMASRules: every way of placing MAS where it cannot work is refused
// at the option that does it, at the line the user wrote.
func TestMASRules(t *testing.T) {
	on := "mas:\n  enabled: true\n"
	for _, tc := range []struct {
		name, yaml, at, says string
		line                 int
	}{
		{"Synapse's own SSO", "synapse:\n  sso:\n    oidc_providers:\n      - {idp_id: kc, issuer: \"https://sso.example.org/\", client_id: m}\n" + on,
			"synapse.sso.oidc_providers", "move each provider to mas.upstream_oauth2.providers", 7},
		{"hostname and path", on + "  hostname: auth.example.org\n  path: /login\n",
			"mas.path", "root of mas.hostname auth.example.org; remove path", 7},
		{"homeserver's hostname", on + "  hostname: matrix.example.org\n",
			"mas.hostname", "matrix.example.org is the homeserver's", 6},
		{"Ketesa's hostname", "ketesa: {enabled: true, hostname: admin.example.org}\n" + on + "  hostname: admin.example.org\n",
			"mas.hostname", "is Ketesa's", 7},
		{"health check", on + "  path: /health\n", "mas.path", "Synapse's health check", 6},
		{"Ketesa's path", "ketesa: {enabled: true, path: /admin}\n" + on + "  path: /admin/auth\n",
			"mas.path", "/admin/auth overlaps /admin, where Ketesa", 7},
		{"Ketesa's port", "ketesa: {enabled: true}\n" + on + "  host_port: 8767\n",
			"mas.host_port", "already published for Ketesa", 7},
		{"workers' ports", on + "  host_port: 20001\n", "mas.host_port", "where Synapse's workers publish", 6},
		{"two providers alike", on + masProvider + strings.Replace(strings.SplitN(masProvider, "providers:\n", 2)[1], "01JSHPZHAXC50QBKH67MH33TNF", "01JSHPZHAXC50QBKH67MH33TNG", 1),
			"mas.upstream_oauth2.providers.1.name", "provider 0 is named keycloak too", 13},
		{"discovery without issuer", on + strings.Replace(masProvider, "        issuer: https://sso.example.org/realms/example\n", "", 1),
			"mas.upstream_oauth2.providers.0", "issuer is missing", 9},
		{"no discovery without endpoints", on + strings.Replace(masProvider, "client_id: matrix", "client_id: matrix\n        discovery_mode: disabled\n        authorization_endpoint: https://sso.example.org/a\n        token_endpoint: https://sso.example.org/t", 1),
			"mas.upstream_oauth2.providers.0", "jwks_uri is missing", 9},
		{"a bridge named like MAS", "bridges:\n  authentication-service: {type: heisenbridge, owner: \"@a:example.org\"}\n" + on,
			"bridges.authentication-service", "Matrix Authentication Service", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := Load("matrix.yaml", []byte(minimal+tc.yaml))
			if len(problems) != 1 {
				t.Fatalf("want one problem, got:\n%s", printed(problems))
			}
			p := problems[0]
			if p.Path != tc.at || !strings.Contains(p.Summary, tc.says) || p.Subject.Start.Line != tc.line {
				t.Errorf("got %s: %s (line %d), want %s: …%s… at line %d", p.Path, p.Summary, p.Subject.Start.Line, tc.at, tc.says, tc.line)
			}
		})
	}
}

// A provider with discovery, and MAS off with a provider list, pass.
func TestMASAccepted(t *testing.T) {
	c := mustLoad(t, minimal+"mas:\n  enabled: true\n"+masProvider)
	p := c.MAS.UpstreamOAuth2.Providers[0]
	if p.DiscoveryMode != "oidc" || p.TokenEndpointAuthMethod != "client_secret_basic" || p.ClaimsImports.Localpart.Action != "require" {
		t.Errorf("defaults missing: %+v", p)
	}
	mustLoad(t, minimal+"mas:\n  enabled: false\n  path: /health\n")
}
