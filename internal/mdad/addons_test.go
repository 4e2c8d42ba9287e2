package mdad

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/pipeline"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// Values of the playbook's derivation for testdata/hookshot-bots-ketesa.yml,
// computed apart from DeriveSecret, with Python, as Ansible's to_uuid does:
//
//	uuid.uuid5(uuid.UUID("361e6d51-faec-444a-9079-341386da8e2e"),
//	           hashlib.sha512(b"hookshot-bots-key-0e9d8c7b:" + salt).hexdigest())
var hookshotBotsDerived = map[string]string{
	"hookshot.as.tok": "f9508f14-d75b-5465-9912-5ab9d7c75217",
	"hookshot.hs.tok": "84b27058-ce19-59ce-be30-7b7611677908",
	"mxpup.dsc.db":    "b4a0c505-b196-5bf4-a695-b65c7ebd606a",
}

func checkHookshotBotsFixture(t *testing.T, c *config.Config, r *Result) {
	optText := func(opts map[string]any, path string) string {
		var v any = opts
		for _, part := range strings.Split(path, ".") {
			m, _ := v.(map[string]any)
			v = m[part]
		}
		return fmt.Sprint(v)
	}
	hs := c.Bridges["hookshot"]
	want(t, "hookshot type", hs.Type, "matrix-hookshot")
	want(t, "hookshot appservice_id", hs.AppserviceID, "hookshot")
	want(t, "hookshot bot", hs.BotUsername, "hookshot")
	want(t, "hookshot prefix", hs.UsernamePrefix, "_webhooks_")
	hopt := func(path string) string { return optText(hs.Options, path) }
	want(t, "hookshot github", hopt("github"), "map[app_id:123456 oauth:true]")
	// The instance named otherwise than its host is reported, not renamed.
	want(t, "hookshot gitlab", hopt("gitlab.instances"), "[gitlab.com git.example.net]")
	want(t, "hookshot log_level", hopt("log_level"), "info")
	want(t, "hookshot webhooks", hopt("webhooks"), "true")
	want(t, "hookshot generic", fmt.Sprint(hs.Extra["generic"]), "map[allowJsTransformationFunctions:true enableHttpGet:true]")
	want(t, "hookshot feeds", fmt.Sprint(hs.Extra["feeds"]), "map[pollIntervalSeconds:300]")
	want(t, "hookshot defaultOptions", fmt.Sprint(hs.Extra["github"]), "map[defaultOptions:map[showIssueRoomLink:true]]")
	want(t, "hookshot permissions", fmt.Sprint(hs.Extra["permissions"]),
		"[map[actor:example.net services:[map[level:admin service:*]]] map[actor:@alice:example.org services:[map[level:manageConnections service:webhooks]]]]")
	if _, ok := hs.Extra["bridge"]; ok {
		t.Error("the extension's bridge.port, which matrixgen writes, was carried into extra")
	}

	draupnir := c.Bots["draupnir"]
	want(t, "draupnir type", draupnir.Type, "draupnir")
	want(t, "draupnir management_room", optText(draupnir.Options, "management_room"), "!mGmTrOoM0123:example.net")
	want(t, "draupnir extra", fmt.Sprint(draupnir.Extra), "map[experimentalRustCrypto:true protectAllJoinedRooms:true]")

	maubot := c.Bots["maubot"]
	want(t, "maubot database", maubot.DatabaseName, "matrix_bot_maubot")
	want(t, "maubot admin", optText(maubot.Options, "admin_username"), "alice")
	want(t, "maubot log_level", optText(maubot.Options, "log_level"), "info")

	want(t, "ketesa enabled", c.Ketesa.Enabled, true)
	want(t, "ketesa hostname", c.Ketesa.Hostname, "admin.example.net")
	want(t, "ketesa extra", fmt.Sprint(c.Ketesa.Extra), "map[corsCredentials:include menu:[map[label:Contact support url:https://example.net/support]]]")
	// The admin API stays closed to the world: the operator is told to
	// open it to their networks.
	want(t, "admin_api.allow", strings.Join(c.ReverseProxy.AdminAPI.Allow, " "), "127.0.0.1/32 ::1/128")
	wantNote(t, r, "reverse_proxy.admin_api.allow: while Ketesa runs")

	wantNote(t, r, "systemctl disable --now matrix-bot-maubot.service")
	wantNote(t, r, "systemctl disable --now matrix-bot-draupnir.service")
	wantNote(t, r, "https://matrix.example.net/hookshot/webhooks/github/oauth")

	wantSecret(t, r, "hookshot-as-token", hookshotBotsDerived["hookshot.as.tok"])
	wantSecret(t, r, "hookshot-hs-token", hookshotBotsDerived["hookshot.hs.tok"])
	wantSecret(t, r, "matrix_bot_maubot-db-password", hookshotBotsDerived["mxpup.dsc.db"])
	wantSecret(t, r, "maubot-admin-password", "Maubot-Admin-Alice-6262")
	wantSecret(t, r, "draupnir-access-token", "syt_Ym90LmRyYXVwbmly_Draupnir-Token-4242")
	wantSecret(t, r, "hookshot-github-webhook-secret", "Gh-Webhook-Secret-7070")
	wantSecret(t, r, "hookshot-github-client-id", "Iv1.0a1b2c3d4e5f6a7b")
	wantSecret(t, r, "hookshot-github-client-secret", "Gh-Client-Secret-8080")
	wantSecret(t, r, "hookshot-gitlab-webhook-secret", "Gl-Webhook-Secret-9090")
	wantSecret(t, r, "synapse-registration-secret", "Bots-Registration-3131")
	// The keys span lines: install.sh takes them over from the playbook's
	// files, which the bundle's plan names (TestMDADAddonTakeover).
	wantMissing(t, r, "hookshot-passkey", true)
	wantMissing(t, r, "hookshot-github-private-key", true)
	wantMissing(t, r, "maubot-unshared-secret", true)
}

