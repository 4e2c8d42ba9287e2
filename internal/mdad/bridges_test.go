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

// Values of the playbook's derivation for testdata/bridges.yml, computed
// apart from DeriveSecret, with Python, as Ansible's to_uuid computes them:
//
//	uuid.uuid5(uuid.UUID("361e6d51-faec-444a-9079-341386da8e2e"),
//	           hashlib.sha512(b"bridges-generic-key-5f4e3d2c:" + salt).hexdigest())
var bridgesFixtureDerived = map[string]string{
	"wa.as.token":     "8a09676b-e562-5f60-af55-7b52ea8fd746",
	"wa.hs.token":     "a36e7aaf-9b67-5831-aae0-6c2223389b16",
	"mauwhatsapp.db":  "f6d72436-b6e0-5e63-99fd-5c5787f9ef62",
	"mau.fb.db":       "cbee14a3-b068-5ef8-a832-f02cf5b0589f",
	"as.doub.pup":     "7ff33224-3de8-5c2b-8aae-f36c8ebec0fa",
	"heisen.hs.tok":   "6cc78f44-ebf6-536c-8f15-cbbe1d199ebd",
	"maudisc.avatar":  "bfa9582e-9316-568d-a6cd-08cc5b43bd32",
	"hookshot.as.tok": "04420921-0d26-5a14-b445-75b6b5c23c13",
	"hookshot.hs.tok": "0e6dd5ae-2179-56d6-933c-ee0e1f3ddb5f",
}

func checkBridgesFixture(t *testing.T, c *config.Config, r *Result) {
	wantNames := []string{"heisenbridge", "hookshot", "mautrix-discord", "mautrix-gmessages", "mautrix-meta-instagram",
		"mautrix-meta-messenger", "mautrix-signal", "mautrix-slack", "mautrix-telegram", "mautrix-whatsapp"}
	if got := c.Bridges.Names(); !slices.Equal(got, wantNames) {
		t.Fatalf("bridges %v, want %v (bluesky is off)", got, wantNames)
	}
	bridge := func(name string) config.Bridge { return c.Bridges[name] }
	opt := func(name, path string) string {
		var v any = map[string]any(bridge(name).Options)
		for _, part := range strings.Split(path, ".") {
			m, _ := v.(map[string]any)
			v = m[part]
		}
		return fmt.Sprint(v)
	}

	// meta_mode: facebook names the appservice, users and database.
	messenger := bridge("mautrix-meta-messenger")
	want(t, "messenger appservice_id", messenger.AppserviceID, "facebook")
	want(t, "messenger bot", messenger.BotUsername, "messengerbot")
	want(t, "messenger prefix", messenger.UsernamePrefix, "facebook_")
	want(t, "messenger database", messenger.DatabaseName, "matrix_mautrix_meta_facebook")
	want(t, "instagram database", bridge("mautrix-meta-instagram").DatabaseName, "matrix_mautrix_meta_instagram")
	want(t, "heisenbridge prefix", bridge("heisenbridge").UsernamePrefix, "hbirc_")
	want(t, "heisenbridge owner", opt("heisenbridge", "owner"), "@alice:example.org")
	want(t, "discord bot", bridge("mautrix-discord").BotUsername, "discordbridge")
	want(t, "gmessages image", bridge("mautrix-gmessages").Image, "dock.mau.dev/mautrix/gmessages:v0.2602.0")

	// hookshot under matrixgen's appservice ID (the playbook's has a '-'),
	// with GitLab on as in the playbook, and GitHub off: its key is unused.
	want(t, "hookshot appservice_id", bridge("hookshot").AppserviceID, "hookshot")
	want(t, "hookshot gitlab", opt("hookshot", "gitlab.instances"), "[gitlab.com]")
	want(t, "hookshot github", opt("hookshot", "github"), "<nil>")
	wantReason(t, r, "matrix_bridge_hookshot_github_private_key", "it concerns GitHub, off here")
	wantNote(t, r, "bridges.hookshot.appservice_id: hookshot, not the playbook's matrix-hookshot")
	wantNote(t, r, "the playbook's hookshot encrypts, as matrix_bridges_encryption_enabled (line 12) is true")

	// matrix_admin, and relay mode for all bridges that have it; the
	// Discord bridge relays everyone in the playbook's default.
	want(t, "whatsapp permissions", opt("mautrix-whatsapp", "permissions"), "map[*:relay @alice:example.org:admin example.org:user]")
	want(t, "discord permissions", opt("mautrix-discord", "permissions"), "map[*:relay @alice:example.org:admin example.org:user]")
	want(t, "gmessages permissions", opt("mautrix-gmessages", "permissions"), "map[@alice:example.org:admin example.org:user]")
	want(t, "telegram relay", opt("mautrix-telegram", "extra.bridge.relay.enabled"), "true")
	want(t, "gmessages relay", opt("mautrix-gmessages", "extra"), "map[]")

	// Encryption for all, but Signal's default of its own.
	want(t, "whatsapp encryption", opt("mautrix-whatsapp", "encryption"), "map[allow:true default:true]")
	want(t, "signal encryption", opt("mautrix-signal", "encryption"), "map[allow:true default:false]")
	want(t, "double puppeting", opt("mautrix-slack", "double_puppet"), "true")

	// The extension, after the variables' settings.
	want(t, "whatsapp log_level", opt("mautrix-whatsapp", "log_level"), "debug")
	want(t, "whatsapp displayname", opt("mautrix-whatsapp", "extra.network.displayname_template"), "{{or .FullName .PushName}} (WA)")
	want(t, "whatsapp relay", opt("mautrix-whatsapp", "extra.bridge.relay"), "map[admin_only:false enabled:true]")
	want(t, "whatsapp extension permissions", opt("mautrix-whatsapp", "extra.bridge.permissions"), "map[@bob:example.org:admin]")

	for salt, secret := range map[string]string{
		"wa.as.token":     "mautrix-whatsapp-as-token",
		"wa.hs.token":     "mautrix-whatsapp-hs-token",
		"mauwhatsapp.db":  "matrix_mautrix_whatsapp-db-password",
		"as.doub.pup":     doublePuppetASToken,
		"heisen.hs.tok":   "heisenbridge-hs-token",
		"maudisc.avatar":  "mautrix-discord-avatar-proxy-key",
		"hookshot.as.tok": "hookshot-as-token",
		"hookshot.hs.tok": "hookshot-hs-token",
	} {
		wantSecret(t, r, secret, bridgesFixtureDerived[salt])
	}
	// Both Meta bridges: the playbook's one salt, under each database's name.
	wantSecret(t, r, "matrix_mautrix_meta_facebook-db-password", bridgesFixtureDerived["mau.fb.db"])
	wantSecret(t, r, "matrix_mautrix_meta_instagram-db-password", bridgesFixtureDerived["mau.fb.db"])
	wantSecret(t, r, "mautrix-slack-as-token", "Slack-As-Token-From-Vars-4410")
	wantSecret(t, r, "mautrix-telegram-api-id", "2040")
	wantSecret(t, r, "mautrix-whatsapp-pickle-key", "maunium.net/go/mautrix-whatsapp")
	wantSecret(t, r, "mautrix-signal-pickle-key", "mautrix.bridge.e2ee")
	wantMissing(t, r, "mautrix-whatsapp-public-media-key", true)
	wantMissing(t, r, "mautrix-bluesky-as-token", false)
}

