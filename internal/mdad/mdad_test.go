package mdad

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/pipeline"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/validate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture is a vars.yml and what its translation must say.
type fixture struct {
	name string
	// untranslated: "LINE NAME" of each variable (or part) reported.
	untranslated []string
	check        func(t *testing.T, c *config.Config, r *Result)
	// secrets are the values anything shown must not contain.
	secrets []string
}

var fixtures = []fixture{
	{
		name: "rtc",
		untranslated: []string{
			"9 matrix_element_call_enabled",
			"10 matrix_element_call_hostname",
			"16 livekit_server_config_turn_external_tls",
			"20 matrix_livekit_jwt_service_environment_variable_livekit_secret",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "rtc.enabled", c.RTC.Enabled, true)
			want(t, "rtc.livekit.node_ip", c.RTC.LiveKit.NodeIP, "203.0.113.20")
			want(t, "rtc.livekit.udp_port", c.RTC.LiveKit.UDPPort, 7890)
			want(t, "rtc.livekit.turn", c.RTC.LiveKit.TURN, config.LiveKitTURN{Enabled: true, UDPPort: 3479, RelayMinPort: 31000, RelayMaxPort: 31010})
			want(t, "rtc.jwt_service.full_access_homeservers", strings.Join(c.RTC.JWTService.FullAccessHomeservers, " "), "example.org example.net")
			want(t, "rtc.element_call.participant_limit", c.RTC.ElementCall.ParticipantLimit, 12)
		},
		secrets: []string{"lk-secret-0f9e"},
	},
	{
		name: "basic",
		untranslated: []string{
			"4 matrix_playbook_migration_validated_version",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "domain", c.Domain, "example.org")
			want(t, "host.networks.ipv6", c.Host.Networks.IPv6, true)
			want(t, "hostnames.homeserver", c.Hostnames.Homeserver, "matrix.example.org")
			want(t, "hostnames.element", c.Hostnames.Element, "chat.example.org")
			want(t, "reverse_proxy.type", c.ReverseProxy.Type, "traefik")
			want(t, "traefik.acme_email", c.Traefik.ACMEEmail, "hostmaster@example.org")
			want(t, "homeserver.registration.mode", c.Homeserver.Registration.Mode, "token")
			want(t, "homeserver.max_upload_size_mb", c.Homeserver.MaxUploadSizeMB, 200)
			want(t, "homeserver.presence", c.Homeserver.Presence, false)
			want(t, "homeserver.auto_join_rooms", strings.Join(c.Homeserver.AutoJoinRooms, " "), "#welcome:example.org #announcements:example.org")
			want(t, "synapse.limit_remote_rooms", c.Synapse.LimitRemoteRooms, config.LimitRemoteRooms{Enabled: true, Complexity: 1.5, AdminsCanJoin: true})
			want(t, "synapse.extra", fmt.Sprint(c.Synapse.Extra), "map[allow_public_rooms_over_federation:true]")
			want(t, "well_known.serve_base_domain", c.WellKnown.ServeBaseDomain, true)
			want(t, "mailer.sender", c.Mailer.Sender, "matrix@example.org")
			want(t, "coturn.enabled", c.Coturn.Enabled, true)
			want(t, "coturn.external_ip", c.Coturn.ExternalIP, "203.0.113.7")
			want(t, "postgres.mode", c.Postgres.Mode, "bundled")
			// The key is the one of the derivation's published vectors.
			wantSecret(t, r, "synapse-db-password", "7da84ff2-724d-5557-a46e-e6aebc2aa46b")
			wantSecret(t, r, "synapse-macaroon-secret", "63851c08-2cc3-538b-8612-1718ba3547a3")
			wantSecret(t, r, "postgres-password", "Pg-Superuser-7f3a9c")
		},
		secrets: []string{"example-generic-secret", "Pg-Superuser-7f3a9c"},
	},
	{
		name: "nginx-front",
		untranslated: []string{
			"15 traefik_config_entrypoint_web_forwardedHeaders_insecure",
			"17 matrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port",
			"18 matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_custom",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "traefik.behind_proxy.enabled", c.Traefik.BehindProxy.Enabled, true)
			want(t, "traefik.behind_proxy.port", c.Traefik.BehindProxy.Port, 81)
			want(t, "reverse_proxy.bind_address", c.ReverseProxy.BindAddress, "127.0.0.1")
			want(t, "traefik.acme_email", c.Traefik.ACMEEmail, "")
			want(t, "element.enabled", c.Element.Enabled, false)
			want(t, "coturn.enabled", c.Coturn.Enabled, false)
			wantSecret(t, r, "postgres-password", "nGinxHostPg-51aa0e")
			wantMissing(t, r, "coturn-shared-secret", false)
		},
		secrets: []string{"T8vKq2LmZx0cR4wN7yPb1sHd9gFj3aUe", "nGinxHostPg-51aa0e"},
	},
	{
		name: "external-postgres",
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "hostnames.homeserver", c.Hostnames.Homeserver, "chat.corp.example.com")
			want(t, "host.install_docker", c.Host.InstallDocker, false)
			want(t, "traefik.acme_email", c.Traefik.ACMEEmail, "it-ops@corp.example.com")
			want(t, "postgres.mode", c.Postgres.Mode, "external")
			want(t, "postgres.external", c.Postgres.External, config.ExternalPostgres{
				Host: "pg.db.corp.example.com", Port: 5433, Database: "matrix_synapse", User: "synapse_app", SSLMode: "verify-full"})
			want(t, "synapse.metrics.enabled", c.Synapse.Metrics.Enabled, true)
			wantSecret(t, r, "synapse-db-password", "Ext-Db-Pass-c0ffee42")
			wantSecret(t, r, "synapse-macaroon-secret", DeriveSecret("0b6f5c7e3e1d4a8f9c2b7a6d5e4f3a2b", "synapse.mac"))
			wantMissing(t, r, "postgres-password", false)
		},
		secrets: []string{"0b6f5c7e3e1d4a8f9c2b7a6d5e4f3a2b", "Ext-Db-Pass-c0ffee42"},
	},
	{
		name:         "relay-mailer",
		untranslated: []string{"22 matrix_synapse_email_invite_client_location"},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "homeserver.registration.mode", c.Homeserver.Registration.Mode, "open")
			want(t, "homeserver.registration.require_3pid", strings.Join(c.Homeserver.Registration.Require3PID, " "), "email")
			want(t, "mailer.sender", c.Mailer.Sender, "noreply@example.com")
			want(t, "mailer.sender_name", c.Mailer.SenderName, "Example Chat")
			if c.Mailer.Smarthost == nil {
				t.Fatal("mailer.smarthost is not set")
			}
			want(t, "mailer.smarthost", *c.Mailer.Smarthost, config.Smarthost{Host: "smtp.mailprovider.example", Port: 587, User: "noreply@example.com"})
			wantSecret(t, r, "mailer-smarthost-password", "Smtp-Relay-Pw-5521")
			wantSecret(t, r, "synapse-macaroon-secret", "Explicit-Macaroon-0d9e8f7a")
			wantSecret(t, r, "synapse-registration-secret", "Explicit-Registration-1c2b3a4d")
			wantSecret(t, r, "coturn-shared-secret", "Explicit-Turn-Secret-77aa")
			wantMissing(t, r, "synapse-form-secret", true)
		},
		secrets: []string{"mail-example-generic-key-9a8b7c", "Smtp-Relay-Pw-5521", "Explicit-Macaroon-0d9e8f7a", "Explicit-Registration-1c2b3a4d", "Explicit-Turn-Secret-77aa"},
	},
	{
		name: "oidc",
		untranslated: []string{
			"29 matrix_synapse_configuration_extension_yaml.admin_contact",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			// The provider moves out of the extension into the SSO options,
			// and its client secret into the secrets install.sh installs.
			if _, ok := c.Synapse.Extra["oidc_providers"]; ok {
				t.Error("oidc_providers stayed in synapse.extra")
			}
			providers := c.Synapse.SSO.OIDCProviders
			if len(providers) != 1 {
				t.Fatalf("synapse.sso.oidc_providers = %+v, want one provider", providers)
			}
			p := providers[0]
			want(t, "idp_id", p.IDPID, "keycloak")
			want(t, "idp_name", p.IDPName, "Keycloak")
			want(t, "issuer", p.Issuer, "https://sso.example.com/realms/matrix")
			want(t, "client_id", p.ClientID, "synapse")
			want(t, "scopes", strings.Join(p.Scopes, " "), "openid profile")
			want(t, "allow_existing_users", p.AllowExistingUsers, true)
			want(t, "backchannel_logout_enabled", p.BackchannelLogout, true)
			want(t, "localpart_template", p.UserMapping.LocalpartTemplate, "{{ user.preferred_username }}")
			want(t, "display_name_template", p.UserMapping.DisplayNameTemplate, "{{ user.name }}")
			if len(p.Extra) != 0 {
				t.Errorf("provider extra = %v, want nothing left over", p.Extra)
			}
			wantSecret(t, r, "synapse-oidc-keycloak-client-secret", "Kc-Client-Secret-8d1e6b")
			want(t, "password_config", fmt.Sprint(c.Synapse.Extra["password_config"]), "map[enabled:false]")
			want(t, "allow_public_rooms_without_auth", c.Synapse.Extra["allow_public_rooms_without_auth"], true)
			if _, ok := c.Synapse.Extra["admin_contact"]; ok {
				t.Error("admin_contact, made by a Jinja filter, was carried into synapse.extra")
			}
		},
		secrets: []string{"oidc-example-generic-key-42", "Kc-Client-Secret-8d1e6b"},
	},
	{
		name: "sso-turn",
		untranslated: []string{
			"42 matrix_synapse_oidc_providers.2.client_secret_path",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "coturn.enabled", c.Coturn.Enabled, false)
			if c.Homeserver.TURN == nil {
				t.Fatal("homeserver.turn is not set")
			}
			want(t, "homeserver.turn.uris", strings.Join(c.Homeserver.TURN.URIs, " "), "turns:turn.example.org:5349?transport=tcp turn:turn.example.org:3478?transport=udp")
			want(t, "homeserver.turn.allow_guests", c.Homeserver.TURN.AllowGuests, true)
			wantSecret(t, r, "synapse-turn-shared-secret", "Turn-Elsewhere-Secret-61")
			wantMissing(t, r, "coturn-shared-secret", false)

			providers := c.Synapse.SSO.OIDCProviders
			if len(providers) != 3 {
				t.Fatalf("synapse.sso.oidc_providers = %+v, want three", providers)
			}
			gl := providers[0]
			want(t, "idp_id", gl.IDPID, "oidc")
			want(t, "client_auth_method", gl.ClientAuthMethod, "client_secret_post")
			want(t, "localpart_template", gl.UserMapping.LocalpartTemplate, "{{ user.nickname }}")
			// What the config has no option for stays Synapse's, in extra.
			want(t, "extra", fmt.Sprint(gl.Extra), "map[attribute_requirements:[map[attribute:groups one_of:[staff ops]]] user_mapping_provider:map[config:map[picture_template:{{ user.picture }}]]]")
			wantSecret(t, r, "synapse-oidc-oidc-client-secret", "Gl-Oidc-Secret-4e4e")
			want(t, "public client_auth_method", providers[1].ClientAuthMethod, "none")
			wantMissing(t, r, "synapse-oidc-public-client-secret", false)
			// The file a provider read its secret from stays on the old
			// host: install.sh stops until the secret is in place.
			wantMissing(t, r, "synapse-oidc-filed-client-secret", true)
			wantReason(t, r, "matrix_synapse_oidc_providers.2.client_secret_path", "/matrix/secrets/synapse-oidc-filed-client-secret")
		},
		secrets: []string{"sso-turn-generic-key-31", "Turn-Elsewhere-Secret-61", "Gl-Oidc-Secret-4e4e"},
	},
	{
		// The bridges' variables under their names from before the
		// playbook's rename of 2026-07-16.
		name: "workers-bridges",
		untranslated: []string{
			"20 matrix_heisenbridge_enabled",
			"26 matrix_bot_maubot_admins.ops",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "domain", c.Domain, "example.com")
			if got := c.Bridges.Names(); !slices.Equal(got, []string{"mautrix-telegram", "mautrix-whatsapp"}) {
				t.Errorf("bridges %v, want mautrix-telegram and mautrix-whatsapp (signal is off, heisenbridge has no owner)", got)
			}
			for _, name := range c.Bridges.Names() {
				want(t, name+".double_puppet", c.Bridges[name].Options["double_puppet"], any(false))
			}
			wantReason(t, r, "matrix_heisenbridge_enabled", "needs its owner")
			wantSecret(t, r, "mautrix-telegram-api-id", "1234567")
			wantSecret(t, r, "mautrix-telegram-api-hash", "0123456789abcdef0123456789abcdef")
			// Python: uuid.uuid5(UUID("361e6d51-faec-444a-9079-341386da8e2e"),
			// hashlib.sha512(b"big-server-generic-key-6e5d4c3b:telegr.as.token").hexdigest()),
			// which is Ansible's to_uuid of the playbook's hash.
			wantSecret(t, r, "mautrix-telegram-as-token", "98096ecb-8e08-5a46-9c30-13a4df735ec9")
			wantMissing(t, r, "appservice-double-puppet-as-token", false)
			// maubot and Ketesa under the names from before the renames.
			want(t, "bots.maubot.type", c.Bots["maubot"].Type, "maubot")
			want(t, "ketesa.path", c.Ketesa.Path, "/synapse-admin")
			// Python, as above, with the playbook's salt mxpup.dsc.db.
			wantSecret(t, r, "matrix_bot_maubot-db-password", "6276132a-c97d-5202-b11f-f8776a71d19a")
			wantSecret(t, r, "maubot-admin-password", "Maubot-Ui-Admin-4455")
		},
		secrets: []string{"big-server-generic-key-6e5d4c3b", "Big-Pg-Password-3344", "0123456789abcdef0123456789abcdef", "Maubot-Admin-Pw-9911", "1234567",
			"Maubot-Ui-Admin-4455", "Maubot-Ui-Ops-6677"},
	},
	{
		name: "bridges",
		untranslated: []string{
			"50 matrix_bridge_mautrix_bluesky_logging_level",
			"54 matrix_bridge_heisenbridge_identd_enabled",
			"57 matrix_mautrix_whatsapp_logging_level",
			"61 matrix_bridge_hookshot_github_private_key",
		},
		check:   checkBridgesFixture,
		secrets: []string{"bridges-generic-key-5f4e3d2c", "Bridges-Pg-Superuser-8822", "0d1c2b3a49586776a5b4c3d2e1f00f1e", "Slack-As-Token-From-Vars-4410", "BEGIN RSA"},
	},
	{
		name: "hookshot-bots-ketesa",
		untranslated: []string{
			"32 matrix_bridge_hookshot_gitlab_instances.work",
			"38 matrix_bridge_hookshot_metrics_enabled",
			"52 matrix_bridge_hookshot_configuration_extension_yaml.bridge.port",
			"60 matrix_bot_draupnir_config_web_abuseReporting",
			"63 matrix_bot_draupnir_configuration_extension_yaml.managementRoom",
			"70 matrix_bot_maubot_admins.bob",
			"82 matrix_ketesa_container_labels_traefik_ipallowlist_sourcerange",
		},
		check: checkHookshotBotsFixture,
		secrets: []string{"hookshot-bots-key-0e9d8c7b", "Bots-Pg-Superuser-6161", "Bots-Registration-3131", "BEGIN RSA",
			"Gh-Webhook-Secret-7070", "Gh-Client-Secret-8080", "Gl-Webhook-Secret-9090", "Draupnir-Token-4242",
			"Maubot-Bot-Password-5151", "Maubot-Admin-Alice-6262", "Maubot-Admin-Bob-7373"},
	},
	{
		name: "mas",
		untranslated: []string{
			"31 matrix_authentication_service_config_account_password_change_allowed",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			m := c.MAS
			want(t, "mas.enabled", m.Enabled, true)
			want(t, "mas.passwords", m.Passwords, false)
			want(t, "mas.path", m.Path, "/auth")
			if len(m.UpstreamOAuth2.Providers) != 1 {
				t.Fatalf("providers: %+v", m.UpstreamOAuth2.Providers)
			}
			p := m.UpstreamOAuth2.Providers[0]
			want(t, "provider name", p.Name, "keycloak")
			want(t, "provider synapse_idp_id", p.SynapseIDPID, "oidc-keycloak")
			want(t, "provider method", p.TokenEndpointAuthMethod, "client_secret_post")
			want(t, "provider localpart", p.ClaimsImports.Localpart.Template, "{{ user.preferred_username }}")
			want(t, "provider extra", fmt.Sprint(p.Extra), "map[claims_imports:map[email:map[set_email_verification:always]] response_mode:form_post]")
			want(t, "mas.extra", fmt.Sprint(m.Extra), "map[branding:map[service_name:Example]]")
			wantSecret(t, r, "mas-upstream-keycloak-client-secret", "Kc-Client-Secret-3030")
			wantSecret(t, r, "mas-encryption-key", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
			// Python: uuid.uuid5(uuid.UUID("361e6d51-faec-444a-9079-341386da8e2e"),
			//   hashlib.sha512(b"mas-generic-key-1a2b3c4d:" + salt).hexdigest())
			wantSecret(t, r, "matrix_authentication_service-db-password", masDerived["mas.db"])
			wantSecret(t, r, "mas-synapse-secret", masDerived["mas.hs.secret"])
			wantMissing(t, r, "mas-signing-key-rsa", true)
		},
		secrets: []string{"mas-generic-key-1a2b3c4d", "Mas-Pg-Superuser-5151", "Kc-Client-Secret-3030", "0123456789abcdef0123456789abcdef"},
	},
	{
		name: "legacy-names",
		untranslated: []string{
			"5 matrix_homeserver_generic_secret_key",
			"10 devture_traefik_config_certificatesResolvers_acme_email",
			"13 devture_postgres_connection_password",
			"27 matrix_client_element_enabled",
			"28 matrix_coturn_turn_external_ip_address",
			"30 matrix_synapse_presence_enabled",
			"35 matrix_server_fqn_element",
			"37 matrix_homeserver_implementation",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "traefik.acme_email", c.Traefik.ACMEEmail, "certs@example.com")
			want(t, "homeserver.max_upload_size_mb", c.Homeserver.MaxUploadSizeMB, 100)
			want(t, "homeserver.presence", c.Homeserver.Presence, false)
			want(t, "mailer.sender", c.Mailer.Sender, "matrix@example.com")
			want(t, "mailer.smarthost", *c.Mailer.Smarthost, config.Smarthost{Host: "mail.example.com", Port: 465})
			want(t, "hostnames.element", c.Hostnames.Element, "element.example.com")
			if len(r.Secrets) != 0 {
				t.Errorf("secrets from vault-encrypted values: %v", r.Secrets)
			}
		},
		secrets: []string{"ANSIBLE_VAULT"},
	},
}