func wantNote(t *testing.T, r *Result, part string) {
	t.Helper()
	if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, part) }) {
		t.Errorf("no note with %q; notes:\n%s", part, strings.Join(r.Notes, "\n"))
	}
}

func translateFixture(t *testing.T, name string) (*Result, *pipeline.Result) {
	t.Helper()
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
		t.Fatalf("%v\n%s", problems, r.Config)
	}
	return r, res
}

// TestMDADAddonTakeover builds the bundle of the fixture and holds it
// against what the playbook's roles keep their data under: /matrix/draupnir/data,
// /matrix/maubot/data and the database matrix_bot_maubot, and hookshot's
// keys in /matrix/hookshot, which install.sh takes over from the paths the
// translation names in its report.
func TestMDADAddonTakeover(t *testing.T) {
	r, res := translateFixture(t, "hookshot-bots-ketesa")
	service := func(unit string) plan.Service {
		i := slices.IndexFunc(res.Plan.Services, func(s plan.Service) bool { return s.Unit == unit })
		if i < 0 {
			t.Fatalf("no unit %s", unit)
		}
		return res.Plan.Services[i]
	}
	mounts := func(unit, source, target string) {
		t.Helper()
		if !slices.ContainsFunc(service(unit).Mounts, func(m plan.Mount) bool { return m.Source == source && m.Target == target && !m.ReadOnly }) {
			t.Errorf("%s does not mount %s at %s: %v", unit, source, target, service(unit).Mounts)
		}
	}
	service("matrix-hookshot")
	service("matrix-ketesa")
	mounts("matrix-draupnir", "/matrix/draupnir/data", "/data")
	mounts("matrix-maubot", "/matrix/maubot/data", "/data")

	i := slices.IndexFunc(res.Plan.Databases, func(d plan.Database) bool { return d.Owner == "matrix-maubot" })
	if i < 0 {
		t.Fatalf("no database for maubot: %v", res.Plan.Databases)
	}
	if d := res.Plan.Databases[i]; d.Name != "matrix_bot_maubot" || d.Role != "matrix_bot_maubot" || d.PasswordSecret != "matrix_bot_maubot-db-password" {
		t.Errorf("maubot's database %s, role %s, password %s; want the playbook's matrix_bot_maubot", d.Name, d.Role, d.PasswordSecret)
	}

	for name, from := range map[string]string{
		"hookshot-passkey":            "/matrix/hookshot/passkey.pem",
		"hookshot-github-private-key": "/matrix/hookshot/private-key.pem",
	} {
		i := slices.IndexFunc(res.Plan.Secrets, func(s plan.Secret) bool { return s.Name == name })
		if i < 0 {
			t.Errorf("the bundle has no secret %s", name)
			continue
		}
		if got := res.Plan.Secrets[i].ImportFrom; got != from {
			t.Errorf("install.sh takes %s over from %q, want the playbook's %s", name, got, from)
		}
		j := slices.IndexFunc(r.Missing, func(m MissingSecret) bool { return m.Name == name })
		if j < 0 || !strings.Contains(r.Missing[j].Reason, "takes it over from "+from) {
			t.Errorf("the report does not say that install.sh takes %s over from %s: %v", name, from, r.Missing)
		}
	}

	routes := map[string]string{}
	for _, rt := range res.Plan.Routes {
		routes[rt.Service+" "+rt.PathPrefix] = rt.Host
	}
	for route, host := range map[string]string{
		"matrix-hookshot /hookshot/webhooks/": "matrix.example.net",
		"matrix-maubot /_matrix/maubot":       "matrix.example.net",
		"matrix-ketesa /":                     "admin.example.net",
	} {
		if routes[route] != host {
			t.Errorf("route %s on %q, want %s; routes %v", route, routes[route], host, routes)
		}
	}
	reg := string(res.Tree["matrix/hookshot/config/registration.yaml"].Data)
	for _, w := range []string{"id: hookshot\n", "sender_localpart: hookshot\n", "@_webhooks_", "@_github_", "@_gitlab_"} {
		if !strings.Contains(reg, w) {
			t.Errorf("hookshot's registration has no %q:\n%s", w, reg)
		}
	}
}

