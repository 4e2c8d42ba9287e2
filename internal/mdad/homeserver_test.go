package mdad

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/matrixgen/matrixgen/internal/config"
)

// The fixtures of the playbook's other homeservers run with the others
// (TestMDADFixtures).
func init() { fixtures = append(fixtures, homeserverFixtures...) }

var homeserverFixtures = []fixture{
	{
		name: "dendrite",
		untranslated: []string{
			"5 matrix_homeserver_implementation (Dendrite's data)",
			"22 matrix_dendrite_room_database",
			"23 matrix_dendrite_metrics_enabled",
			"24 matrix_dendrite_client_api_enable_registration_captcha",
			"30 matrix_dendrite_configuration_extension_yaml.media_api.max_file_size_bytes",
			"36 matrix_synapse_max_upload_size_mb",
			"38 exim_relay_sender_address",
			"41 matrix_ketesa_enabled",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "homeserver.implementation", c.Homeserver.Implementation, "dendrite")
			want(t, "dendrite.image", c.Dendrite.Image, "docker.io/matrixdotorg/dendrite-monolith:v0.13.8")
			want(t, "homeserver.registration", c.Homeserver.Registration.Mode+" unverified="+boolText(c.Homeserver.Registration.AllowUnverified), "open unverified=true")
			want(t, "homeserver.max_upload_size_mb", c.Homeserver.MaxUploadSizeMB, 100)
			want(t, "homeserver.auto_join_rooms", c.Homeserver.AutoJoinRooms[0], "#lobby:example.net")
			want(t, "mailer.enabled", c.Mailer.Enabled, false)
			want(t, "dendrite.extra.client_api", fmt.Sprint(c.Dendrite.Extra["client_api"]), "map[rate_limiting:map[threshold:40]]")
			want(t, "dendrite.extra.sync_api", fmt.Sprint(c.Dendrite.Extra["sync_api"]), "map[search:map[enabled:false]]")
			wantSecret(t, r, "dendrite-db-password", DeriveSecret("dendrite-generic-secret", "dendrite.db"))
			wantSecret(t, r, "dendrite-registration-secret", "Dendrite-Rss-2e2e")
			wantMissing(t, r, "dendrite-signing-key", true)
			wantMissing(t, r, "synapse-macaroon-secret", false)
			wantMissing(t, r, "mailer-smarthost-password", false)
		},
		secrets: []string{"dendrite-generic-secret", "Dendrite-Pg-Super-1d1d", "Dendrite-Rss-2e2e"},
	},
	{
		name: "continuwuity",
		untranslated: []string{
			"16 matrix_continuwuity_config_allow_federation",
			"27 matrix_continuwuity_config_emergency_password",
			"28 matrix_continuwuity_config_well_known_client",
			"29 matrix_continuwuity_config_rtc_foci_livekit_url",
			"30 matrix_continuwuity_config_port_number",
			"31 matrix_continuwuity_environment_variables_extension",
			"36 matrix_synapse_enable_registration",
			"38 matrix_bridge_mautrix_signal_enabled",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "homeserver.implementation", c.Homeserver.Implementation, "continuwuity")
			want(t, "continuwuity.image", c.Continuwuity.Image, "forgejo.ellis.link/continuwuation/continuwuity:v26.7.3")
			want(t, "homeserver.registration.mode", c.Homeserver.Registration.Mode, "token")
			want(t, "homeserver.federation.enabled", c.Homeserver.Federation.Enabled, false)
			// 20_000_000 bytes, rounded up to whole MiB.
			want(t, "homeserver.max_upload_size_mb", c.Homeserver.MaxUploadSizeMB, 20)
			want(t, "homeserver.trusted_key_servers", len(c.Homeserver.TrustedKeyServers), 2)
			want(t, "continuwuity.extra.default_room_version", fmt.Sprint(c.Continuwuity.Extra["default_room_version"]), "11")
			want(t, "continuwuity.extra.allow_outgoing_presence", fmt.Sprint(c.Continuwuity.Extra["allow_outgoing_presence"]), "true")
			if _, ok := c.Continuwuity.Extra["rocksdb_compression_level"]; ok {
				t.Error("an empty rocksdb_compression_level reached continuwuity.extra")
			}
			want(t, "bridges", len(c.Bridges.Enabled()), 0)
			wantSecret(t, r, "matrix-continuwuity-registration-token", "Cw-Token-3f3f")
			// RocksDB alone: the bundle runs no PostgreSQL.
			wantMissing(t, r, "postgres-password", false)
		},
		secrets: []string{"continuwuity-generic-secret", "Cw-Token-3f3f", "Cw-Emergency-4a4a"},
	},
	{
		name: "tuwunel",
		untranslated: []string{
			"25 matrix_tuwunel_config_ldap_enabled",
			"30 matrix_ketesa_enabled",
		},
		check: func(t *testing.T, c *config.Config, r *Result) {
			want(t, "homeserver.implementation", c.Homeserver.Implementation, "tuwunel")
			want(t, "hostnames.homeserver", c.Hostnames.Homeserver, "hs.example.org")
			want(t, "homeserver.registration", c.Homeserver.Registration.Mode+" unverified="+boolText(c.Homeserver.Registration.AllowUnverified), "open unverified=true")
			want(t, "homeserver.max_upload_size_mb", c.Homeserver.MaxUploadSizeMB, 50)
			want(t, "homeserver.turn.uris", c.Homeserver.TURN.URIs[0], "turn:turn.example.org:3478?transport=udp")
			want(t, "tuwunel.extra.allowed_remote_server_names_experimental", fmt.Sprint(c.Tuwunel.Extra["allowed_remote_server_names_experimental"]), "[example.com]")
			want(t, "tuwunel.extra.sentry", fmt.Sprint(c.Tuwunel.Extra["sentry"]), "false")
			want(t, "ketesa.enabled", c.Ketesa.Enabled, false)
			wantSecret(t, r, turnElsewhereSecret, "Tw-Turn-Secret-5b5b")
		},
		secrets: []string{"tuwunel-generic-secret", "Tw-Turn-Secret-5b5b"},
	},
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestHomeserverPassthroughKeys: every key import-mdad writes into
// continuwuity.extra or tuwunel.extra for a config_* variable is a key of
// that project's example config, the one the bundle's TOML is checked
// against.
func TestHomeserverPassthroughKeys(t *testing.T) {
	for _, k := range conduwuitKinds {
		path := filepath.Join(repoRoot(t), "internal", "pipeline", "testdata", "homeservers", k.name+"-example.toml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for suffix, key := range k.passthrough {
			documented := regexp.MustCompile(`(?m)^#? ?` + regexp.QuoteMeta(key) + ` ?=`)
			if !documented.Match(data) {
				t.Errorf("%s: matrix_%s_config_%s goes to %s, which %s does not have", k.name, k.name, suffix, key, filepath.Base(path))
			}
		}
	}
}