func want[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func wantSecret(t *testing.T, r *Result, name, value string) {
	t.Helper()
	for _, s := range r.Secrets {
		if s.Name == name {
			if s.Value != value {
				t.Errorf("secret %s = %q, want %q", name, s.Value, value)
			}
			return
		}
	}
	t.Errorf("no secret %s; have %v, missing %v", name, secretNames(r), r.Missing)
}

// wantMissing checks that the bundle's secret name is listed as missing,
// or, with needed false, that the bundle does not read it at all.
func wantMissing(t *testing.T, r *Result, name string, needed bool) {
	t.Helper()
	listed := slices.ContainsFunc(r.Missing, func(m MissingSecret) bool { return m.Name == name })
	if listed != needed || slices.Contains(secretNames(r), name) {
		t.Errorf("secret %s: listed as missing %v, want %v (secrets %v)", name, listed, needed, secretNames(r))
	}
}

func secretNames(r *Result) []string {
	var out []string
	for _, s := range r.Secrets {
		out = append(out, s.Name)
	}
	return out
}

func TestMDADFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			path := filepath.Join("testdata", f.name+".yml")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Translate(path, data)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", f.name+".golden.yaml"), r.Config)
			c := checkBuilds(t, r)
			var got []string
			for _, u := range r.Untranslated {
				got = append(got, fmt.Sprintf("%d %s", u.Line, u.Name))
			}
			if !slices.Equal(got, f.untranslated) {
				t.Errorf("untranslated:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(f.untranslated, "\n"))
			}
			checkReported(t, data, r)
			checkHidden(t, r, append(f.secrets, secretValues(r)...))
			if c != nil {
				f.check(t, c, r)
			}
		})
	}
}