// TestMDADAddonSecretsDir writes the fixture's secrets as --secrets-dir
// does and reads back what install.sh will find on the host.
func TestMDADAddonSecretsDir(t *testing.T) {
	r, res := translateFixture(t, "hookshot-bots-ketesa")
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := WriteSecrets(dir, r.Secrets); err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"hookshot-as-token":              hookshotBotsDerived["hookshot.as.tok"],
		"hookshot-hs-token":              hookshotBotsDerived["hookshot.hs.tok"],
		"matrix_bot_maubot-db-password":  hookshotBotsDerived["mxpup.dsc.db"],
		"maubot-admin-password":          "Maubot-Admin-Alice-6262",
		"draupnir-access-token":          "syt_Ym90LmRyYXVwbmly_Draupnir-Token-4242",
		"hookshot-github-webhook-secret": "Gh-Webhook-Secret-7070",
		"hookshot-gitlab-webhook-secret": "Gl-Webhook-Secret-9090",
	} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != value {
			t.Errorf("%s holds %q (%v), want %q", name, got, err, value)
		}
		checkMode(t, filepath.Join(dir, name), 0o600)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.ContainsFunc(res.Plan.Secrets, func(s plan.Secret) bool { return s.Name == e.Name() }) {
			t.Errorf("%s was written, and the bundle has no such secret", e.Name())
		}
	}
	// The GitHub App's key spans lines: it is not written, but taken over
	// from the playbook's file.
	if _, err := os.Stat(filepath.Join(dir, "hookshot-github-private-key")); err == nil {
		t.Error("the GitHub App's key was written into the secrets directory")
	}
}