func wantReason(t *testing.T, r *Result, name, reason string) {
	t.Helper()
	i := slices.IndexFunc(r.Untranslated, func(u Untranslated) bool { return u.Name == name })
	if i < 0 {
		t.Errorf("%s is not reported", name)
	} else if !strings.Contains(r.Untranslated[i].Reason, reason) {
		t.Errorf("%s: reason %q, want one with %q", name, r.Untranslated[i].Reason, reason)
	}
}

// TestMDADBridgeTakeover enables each bridge alone, as the playbook's docs
// do, and checks the bundle against the names the playbook gave the
// bridge (from its roles' defaults and templates): the unit and directory,
// the registration's ID and users, and the database and role. These are
// what the server's data is keyed by.
func TestMDADBridgeTakeover(t *testing.T) {
	for _, c := range []struct {
		enable, name, id, bot, prefix, database string
	}{
		{"matrix_bridge_mautrix_whatsapp_enabled", "mautrix-whatsapp", "whatsapp", "whatsappbot", "whatsapp_", "matrix_mautrix_whatsapp"},
		{"matrix_bridge_mautrix_signal_enabled", "mautrix-signal", "signal", "signalbot", "signal_", "matrix_mautrix_signal"},
		{"matrix_bridge_mautrix_telegram_enabled", "mautrix-telegram", "telegram", "telegrambot", "telegram_", "matrix_mautrix_telegram"},
		{"matrix_bridge_mautrix_discord_enabled", "mautrix-discord", "discord", "discordbot", "discord_", "matrix_mautrix_discord"},
		{"matrix_bridge_mautrix_slack_enabled", "mautrix-slack", "slack", "slackbot", "slack_", "matrix_mautrix_slack"},
		{"matrix_bridge_mautrix_gmessages_enabled", "mautrix-gmessages", "gmessages", "gmessagesbot", "gmessages_", "matrix_mautrix_gmessages"},
		{"matrix_bridge_mautrix_bluesky_enabled", "mautrix-bluesky", "bluesky", "blueskybot", "bluesky_", "matrix_mautrix_bluesky"},
		{"matrix_bridge_mautrix_meta_messenger_enabled", "mautrix-meta-messenger", "messenger", "messengerbot", "messenger_", "matrix_mautrix_meta_messenger"},
		{"matrix_bridge_mautrix_meta_instagram_enabled", "mautrix-meta-instagram", "instagram", "instagrambot", "instagram_", "matrix_mautrix_meta_instagram"},
		{"matrix_bridge_heisenbridge_enabled", "heisenbridge", "heisenbridge", "heisenbridge", "hbirc_", ""},
		// matrixgen's appservice ID, as the playbook's (matrix-hookshot)
		// is not one it takes; the rest is the playbook's.
		{"matrix_bridge_hookshot_enabled", "hookshot", "hookshot", "hookshot", "_webhooks_", ""},
		// The names before the playbook's rename of its variables.
		{"matrix_mautrix_whatsapp_enabled", "mautrix-whatsapp", "whatsapp", "whatsappbot", "whatsapp_", "matrix_mautrix_whatsapp"},
		{"matrix_heisenbridge_enabled", "heisenbridge", "heisenbridge", "heisenbridge", "hbirc_", ""},
		{"matrix_hookshot_enabled", "hookshot", "hookshot", "hookshot", "_webhooks_", ""},
	} {
		t.Run(c.enable, func(t *testing.T) {
			vars := "matrix_domain: example.net\ntraefik_config_certificatesResolvers_acme_email: a@example.net\n" + c.enable + ": true\n"
			if c.name == "heisenbridge" {
				vars += strings.TrimSuffix(c.enable, "enabled") + "owner: '@admin:example.net'\n"
			}
			r, err := Translate("vars.yml", []byte(vars))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Untranslated) > 0 {
				t.Errorf("not translated: %v", r.Untranslated)
			}
			res, problems := pipeline.Run(OutputName, r.Config)
			if len(problems) > 0 {
				t.Fatalf("%v\n%s", problems, r.Config)
			}
			unit := "matrix-" + c.name
			if !slices.ContainsFunc(res.Plan.Services, func(s plan.Service) bool { return s.Unit == unit }) {
				t.Errorf("no unit %s", unit)
			}
			reg := string(res.Tree["matrix/"+c.name+"/config/registration.yaml"].Data)
			for _, w := range []string{"id: " + c.id + "\n", "sender_localpart: " + c.bot + "\n", "@" + c.prefix} {
				if !strings.Contains(reg, w) {
					t.Errorf("the registration has no %q:\n%s", w, reg)
				}
			}
			if c.database != "" {
				i := slices.IndexFunc(res.Plan.Databases, func(d plan.Database) bool { return d.Owner == unit })
				if i < 0 {
					t.Fatalf("no database for %s: %v", unit, res.Plan.Databases)
				}
				if d := res.Plan.Databases[i]; d.Name != c.database || d.Role != c.database {
					t.Errorf("database %s, role %s; want %s for both", d.Name, d.Role, c.database)
				}
			}
		})
	}
}