// TestMDADExampleVars translates the playbook's own example, the file
// every installation starts from.
func TestMDADExampleVars(t *testing.T) {
	path := filepath.Join(repoRoot(t), "..", "shared", "mdad", "vars.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("the playbook's example vars.yml is not here: %v", err)
	}
	r, err := Translate("vars.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "mdad-example.golden.yaml"), r.Config)
	c := checkBuilds(t, r)
	checkReported(t, data, r)
	var got []string
	for _, u := range r.Untranslated {
		got = append(got, u.Name)
	}
	// What the example sets that matrixgen has no use for; everything else
	// it sets is translated or read.
	if w := []string{"matrix_playbook_migration_validated_version"}; !slices.Equal(got, w) {
		t.Errorf("untranslated %v, want %v", got, w)
	}
	if c != nil && c.Domain != "example.com" {
		t.Errorf("domain = %q", c.Domain)
	}
	// Its generic key is empty: nothing may be derived from it.
	if len(r.Secrets) != 0 {
		t.Errorf("secrets from an empty key: %v", secretNames(r))
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantData, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, wantData) {
		t.Errorf("%s differs (go test -update rewrites it); first difference:\n%s", path, firstDifference(string(got), string(wantData)))
	}
}

func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %q\nwant: %q", i+1, gl, wl)
		}
	}
	return "(none)"
}