// TestMDADAddonRules covers the decisions of the hookshot, bots and admin
// UI translation, one small vars.yml each.
func TestMDADAddonRules(t *testing.T) {
	const base = "matrix_domain: example.com\ntraefik_config_certificatesResolvers_acme_email: a@example.com\n"
	for _, c := range []struct {
		name, vars string
		options    map[string]string // option path → value as fmt prints it
		reasons    map[string]string // variable → part of its reason
	}{
		{
			name: "hookshot under its old names",
			vars: "matrix_hookshot_enabled: true\nmatrix_hookshot_gitlab_enabled: false\nmatrix_hookshot_generic_userIdPrefix: _hook_\n" +
				"matrix_bridge_hookshot_logging_level: debug\n",
			options: map[string]string{
				"bridges.hookshot.type":            "matrix-hookshot",
				"bridges.hookshot.gitlab":          "(not set)",
				"bridges.hookshot.username_prefix": "_hook_",
				"bridges.hookshot.log_level":       "(not set)",
			},
			reasons: map[string]string{"matrix_bridge_hookshot_logging_level": "a new name"},
		},
		{
			name:    "hookshot's GitHub without an App ID",
			vars:    "matrix_bridge_hookshot_enabled: true\nmatrix_bridge_hookshot_github_enabled: true\nmatrix_bridge_hookshot_github_webhook_secret: x\n",
			options: map[string]string{"bridges.hookshot.github": "(not set)"},
			reasons: map[string]string{
				"matrix_bridge_hookshot_github_enabled":        "no App ID",
				"matrix_bridge_hookshot_github_webhook_secret": "it concerns GitHub, which is not translated (see matrix_bridge_hookshot_github_enabled, line 4)",
			},
		},
		{
			name: "hookshot's GitHub key in another file",
			vars: "matrix_bridge_hookshot_enabled: true\nmatrix_bridge_hookshot_github_enabled: true\nmatrix_bridge_hookshot_github_auth_id: 42\n" +
				"matrix_bridge_hookshot_github_private_key_file: app.pem\n",
			options: map[string]string{"bridges.hookshot.github.app_id": "42"},
			reasons: map[string]string{"matrix_bridge_hookshot_github_private_key_file": "copy /matrix/hookshot/app.pem to /matrix/secrets/hookshot-github-private-key"},
		},
		{
			name: "hookshot with encryption, widgets and its own URLs",
			vars: "matrix_bridge_hookshot_enabled: true\nmatrix_bridge_hookshot_encryption_enabled: true\nmatrix_bridge_hookshot_widgets_enabled: true\n" +
				"matrix_bridge_hookshot_public_endpoint: /hooks\nmatrix_bridge_hookshot_jira_enabled: true\nmatrix_bridge_hookshot_generic_enabled: false\n" +
				"matrix_bridge_hookshot_generic_outbound: true\n",
			options: map[string]string{"bridges.hookshot.webhooks": "false", "bridges.hookshot.extra": "(not set)"},
			reasons: map[string]string{
				"matrix_bridge_hookshot_encryption_enabled": "without encryption",
				"matrix_bridge_hookshot_widgets_enabled":    "no widgets listener",
				"matrix_bridge_hookshot_public_endpoint":    "https://matrix.example.com/hookshot/webhooks/",
				"matrix_bridge_hookshot_jira_enabled":       "Jira",
				"matrix_bridge_hookshot_generic_outbound":   "it concerns webhooks, off here",
			},
		},
		{
			name:    "Draupnir with zero-touch deployment",
			vars:    "matrix_bot_draupnir_enabled: true\nmatrix_bot_draupnir_zero_touch_deploy: true\nmatrix_bot_draupnir_config_initialManager: '@a:example.com'\n",
			options: map[string]string{"bots": "(not set)"},
			reasons: map[string]string{
				"matrix_bot_draupnir_enabled":               "made its management room itself",
				"matrix_bot_draupnir_config_initialManager": "Draupnir is not translated",
			},
		},
		{
			name:    "Draupnir without a management room",
			vars:    "matrix_bot_draupnir_enabled: true\n",
			options: map[string]string{"bots": "(not set)"},
			reasons: map[string]string{"matrix_bot_draupnir_enabled": "needs its management room"},
		},
		{
			name: "Draupnir through Pantalaimon",
			vars: "matrix_bot_draupnir_enabled: true\nmatrix_bot_draupnir_config_managementRoom: '#mods:example.com'\n" +
				"matrix_bot_draupnir_pantalaimon_use: true\nmatrix_bot_draupnir_pantalaimon_password: pw\nmatrix_bot_draupnir_config_web_synapseHTTPAntispam_enabled: true\n",
			options: map[string]string{"bots.draupnir.management_room": "#mods:example.com"},
			reasons: map[string]string{
				"matrix_bot_draupnir_pantalaimon_use":                        "not through Pantalaimon",
				"matrix_bot_draupnir_pantalaimon_password":                   "not with a password",
				"matrix_bot_draupnir_config_web_synapseHTTPAntispam_enabled": "synapse-http-antispam",
			},
		},
		{
			name:    "maubot on SQLite",
			vars:    "postgres_enabled: false\nmatrix_synapse_database_host: db.example.com\nmatrix_bot_maubot_enabled: true\n",
			options: map[string]string{"bots": "(not set)"},
			reasons: map[string]string{"matrix_bot_maubot_enabled": "SQLite (under /matrix/maubot/data)"},
		},
		{
			name: "maubot's admins, level and address",
			vars: "matrix_bot_maubot_enabled: true\nmatrix_bot_maubot_admins:\n  root: ''\n  admin: pw1\nmatrix_bot_maubot_logging_level: CRITICAL\n" +
				"matrix_bot_maubot_path_prefix: /maubot\nmatrix_bot_maubot_database_username: maubot\n" +
				"matrix_bot_maubot_container_management_interface_http_bind_port: '127.0.0.1:29399'\n",
			options: map[string]string{
				"bots.maubot.admin_username": "(not set)",
				"bots.maubot.log_level":      "(not set)",
				"bots.maubot.host_port":      "29399",
			},
			reasons: map[string]string{
				"matrix_bot_maubot_admins.root":       "maubot keeps root",
				"matrix_bot_maubot_logging_level":     `"CRITICAL"`,
				"matrix_bot_maubot_path_prefix":       "https://matrix.example.com/_matrix/maubot/ only",
				"matrix_bot_maubot_database_username": "RENAME TO matrix_bot_maubot",
			},
		},
		{
			name:    "Ketesa under the playbook's recommended path",
			vars:    "matrix_ketesa_enabled: true\nmatrix_ketesa_path_prefix: /ketesa\nmatrix_ketesa_version: v1.3.0\nmatrix_ketesa_container_http_host_bind_port: '8790'\n",
			options: map[string]string{"ketesa.path": "/ketesa", "ketesa.image": "ghcr.io/etkecc/ketesa:v1.3.0", "ketesa.host_port": "8790"},
		},
		{
			name:    "Ketesa at the homeserver's root",
			vars:    "matrix_ketesa_enabled: true\nmatrix_ketesa_path_prefix: /\n",
			options: map[string]string{"ketesa.enabled": "true", "ketesa.path": "(not set)", "ketesa.hostname": "(not set)"},
			reasons: map[string]string{"matrix_ketesa_path_prefix": "https://matrix.example.com/ketesa/"},
		},
		{
			name:    "Ketesa under a path on another hostname",
			vars:    "matrix_ketesa_enabled: true\nmatrix_ketesa_hostname: admin.example.com\n",
			options: map[string]string{"ketesa.hostname": "(not set)", "ketesa.path": "(not set)"},
			reasons: map[string]string{"matrix_ketesa_hostname": "not under /synapse-admin on admin.example.com"},
		},
		{
			name: "synapse-admin before it became Ketesa",
			vars: "matrix_synapse_admin_enabled: true\nmatrix_synapse_admin_public_endpoint: /admin\nmatrix_synapse_admin_version: v0.10.3\n" +
				"matrix_synapse_admin_contact: 'mailto:admin@example.com'\nmatrix_ketesa_path_prefix: /ketesa\n",
			options: map[string]string{"ketesa.path": "/admin", "ketesa.image": "(not set)"},
			reasons: map[string]string{
				"matrix_synapse_admin_version": "synapse-admin's image",
				"matrix_synapse_admin_contact": "no equivalent option",
				"matrix_ketesa_path_prefix":    "a new name",
			},
		},
		{
			name:    "the admin UI and the bots off",
			vars:    "matrix_ketesa_enabled: false\nmatrix_ketesa_path_prefix: /ketesa\nmatrix_bot_maubot_admins: {a: b}\n",
			options: map[string]string{"ketesa": "(not set)", "bots": "(not set)"},
			reasons: map[string]string{
				"matrix_ketesa_path_prefix": "Ketesa is off",
				"matrix_bot_maubot_admins":  "only with matrix_bot_maubot_enabled: true",
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := checkRule(t, base+c.vars, c.options, c.reasons)
			if len(r.Problems) > 0 {
				t.Errorf("the config does not validate: %v\n%s", r.Problems, r.Config)
			}
			for _, u := range r.Untranslated {
				if strings.Contains(u.Reason, "a bug in import-mdad") {
					t.Errorf("%s was not handled", u.Name)
				}
			}
		})
	}
}