// TestMDADBridgeSecretsDir writes the bridges' secrets as --secrets-dir
// does and reads back what install.sh will find on the host.
func TestMDADBridgeSecretsDir(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "bridges.yml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Translate("bridges.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := WriteSecrets(dir, r.Secrets); err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"mautrix-whatsapp-as-token":                 bridgesFixtureDerived["wa.as.token"],
		"matrix_mautrix_whatsapp-db-password":       bridgesFixtureDerived["mauwhatsapp.db"],
		"matrix_mautrix_meta_facebook-db-password":  bridgesFixtureDerived["mau.fb.db"],
		"matrix_mautrix_meta_instagram-db-password": bridgesFixtureDerived["mau.fb.db"],
		"appservice-double-puppet-as-token":         bridgesFixtureDerived["as.doub.pup"],
		"heisenbridge-hs-token":                     bridgesFixtureDerived["heisen.hs.tok"],
		"mautrix-slack-as-token":                    "Slack-As-Token-From-Vars-4410",
		"mautrix-telegram-api-id":                   "2040",
		"mautrix-telegram-api-hash":                 "0d1c2b3a49586776a5b4c3d2e1f00f1e",
		"mautrix-whatsapp-pickle-key":               "maunium.net/go/mautrix-whatsapp",
	} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != value {
			t.Errorf("%s holds %q (%v), want %q", name, got, err, value)
		}
		checkMode(t, filepath.Join(dir, name), 0o600)
	}
	// Nothing is written that the bundle does not read.
	res, problems := pipeline.Run(OutputName, r.Config)
	if len(problems) > 0 {
		t.Fatal(problems)
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
}