// checkBuilds loads the translated config with matrixgen's own validation
// (every option name and value against the schema), builds the bundle,
// and checks that the secrets the translation accounts for are exactly the
// ones the bundle reads.
func checkBuilds(t *testing.T, r *Result) *config.Config {
	t.Helper()
	if len(r.Problems) > 0 {
		t.Errorf("the translated config does not validate: %v", r.Problems)
	}
	c, problems := validate.Load(OutputName, r.Config)
	if len(problems) > 0 {
		t.Errorf("validate.Load: %v", problems)
		return nil
	}
	res, problems := pipeline.Run(OutputName, r.Config)
	if len(problems) > 0 {
		t.Errorf("pipeline.Run: %v", problems)
		return c
	}
	var bundleSecrets, accounted []string
	for _, s := range res.Plan.Secrets {
		if s.Kind != plan.SigningKey {
			bundleSecrets = append(bundleSecrets, s.Name)
		}
	}
	accounted = secretNames(r)
	for _, m := range r.Missing {
		accounted = append(accounted, m.Name)
	}
	slices.Sort(bundleSecrets)
	slices.Sort(accounted)
	if !slices.Equal(bundleSecrets, accounted) {
		t.Errorf("the bundle reads secrets %v; the translation accounts for %v", bundleSecrets, accounted)
	}
	return c
}

// checkReported checks that every variable of the file is somewhere: an
// option's comment, the list of those read, or the list of those not
// translated.
func checkReported(t *testing.T, data []byte, r *Result) {
	t.Helper()
	vf, err := parseVars(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vf.all {
		mark := fmt.Sprintf("%s, line %d", v.name, v.line)
		listed := func(l []Untranslated) bool {
			return slices.ContainsFunc(l, func(u Untranslated) bool {
				return u.Line == v.line && (u.Name == v.name || strings.HasPrefix(u.Name, v.name+"."))
			})
		}
		if !bytes.Contains(r.Config, []byte(mark)) && !listed(r.Read) && !listed(r.Untranslated) {
			t.Errorf("%s (line %d) is neither translated nor reported", v.name, v.line)
		}
	}
	for _, u := range r.Untranslated {
		if !bytes.Contains(r.Config, []byte(fmt.Sprintf("(line %d): %s:", u.Line, u.Name))) {
			t.Errorf("%s (line %d) is not in the config's list of what was not translated", u.Name, u.Line)
		}
	}
}

func secretValues(r *Result) []string {
	var out []string
	for _, s := range r.Secrets {
		out = append(out, s.Value)
	}
	return out
}

// checkHidden checks that no secret value is in the config or the reports.
func checkHidden(t *testing.T, r *Result, secrets []string) {
	t.Helper()
	var shown strings.Builder
	shown.Write(r.Config)
	for _, l := range [][]Untranslated{r.Untranslated, r.Read} {
		for _, u := range l {
			fmt.Fprintln(&shown, u.Name, u.Reason, u.Shown)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(&shown, n)
	}
	for _, s := range r.Secrets {
		fmt.Fprintln(&shown, s.Name, s.Source)
	}
	for _, m := range r.Missing {
		fmt.Fprintln(&shown, m.Name, m.Reason)
	}
	for _, s := range secrets {
		if strings.Contains(shown.String(), s) {
			t.Errorf("the secret %q is shown", s)
		}
	}
}

func TestMDADDeriveSecret(t *testing.T) {
	for _, c := range []struct{ key, salt, want string }{
		{"example-generic-secret", "synapse.db", "7da84ff2-724d-5557-a46e-e6aebc2aa46b"},
		{"example-generic-secret", "synapse.mac", "63851c08-2cc3-538b-8612-1718ba3547a3"},
	} {
		if got := DeriveSecret(c.key, c.salt); got != c.want {
			t.Errorf("DeriveSecret(%q, %q) = %s, want %s", c.key, c.salt, got, c.want)
		}
	}
	// RFC 9562's own example of a name-based UUID with SHA-1: "www.example.com"
	// in the DNS namespace.
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, w := uuidV5(dns, "www.example.com"), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != w {
		t.Errorf("uuidV5(DNS, www.example.com) = %s, want %s", got, w)
	}
}

func TestMDADResolve(t *testing.T) {
	vars := `
matrix_domain: example.com
port: 8448
flag: yes
name_list: [a, b]
whole_int: "{{ port }}"
inside: "matrix.{{ matrix_domain }}:{{port}}"
chain: "{{ inside }}"
default_fqn: "{{ matrix_server_fqn_matrix }}"
literal: "{{ '{{ user.name }}' }}"
unsafe: !unsafe "{{ not evaluated }}"
raw: "{% raw %}{{.PushName}}{% endraw %} ({{ matrix_domain }})"
raw_then_statement: "{% raw %}x{% endraw %}{% if flag %}y{% endif %}"
filter: "{{ matrix_domain | upper }}"
expression: "{{ port + 1 }}"
statement: "{% if flag %}x{% endif %}"
unknown: "{{ nowhere }}"
list_in_string: "x{{ name_list }}"
cycle_a: "{{ cycle_b }}"
cycle_b: "{{ cycle_c }}"
cycle_c: "{{ cycle_a }}"
self: "{{ self }}"
vault: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  6162
`
	vf, err := parseVars([]byte(vars))
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(vf)
	for _, c := range []struct{ name, value, tag, err string }{
		{"whole_int", "8448", "!!int", ""},
		{"inside", "matrix.example.com:8448", "!!str", ""},
		{"chain", "matrix.example.com:8448", "!!str", ""},
		{"default_fqn", "matrix.example.com", "!!str", ""},
		{"literal", "{{ user.name }}", "!!str", ""},
		{"unsafe", "{{ not evaluated }}", "!!str", ""},
		{"raw", "{{.PushName}} (example.com)", "!!str", ""},
		{"raw_then_statement", "", "", "Jinja beyond"},
		{"filter", "", "", "Jinja beyond"},
		{"expression", "", "", "Jinja beyond"},
		{"statement", "", "", "Jinja beyond"},
		{"unknown", "", "", "refers to nowhere, which vars.yml does not set"},
		{"list_in_string", "", "", "not a single value"},
		{"cycle_a", "", "", "cycle (cycle_a → cycle_b → cycle_c → cycle_a)"},
		{"self", "", "", "cycle (self → self)"},
		{"vault", "", "", "ansible-vault"},
	} {
		n, err := r.variable(c.name)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one with %q", c.name, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case n.Value != c.value || n.Tag != c.tag:
			t.Errorf("%s = %s %q, want %s %q", c.name, n.Tag, n.Value, c.tag, c.value)
		}
	}
}

// TestMDADTableOptions checks every option the table writes against the
// schema, so that a renamed option fails here rather than in a user's build.
func TestMDADTableOptions(t *testing.T) {
	schema := validate.Schema()
	names := map[string]bool{}
	for _, r := range table {
		if names[r.name] {
			t.Errorf("%s has two rows", r.name)
		}
		names[r.name] = true
		kinds := 0
		for _, set := range []bool{r.option != "", r.secret != "", r.fn != nil, r.why != ""} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			t.Errorf("%s: a row sets exactly one of option, secret, fn and why", r.name)
		}
		if (r.option != "") != (r.conv != nil) {
			t.Errorf("%s: an option needs a conversion, and only an option has one", r.name)
		}
		if r.secret != "" && !slices.Contains(secretOrder, r.secret) {
			t.Errorf("%s: secret %s is not one the bundle reads", r.name, r.secret)
		}
		if r.option != "" && !schemaHas(schema, r.option) {
			t.Errorf("%s: no option %s in the schema", r.name, r.option)
		}
	}
}

