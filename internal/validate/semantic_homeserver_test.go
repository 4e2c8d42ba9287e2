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
