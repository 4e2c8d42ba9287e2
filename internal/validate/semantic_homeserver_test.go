package validate

import (
	"strings"
	"testing"
)

// TestHomeserverRules: an option only Synapse has, or one another
// homeserver cannot honour, is refused at its line with the reason.
func TestHomeserverRules(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, at, says string
	}{
		{"workers on Dendrite", "homeserver: {implementation: dendrite}\nsynapse: {workers: {generic: 2}}",
			"synapse.workers", "workers are Synapse's processes"},
		{"Ketesa on Tuwunel", "homeserver: {implementation: tuwunel}\nketesa: {enabled: true}",
			"ketesa.enabled", "Synapse's admin API"},
		{"MAS on continuwuity", "homeserver: {implementation: continuwuity}\nmas: {enabled: true}",
			"mas.enabled", "Synapse's own delegation"},
		{"e-mail on Dendrite", "homeserver: {implementation: dendrite}\nmailer: {enabled: true}",
			"mailer.enabled", "Dendrite sends no e-mail"},
		{"token registration on Dendrite", "homeserver: {implementation: dendrite, registration: {mode: token}}",
			"homeserver.registration.mode", "never asks for one at /register"},
		{"token registration on Dendrite, old name", "homeserver: {implementation: dendrite}\nsynapse: {registration: {mode: token}}",
			"homeserver.registration.mode", "never asks for one at /register"},
		{"Synapse's log level beside shared options under old names",
			"homeserver: {implementation: tuwunel}\nsynapse: {presence: false, federation: {enabled: false}, log_level: INFO}",
			"synapse.log_level", "Synapse's Python loggers"},
		{"media retention on Dendrite", "homeserver: {implementation: dendrite}\nsynapse: {media_retention: {local_media_lifetime: 30d}}",
			"synapse.media_retention", "Synapse's own clean-up"},
		{"forgetting left rooms on continuwuity", "homeserver: {implementation: continuwuity}\nsynapse: {forget_rooms_on_leave: true}",
			"synapse.forget_rooms_on_leave", "it is Synapse's setting"},
		{"another homeserver's options", "homeserver: {implementation: tuwunel}\ndendrite: {extra: {a: 1}}",
			"dendrite", "homeserver.implementation is tuwunel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := Load("matrix.yaml", []byte(minimal+tc.yaml+"\n"))
			for _, p := range problems {
				if p.Path == tc.at && strings.Contains(p.Summary, tc.says) && p.Subject.Start.Line > 0 {
					return
				}
			}
			t.Errorf("want %s: …%s… at a line, got:\n%s", tc.at, tc.says, printed(problems))
		})
	}
}

// TestSharedOptionsOnEveryHomeserver: the options every homeserver takes
// are accepted for each, under their names and their old synapse.* ones.
func TestSharedOptionsOnEveryHomeserver(t *testing.T) {
	shared := "  presence: false\n  federation: {enabled: false, port: 443}\n  trusted_key_servers: [matrix.org]\n" +
		"  auto_join_rooms: [\"#lobby:example.org\"]\n  turn: {uris: [\"turn:turn.example.net:3478\"]}\n"
	for _, impl := range []string{"synapse", "dendrite", "continuwuity", "tuwunel"} {
		for _, section := range []string{"homeserver", "synapse"} {
			src := minimal + "homeserver:\n  implementation: " + impl + "\n"
			if section == "synapse" {
				src += "synapse:\n"
			}
			src += shared
			cfg, problems := Load("matrix.yaml", []byte(src))
			if len(problems) > 0 {
				t.Errorf("%s, under %s.*: refused:\n%s", impl, section, printed(problems))
				continue
			}
			if hs := cfg.Homeserver; hs.Presence || hs.Federation.Enabled || hs.Federation.Port != 443 ||
				len(hs.AutoJoinRooms) != 1 || hs.TURN == nil {
				t.Errorf("%s, under %s.*: homeserver.* is %+v", impl, section, hs)
			}
		}
	}
}