// schemaHas looks an option up, down to an open mapping (extra), below
// which any key is allowed.
func schemaHas(v cue.Value, option string) bool {
	for _, part := range strings.Split(option, ".") {
		if part == "extra" {
			return v.LookupPath(cue.MakePath(cue.Str(part))).Exists()
		}
		next := v.LookupPath(cue.MakePath(cue.Str(part)))
		if !next.Exists() {
			next = v.LookupPath(cue.MakePath(cue.Str(part).Optional()))
		}
		if !next.Exists() {
			return false
		}
		v = next
	}
	return true
}

// FuzzMDADTranslate: any input is translated or refused, never a crash,
// and every variable is accounted for.
func FuzzMDADTranslate(f *testing.F) {
	for _, fx := range fixtures {
		if data, err := os.ReadFile(filepath.Join("testdata", fx.name+".yml")); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n"))
	f.Add([]byte("matrix_synapse_configuration_extension_yaml: \"{{ x }}: {{ y }}\"\nx: a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Translate("vars.yml", data)
		if err != nil {
			return
		}
		for _, u := range r.Untranslated {
			if strings.Contains(u.Reason, "a bug in import-mdad") {
				t.Errorf("%s was not handled", u.Name)
			}
		}
	})
}

func TestMDADNotVars(t *testing.T) {
	for name, data := range map[string]string{
		"empty":       "",
		"comments":    "# nothing here\n",
		"list":        "- matrix_domain: example.com\n",
		"scalar":      "example.com\n",
		"broken YAML": "matrix_domain: [example.com\n",
		"map key":     "? [a, b]\n: c\n",
		"alias bomb":  "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
	} {
		if _, err := Translate("vars.yml", []byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMDADRedaction(t *testing.T) {
	vars := `
matrix_domain: example.com
traefik_config_certificatesResolvers_acme_email: admin@example.com
vault_db: Hidden-Through-Reference-1
matrix_synapse_database_password: "{{ vault_db }}"
some_api_token: Hidden-Token-2
bridge_settings:
  login: someone
  password: Hidden-Nested-3
matrix_synapse_configuration_extension_yaml: |
  email:
    smtp_pass: "Hidden-Smtp-4"
  turn_shared_secret: "{{ my_turn }}"
my_turn: Hidden-Turn-5
`
	r, err := Translate("vars.yml", []byte(vars))
	if err != nil {
		t.Fatal(err)
	}
	checkHidden(t, r, []string{"Hidden-Through-Reference-1", "Hidden-Token-2", "Hidden-Nested-3", "Hidden-Smtp-4", "Hidden-Turn-5"})
	if !bytes.Contains(r.Config, []byte("login: someone")) {
		t.Errorf("the non-secret part of a mapping is not shown:\n%s", r.Config)
	}
	wantSecret(t, r, "synapse-db-password", "Hidden-Through-Reference-1")

	// An extension reported whole shows its text, without its secrets.
	r, err = Translate("vars.yml", []byte(`matrix_domain: example.com
matrix_synapse_configuration_extension_yaml: |
  {% if sso %}
  oidc_providers:
    - idp_id: x
      client_secret: Hidden-In-Text-6
  {% endif %}
`))
	if err != nil {
		t.Fatal(err)
	}
	checkHidden(t, r, []string{"Hidden-In-Text-6"})
	if !bytes.Contains(r.Config, []byte("client_secret: <redacted>")) {
		t.Errorf("the extension's text is not shown:\n%s", r.Config)
	}

	// A bridge's map of secrets has keys that do not look secret: every
	// text under it is hidden, in a translated extension and in one
	// reported whole.
	for _, ext := range []string{
		"  bridge:\n    login_shared_secret_map:\n      example.com: \"{{ discord_secret }}\"\n    double_puppet_allow_discovery: true\n",
		"  {% if true %}\n  double_puppet:\n    secrets:\n      example.com: as_token:Hidden-Bridge-8\n  {% endif %}\n",
	} {
		r, err = Translate("vars.yml", []byte("matrix_domain: example.org\nmatrix_bridge_mautrix_discord_enabled: true\n"+
			"matrix_bridge_mautrix_discord_configuration_extension_yaml: |\n"+ext+"discord_secret: Hidden-Bridge-7\n"))
		if err != nil {
			t.Fatal(err)
		}
		checkHidden(t, r, []string{"Hidden-Bridge-7", "Hidden-Bridge-8"})
	}
	if !bytes.Contains(r.Config, []byte("secrets:")) || !bytes.Contains(r.Config, []byte("example.com: <redacted>")) {
		t.Errorf("the extension's text is not shown:\n%s", r.Config)
	}
}

func TestMDADWriteSecrets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	secrets := []Secret{
		{Name: "synapse-db-password", Value: "7da84ff2-724d-5557-a46e-e6aebc2aa46b", Source: "test"},
		{Name: "mailer-smarthost-password", Value: "a.b_c~d+e/f=g:h@i%j!k#l*m,n?o^p&q-r", Source: "test"},
	}
	if err := WriteSecrets(dir, secrets); err != nil {
		t.Fatal(err)
	}
	checkMode(t, dir, 0o700|fs.ModeDir)
	for _, s := range secrets {
		p := filepath.Join(dir, s.Name)
		checkMode(t, p, 0o600)
		if data, err := os.ReadFile(p); err != nil || string(data) != s.Value {
			t.Errorf("%s holds %q, %v; want %q without a newline", p, data, err, s.Value)
		}
	}

	// A second run finds the files and writes nothing.
	changed := []Secret{{Name: "synapse-db-password", Value: "other", Source: "test"}}
	if err := WriteSecrets(dir, changed); err == nil || !strings.Contains(err.Error(), "never overwrites") {
		t.Errorf("writing over a secret: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "synapse-db-password")); string(data) != secrets[0].Value {
		t.Errorf("a secret was overwritten: %q", data)
	}

	// A value install.sh would refuse is refused here, before anything is written.
	fresh := filepath.Join(t.TempDir(), "fresh")
	bad := []Secret{
		{Name: "synapse-macaroon-secret", Value: "fine", Source: "test"},
		{Name: "postgres-password", Value: "has space", Source: "test"},
	}
	if err := WriteSecrets(fresh, bad); err == nil || !strings.Contains(err.Error(), "postgres-password") {
		t.Errorf("a secret with a space: %v", err)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused write left %s behind", fresh)
	}
	for _, v := range []string{"new\nline", `quote"`, "dollar$", "", "tab\t"} {
		if err := CheckSecrets(fresh, []Secret{{Name: "x", Value: v}}); err == nil {
			t.Errorf("%q accepted", v)
		}
	}

	// A directory others can read is not one for secrets.
	open := t.TempDir()
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecrets(open, secrets[:1]); err == nil || !strings.Contains(err.Error(), "open to other users") {
		t.Errorf("writing into a 0755 directory: %v", err)
	}
}

func checkMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode() & (fs.ModePerm | fs.ModeDir); got != want {
		t.Errorf("%s has mode %v, want %v", p, got, want)
	}
}

// TestMDADSecretsFeedInstall applies a translated bundle with install.sh
// --dry-run onto a root whose secrets directory import-mdad wrote: the
// imported secrets are kept, and only the others would be created.
func TestMDADSecretsFeedInstall(t *testing.T) {
	for _, name := range []string{"basic", "relay-mailer", "bridges", "hookshot-bots-ketesa", "oidc", "sso-turn"} {
		t.Run(name, func(t *testing.T) {
			shell, err := exec.LookPath("sh")
			if err != nil {
				t.Skip("no sh")
			}
			data, err := os.ReadFile(filepath.Join("testdata", name+".yml"))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Translate(name+".yml", data)
			if err != nil {
				t.Fatal(err)
			}
			res, problems := pipeline.Run(OutputName, r.Config)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			tmp := t.TempDir()
			out, root, shims := filepath.Join(tmp, "out"), filepath.Join(tmp, "root"), filepath.Join(tmp, "shims")
			if err := bundle.Write(out, res.Tree); err != nil {
				t.Fatal(err)
			}
			if err := WriteSecrets(filepath.Join(root, filepath.FromSlash(res.Plan.Host.SecretsDir)), r.Secrets); err != nil {
				t.Fatal(err)
			}
			// The host commands install.sh would change the machine with;
			// --dry-run only prints most, but it asks Docker first.
			if err := os.Mkdir(shims, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"docker", "systemctl", "useradd", "groupadd", "chown"} {
				if err := os.WriteFile(filepath.Join(shims, cmd), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(shell, filepath.Join(out, "install.sh"), "--dry-run", "--root", root)
			cmd.Env = []string{"PATH=" + shims + ":/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("install.sh --dry-run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			creates := func(name string) bool {
				return regexp.MustCompile(`(?m)^(would create|created) secret ` + regexp.QuoteMeta(name) + `$`).MatchString(stdout.String())
			}
			for _, s := range r.Secrets {
				if creates(s.Name) {
					t.Errorf("install.sh would create %s, which import-mdad wrote", s.Name)
				}
			}
			stops := func(name string) bool {
				return regexp.MustCompile(`(?m)^would stop: secret ` + regexp.QuoteMeta(name) + ` `).MatchString(stdout.String())
			}
			for _, m := range r.Missing {
				switch {
				case m.Provided && !stops(m.Name):
					t.Errorf("install.sh does not stop for %s, which the operator must give\n%s", m.Name, stdout.String())
				case !m.Provided && !creates(m.Name):
					t.Errorf("install.sh does not create %s, which import-mdad could not give\n%s", m.Name, stdout.String())
				}
			}
			for _, v := range secretValues(r) {
				if strings.Contains(stdout.String()+stderr.String(), v) {
					t.Errorf("install.sh prints the value of a secret")
				}
			}
		})
	}
}

// TestMDADRules covers the rows that take a decision, one small vars.yml
// each: the options they set, or the reason they give.
func TestMDADRules(t *testing.T) {
	const base = "matrix_domain: example.com\ntraefik_config_certificatesResolvers_acme_email: a@example.com\n"
	for _, c := range []struct {
		name, vars string
		options    map[string]string // option path → value as written
		reasons    map[string]string // variable → part of its reason
	}{
		{
			name:    "other Traefik",
			vars:    "matrix_playbook_reverse_proxy_type: other-traefik-container\n",
			reasons: map[string]string{"matrix_playbook_reverse_proxy_type": "traefik.behind_proxy"},
		},
		{
			name:    "own webserver",
			vars:    "matrix_playbook_reverse_proxy_type: none\n",
			reasons: map[string]string{"matrix_playbook_reverse_proxy_type": "reverse_proxy.type to nginx, caddy or apache"},
		},
		{
			name:    "plain HTTP",
			vars:    "matrix_playbook_ssl_enabled: false\n",
			reasons: map[string]string{"matrix_playbook_ssl_enabled": "https://"},
		},
		{
			name:    "bind port without a proxy in front",
			vars:    "traefik_container_web_host_bind_port: '127.0.0.1:81'\n",
			reasons: map[string]string{"traefik_container_web_host_bind_port": "80 and 443"},
		},
		{
			name: "only the federation port in front",
			vars: "traefik_config_entrypoint_web_secure_enabled: false\nmatrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port: 8449\n",
			options: map[string]string{
				"traefik.behind_proxy.enabled": "true", "traefik.behind_proxy.port": "8449", "reverse_proxy.bind_address": "0.0.0.0",
			},
		},
		{
			name:    "open registration",
			vars:    "matrix_synapse_enable_registration: yes\nmatrix_synapse_enable_registration_without_verification: true\n",
			options: map[string]string{"homeserver.registration.mode": "open", "homeserver.registration.allow_unverified": "true"},
		},
		{
			name:    "a token without registration",
			vars:    "matrix_synapse_registration_requires_token: true\n",
			reasons: map[string]string{"matrix_synapse_registration_requires_token": "no effect"},
		},
		{
			name:    "closed registration",
			vars:    "matrix_synapse_enable_registration: false\nmatrix_synapse_registration_requires_token: true\n",
			options: map[string]string{"homeserver.registration.mode": "closed"},
			reasons: map[string]string{"matrix_synapse_registration_requires_token": "no effect"},
		},
		{
			name:    "TURN elsewhere while the playbook runs coturn",
			vars:    "matrix_synapse_turn_uris: ['turn:turn.example.org']\nmatrix_synapse_turn_shared_secret: Turn-Sec-1\n",
			options: map[string]string{"coturn.enabled": "true"},
			reasons: map[string]string{"matrix_synapse_turn_uris": "set matrix_coturn_enabled: false", "matrix_synapse_turn_shared_secret": "coturn is on"},
		},
		{
			name:    "a TURN secret without a server",
			vars:    "matrix_coturn_enabled: false\nmatrix_synapse_turn_shared_secret: Turn-Sec-2\n",
			reasons: map[string]string{"matrix_synapse_turn_shared_secret": "no TURN server is named"},
		},
		{
			name:    "OIDC providers while OIDC is off",
			vars:    "matrix_synapse_oidc_enabled: false\nmatrix_synapse_oidc_providers:\n  - {idp_id: x, issuer: 'https://x.example.com/', client_id: c, client_secret: Oidc-Sec-3}\n",
			options: map[string]string{"synapse.sso": "(not set)"},
		},
		{
			// A name the playbook does not have is said to be one, with the
			// closest it has; one it has keeps matrixgen's reason.
			name: "names the playbook does not have",
			vars: "matrix_synapse_workers_enabled: true\nmatrix_synapse_workers_generic_worker_count: 2\n" +
				"matrix_synapse_presense_enabled: false\nmatrix_synapse_workers_frobnicate: 3\n" +
				"matrix_synapse_workers_generic_workers_port_range_start: 18111\nmatrix_synapse_turn_allow_guest: true\n",
			reasons: map[string]string{
				"matrix_synapse_workers_generic_worker_count":             "not a variable of the playbook, which ignores it too; did you mean matrix_synapse_workers_generic_workers_count?",
				"matrix_synapse_presense_enabled":                         "did you mean matrix_synapse_presence_enabled?",
				"matrix_synapse_workers_frobnicate":                       "not a variable of the playbook, which ignores it too",
				"matrix_synapse_workers_generic_workers_port_range_start": "matrixgen has no option for it",
				"matrix_synapse_turn_allow_guest":                         "did you mean matrix_synapse_turn_allow_guests?",
			},
		},
		{
			name:    "a relay without a host",
			vars:    "exim_relay_relay_use: true\n",
			reasons: map[string]string{"exim_relay_relay_use": "no relay host"},
		},
		{
			name:    "a relay host not used",
			vars:    "exim_relay_relay_host_name: smtp.example.net\n",
			reasons: map[string]string{"exim_relay_relay_host_name": "not used"},
		},
		{
			name:    "no mail for Synapse",
			vars:    "matrix_synapse_email_enabled: false\n",
			options: map[string]string{"mailer.enabled": "false"},
		},
		{
			name:    "no mail for Synapse, relay kept",
			vars:    "exim_relay_enabled: true\nmatrix_synapse_email_enabled: false\n",
			options: map[string]string{"mailer.enabled": "true"},
			reasons: map[string]string{"matrix_synapse_email_enabled": "whenever the mail relay runs"},
		},
		{
			name:    "a second sender address",
			vars:    "exim_relay_sender_address: a@example.com\nmatrix_synapse_email_notif_from: 'Chat <b@example.com>'\n",
			options: map[string]string{"mailer.sender": "a@example.com"},
			reasons: map[string]string{"matrix_synapse_email_notif_from": "differs from mailer.sender"},
		},
		{
			name:    "the extension wins over a variable",
			vars:    "matrix_synapse_allow_public_rooms_over_federation: false\nmatrix_synapse_configuration_extension_yaml: |\n  allow_public_rooms_over_federation: true\n",
			options: map[string]string{"synapse.extra.allow_public_rooms_over_federation": "true"},
			reasons: map[string]string{"matrix_synapse_allow_public_rooms_over_federation": "already comes from matrix_synapse_configuration_extension_yaml"},
		},
		{
			name:    "an extension with statements",
			vars:    "matrix_synapse_configuration_extension_yaml: |\n  {% if true %}\n  a: 1\n  {% endif %}\n",
			reasons: map[string]string{"matrix_synapse_configuration_extension_yaml": "statements"},
		},
		{
			name:    "an extension as a mapping",
			vars:    "matrix_synapse_configuration_extension_yaml:\n  url_preview_accept_language: ['{{ lang }}']\nlang: de\n",
			options: map[string]string{"synapse.extra.url_preview_accept_language": "[de]"},
		},
		{
			name:    "an extension with a repeated key",
			vars:    "matrix_synapse_configuration_extension_yaml: |\n  max_upload_size: 10M\n  max_upload_size: 20M\n",
			options: map[string]string{"synapse.extra.max_upload_size": "20M"},
			reasons: map[string]string{"matrix_synapse_configuration_extension_yaml.max_upload_size": "set again on line 5"},
		},
		{
			name:    "external Postgres settings with the bundled one",
			vars:    "matrix_synapse_database_host: db.example.com\n",
			reasons: map[string]string{"matrix_synapse_database_host": "becomes the bundled one"},
		},
		{
			name:    "a superuser password without the bundled server",
			vars:    "postgres_enabled: false\nmatrix_synapse_database_host: db.example.com\npostgres_connection_password: x\n",
			options: map[string]string{"postgres.mode": "external"},
			reasons: map[string]string{"postgres_connection_password": "no bundled server"},
		},
		{
			name:    "a relay password without a login",
			vars:    "exim_relay_relay_use: true\nexim_relay_relay_host_name: smtp.example.net\nexim_relay_relay_auth: true\nexim_relay_relay_auth_password: pw\n",
			reasons: map[string]string{"exim_relay_relay_auth_password": "no secret mailer-smarthost-password"},
		},
		{
			name: "a bridge matrixgen does not have",
			vars: "matrix_bridge_mautrix_twitter_enabled: true\nmatrix_bridge_mautrix_twitter_login_shared_secret: x\nmatrix_synapse_something_new: 1\n",
			reasons: map[string]string{
				"matrix_bridge_mautrix_twitter_enabled":             "component matrixgen does not have",
				"matrix_bridge_mautrix_twitter_login_shared_secret": "configures matrix_bridge_mautrix_twitter",
				"matrix_synapse_something_new":                      "no equivalent option",
			},
		},
		{
			name:    "a bridge on SQLite",
			vars:    "postgres_enabled: false\nmatrix_synapse_database_host: db.example.com\nmatrix_bridge_mautrix_whatsapp_enabled: true\nmatrix_bridge_mautrix_whatsapp_logging_level: info\n",
			options: map[string]string{"bridges": "(not set)"},
			reasons: map[string]string{
				"matrix_bridge_mautrix_whatsapp_enabled":       "SQLite",
				"matrix_bridge_mautrix_whatsapp_logging_level": "mautrix-whatsapp is not translated (see matrix_bridge_mautrix_whatsapp_enabled, line 5)",
			},
		},
		{
			name: "a bridge on the external database server",
			vars: "postgres_enabled: false\nmatrix_synapse_database_host: db.example.com\nmatrix_bridge_mautrix_signal_enabled: true\n" +
				"matrix_bridge_mautrix_signal_database_engine: postgres\nmatrix_bridge_mautrix_signal_database_hostname: db.example.com\n",
			options: map[string]string{"bridges.mautrix-signal.type": "mautrix-signal"},
		},
		{
			name:    "a bridge's database on another server",
			vars:    "matrix_bridge_mautrix_slack_enabled: true\nmatrix_bridge_mautrix_slack_database_hostname: other-db.example.com\n",
			options: map[string]string{"bridges": "(not set)"},
			reasons: map[string]string{"matrix_bridge_mautrix_slack_enabled": "its database is on other-db.example.com"},
		},
		{
			name:    "a bridge's database on the playbook's PostgreSQL, by reference",
			vars:    "matrix_bridge_mautrix_slack_enabled: true\nmatrix_bridge_mautrix_slack_database_hostname: '{{ postgres_connection_hostname }}'\n",
			options: map[string]string{"bridges.mautrix-slack.type": "mautrix-slack"},
		},
		{
			name:    "heisenbridge without an owner",
			vars:    "matrix_bridge_heisenbridge_enabled: true\n",
			reasons: map[string]string{"matrix_bridge_heisenbridge_enabled": "needs its owner"},
		},
		{
			name:    "a bridge that is off",
			vars:    "matrix_bridge_mautrix_signal_enabled: false\nmatrix_bridge_mautrix_signal_logging_level: debug\nmatrix_mautrix_slack_logging_level: debug\n",
			options: map[string]string{"bridges": "(not set)"},
			reasons: map[string]string{
				"matrix_bridge_mautrix_signal_logging_level": "mautrix-signal is off (matrix_bridge_mautrix_signal_enabled, line 3)",
				"matrix_mautrix_slack_logging_level":         "only with matrix_bridge_mautrix_slack_enabled: true",
			},
		},
		{
			name:    "old names",
			vars:    "matrix_mautrix_whatsapp_enabled: true\nmatrix_mautrix_whatsapp_logging_level: info\nmatrix_bridge_mautrix_whatsapp_logging_level: debug\n",
			options: map[string]string{"bridges.mautrix-whatsapp.log_level": "info"},
			reasons: map[string]string{"matrix_bridge_mautrix_whatsapp_logging_level": "a new name"},
		},
		{
			name: "a bridge's names and levels",
			vars: "matrix_bridge_mautrix_discord_enabled: true\n" +
				"matrix_bridge_mautrix_discord_bridge_username_template: \"{% raw %}dc_{{.}}{% endraw %}\"\n" +
				"matrix_bridge_mautrix_discord_database_name: discord_db\n" +
				"matrix_bridge_mautrix_discord_database_username: discord_user\n" +
				"matrix_bridge_mautrix_discord_logging_level: fatal\n" +
				"matrix_bridge_mautrix_discord_bridge_encryption_enabled: true\n",
			options: map[string]string{
				"bridges.mautrix-discord.username_prefix": "dc_",
				"bridges.mautrix-discord.database_name":   "discord_db",
				"bridges.mautrix-discord.log_level":       "(not set)",
			},
			reasons: map[string]string{
				"matrix_bridge_mautrix_discord_database_username":         "RENAME TO discord_db",
				"matrix_bridge_mautrix_discord_logging_level":             `"fatal" is not one of`,
				"matrix_bridge_mautrix_discord_bridge_encryption_enabled": "bridge_encryption_allow",
			},
		},
		{
			name: "a bridge's permissions",
			vars: "matrix_admin: '@root:example.com'\nmatrix_bridge_mautrix_whatsapp_enabled: true\nmatrix_bridge_mautrix_whatsapp_bridge_permissions:\n" +
				"  '@alice:{{ matrix_domain }}': admin\n  '{{ matrix_domain }}': user\n  '*': block\n" +
				"matrix_bridge_mautrix_signal_enabled: true\nmatrix_bridge_mautrix_signal_bridge_permissions:\n  '@alice:{{ matrix_domain }}': admin\n",
			options: map[string]string{
				"bridges.mautrix-whatsapp.permissions": "(not set)",
				"bridges.mautrix-signal.permissions":   "map[@alice:example.com:admin]",
			},
			reasons: map[string]string{"matrix_bridge_mautrix_whatsapp_bridge_permissions": `*: "block" is not one of relay, commands, user, admin`},
		},
		{
			name: "a bridge's extension",
			vars: "matrix_bridges_relay_enabled: true\nmatrix_bridge_mautrix_telegram_enabled: true\n" +
				"matrix_bridge_mautrix_telegram_configuration_extension_yaml: |\n" +
				"  appservice:\n    bot:\n      username: tgbot\n      displayname: Telegram\n" +
				"  bridge:\n    relay:\n      enabled: false\n",
			options: map[string]string{
				"bridges.mautrix-telegram.extra.appservice.bot": "map[displayname:Telegram]",
				"bridges.mautrix-telegram.extra.bridge.relay":   "map[enabled:false]",
			},
			reasons: map[string]string{
				"matrix_bridges_relay_enabled": "sets bridge.relay.enabled too, and the playbook applies it last",
				"matrix_bridge_mautrix_telegram_configuration_extension_yaml.appservice.bot.username": "the bridge's option bot_username",
			},
		},
		{
			name: "Messenger in another mode",
			vars: "matrix_bridge_mautrix_meta_messenger_enabled: true\nmatrix_bridge_mautrix_meta_messenger_meta_mode: facebook-tor\n" +
				"matrix_bridge_mautrix_meta_instagram_enabled: true\nmatrix_bridge_mautrix_meta_instagram_bridge_username_prefix: ig_\n",
			options: map[string]string{
				"bridges.mautrix-meta-messenger.appservice_id":   "(not set)",
				"bridges.mautrix-meta-messenger.bot_username":    "messengerbot",
				"bridges.mautrix-meta-messenger.username_prefix": "(not set)",
				"bridges.mautrix-meta-messenger.database_name":   "matrix_mautrix_meta_facebook",
				"bridges.mautrix-meta-messenger.extra.network":   "map[tor:true]",
				"bridges.mautrix-meta-instagram.username_prefix": "ig_",
			},
		},
		{
			name:    "Messenger's old Instagram mode",
			vars:    "matrix_bridge_mautrix_meta_messenger_enabled: true\nmatrix_bridge_mautrix_meta_messenger_meta_mode: instagram\n",
			options: map[string]string{"bridges": "(not set)"},
			reasons: map[string]string{"matrix_bridge_mautrix_meta_messenger_enabled": "mautrix-meta-instagram bridge"},
		},
		{
			name:    "the bridges' settings without bridges",
			vars:    "matrix_admin: '@root:example.com'\nmatrix_bridges_encryption_enabled: true\nmatrix_appservice_double_puppet_registration_as_token: x\nmatrix_bridges_exposure_enabled: true\n",
			options: map[string]string{"bridges": "(not set)"},
			reasons: map[string]string{
				"matrix_appservice_double_puppet_registration_as_token": "no translated bridge double-puppets",
				"matrix_bridges_exposure_enabled":                       "does not publish",
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) { checkRule(t, base+c.vars, c.options, c.reasons) })
	}
}

// checkRule translates a small vars.yml and checks the options it sets
// (path → value as fmt prints it, "(not set)" for none) and the reasons
// of the variables it reports (name → part of the reason).
func checkRule(t *testing.T, vars string, options, reasons map[string]string) *Result {
	t.Helper()
	r, err := Translate("vars.yml", []byte(vars))
	if err != nil {
		t.Fatal(err)
	}
	for option, value := range options {
		got := optionText(t, r.Config, option)
		if got != value {
			t.Errorf("%s = %s, want %s\n%s", option, got, value, r.Config)
		}
	}
	for name, reason := range reasons {
		i := slices.IndexFunc(r.Untranslated, func(u Untranslated) bool { return u.Name == name })
		if i < 0 {
			t.Errorf("%s is not reported; reported: %v", name, r.Untranslated)
			continue
		}
		if !strings.Contains(r.Untranslated[i].Reason, reason) {
			t.Errorf("%s: reason %q, want one with %q", name, r.Untranslated[i].Reason, reason)
		}
	}
	return r
}

// optionText reads an option from a written config, as fmt prints it.
func optionText(t *testing.T, config []byte, option string) string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(config, &doc); err != nil {
		t.Fatal(err)
	}
	var v any = doc
	for _, part := range strings.Split(option, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "(not set)"
		}
		if v, ok = m[part]; !ok {
			return "(not set)"
		}
	}
	return fmt.Sprint(v)
}

// masDerived are the playbook's values for testdata/mas.yml, computed
// apart from DeriveSecret with Python, as Ansible's to_uuid does.
var masDerived = map[string]string{
	"mas.db":        "f238b2c3-bc2a-531f-bf84-51e78fc887db",
	"mas.hs.secret": "21e5d31b-0009-54ce-a32f-f39d5039eda5",
}
