package validate

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// TestRenamedOptionWarns: an option under its old name still works, with
// a warning at the old name's key that names both names.
func TestRenamedOptionWarns(t *testing.T) {
	src := minimal + "synapse:\n  log_level: DEBUG\n  max_upload_size_mb: 300\n  registration:\n    mode: open\n    allow_unverified: true\n"
	cfg, source, problems := LoadSource("matrix.yaml", []byte(src))
	if len(problems) > 0 {
		t.Fatalf("the old names are refused:\n%s", printed(problems))
	}
	if got := cfg.Homeserver.MaxUploadSizeMB; got != 300 {
		t.Errorf("homeserver.max_upload_size_mb = %d, want the 300 given as synapse.max_upload_size_mb", got)
	}
	if r := cfg.Homeserver.Registration; r.Mode != "open" || !r.AllowUnverified {
		t.Errorf("homeserver.registration = %+v, want what synapse.registration gave", r)
	}
	if cfg.Synapse.LogLevel != "DEBUG" {
		t.Error("synapse.log_level, beside the renamed options, was lost")
	}
	want := "matrix.yaml:6:3: synapse.max_upload_size_mb: warning: option renamed (synapse.max_upload_size_mb → homeserver.max_upload_size_mb); the old name still works; write the new one\n" +
		"matrix.yaml:7:3: synapse.registration: warning: option renamed (synapse.registration → homeserver.registration); the old name still works; write the new one\n"
	if got := printed(source.Warnings()); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
}

// TestRenamedOptionProblemsAtOldName: a problem with the value given under
// the old name points at the user's line, and the warning comes with it.
func TestRenamedOptionProblemsAtOldName(t *testing.T) {
	src := minimal + "synapse:\n  registration:\n    mode: sometimes\n"
	_, problems := Load("matrix.yaml", []byte(src))
	got := printed(problems)
	for _, want := range []string{
		"matrix.yaml:6:11: homeserver.registration.mode: invalid value",
		"matrix.yaml:5:3: synapse.registration: warning: option renamed (synapse.registration → homeserver.registration)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

// TestRenamedOptionGivenTwice: both names at once is an error at the old
// one, whatever the values, as they could disagree.
func TestRenamedOptionGivenTwice(t *testing.T) {
	src := minimal + "homeserver:\n  max_upload_size_mb: 100\nsynapse:\n  max_upload_size_mb: 100\n"
	cfg, problems := Load("matrix.yaml", []byte(src))
	if cfg != nil {
		t.Fatal("Load accepted an option given under both names")
	}
	want := "matrix.yaml:7:3: synapse.max_upload_size_mb: given twice: synapse.max_upload_size_mb is the old name of homeserver.max_upload_size_mb, which is set too; keep homeserver.max_upload_size_mb only\n"
	if got := printed(problems); got != want {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

// TestRenames: every renamed option, written under its old name, lands
// where its new name puts it, with a warning at each old name. Mappings
// written partly under each name merge, so traefik.federation_port (the
// old name of homeserver.federation.port) goes with either name of
// federation.enabled. One option under two names is refused at the old
// one. The YAML follows minimal, whose last section is traefik.
func TestRenames(t *testing.T) {
	federation := func(c *config.Config) any { return c.Homeserver.Federation }
	for _, tc := range []struct {
		name   string
		yaml   string
		got    func(*config.Config) any
		want   any
		warned []string // the old names warned about, in file order
	}{
		{"presence", "synapse:\n  presence: false\n",
			func(c *config.Config) any { return c.Homeserver.Presence }, false, []string{"synapse.presence"}},
		{"federation", "synapse:\n  federation:\n    enabled: false\n    port: 443\n",
			federation, config.Federation{Enabled: false, Port: 443}, []string{"synapse.federation"}},
		{"trusted key servers", "synapse:\n  trusted_key_servers: [keys.example.net]\n",
			func(c *config.Config) any { return c.Homeserver.TrustedKeyServers }, []string{"keys.example.net"},
			[]string{"synapse.trusted_key_servers"}},
		{"auto-join rooms", "synapse:\n  auto_join_rooms: [\"#lobby:example.org\"]\n",
			func(c *config.Config) any { return c.Homeserver.AutoJoinRooms }, []string{"#lobby:example.org"},
			[]string{"synapse.auto_join_rooms"}},
		{"TURN", "synapse:\n  turn:\n    uris: [\"turn:turn.example.net:3478\"]\n    allow_guests: true\n",
			func(c *config.Config) any { return c.Homeserver.TURN },
			&config.TURN{URIs: []string{"turn:turn.example.net:3478"}, AllowGuests: true, UserLifetime: "1h"},
			[]string{"synapse.turn"}},
		{"TURN, half under each name", "synapse:\n  turn:\n    allow_guests: true\nhomeserver:\n  turn:\n    uris: [\"turn:turn.example.net:3478\"]\n",
			func(c *config.Config) any { return c.Homeserver.TURN },
			&config.TURN{URIs: []string{"turn:turn.example.net:3478"}, AllowGuests: true, UserLifetime: "1h"},
			[]string{"synapse.turn"}},
		{"registration", "synapse:\n  registration: {mode: open, allow_unverified: true}\n",
			func(c *config.Config) any { return c.Homeserver.Registration },
			config.Registration{Mode: "open", Require3PID: []string{}, AllowUnverified: true}, []string{"synapse.registration"}},
		{"upload size", "synapse:\n  max_upload_size_mb: 300\n",
			func(c *config.Config) any { return c.Homeserver.MaxUploadSizeMB }, 300, []string{"synapse.max_upload_size_mb"}},
		{"federation port, older name", "  federation_port: 8449\n",
			federation, config.Federation{Enabled: true, Port: 8449}, []string{"traefik.federation_port"}},
		{"federation port, older name, with synapse.federation.enabled", "  federation_port: 8449\nsynapse:\n  federation:\n    enabled: false\n",
			federation, config.Federation{Enabled: false, Port: 8449}, []string{"traefik.federation_port", "synapse.federation"}},
		{"federation port, older name, with homeserver.federation.enabled", "  federation_port: 8449\nhomeserver:\n  federation:\n    enabled: false\n",
			federation, config.Federation{Enabled: false, Port: 8449}, []string{"traefik.federation_port"}},
		{"federation.enabled old, federation.port new", "synapse:\n  federation:\n    enabled: false\nhomeserver:\n  federation:\n    port: 443\n",
			federation, config.Federation{Enabled: false, Port: 443}, []string{"synapse.federation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, source, problems := LoadSource("matrix.yaml", []byte(minimal+tc.yaml))
			if len(problems) > 0 {
				t.Fatalf("refused:\n%s", printed(problems))
			}
			if got := tc.got(cfg); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			var warned []string
			for _, w := range source.Warnings() {
				if !strings.Contains(w.Summary, "option renamed ("+w.Path+" → ") {
					t.Errorf("warning without both names: %s", w)
				}
				warned = append(warned, w.Path)
			}
			if !reflect.DeepEqual(warned, tc.warned) {
				t.Errorf("warnings at %q, want at %q", warned, tc.warned)
			}
		})
	}
}

// TestRenamesGivenTwice: an option written under two of its names is
// refused, once, at the old one, which the message names with the other.
func TestRenamesGivenTwice(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"presence", "synapse:\n  presence: false\nhomeserver:\n  presence: false\n",
			"matrix.yaml:5:3: synapse.presence: given twice: synapse.presence is the old name of homeserver.presence, which is set too; keep homeserver.presence only"},
		{"federation port", "synapse:\n  federation:\n    port: 443\nhomeserver:\n  federation:\n    enabled: true\n    port: 443\n",
			"matrix.yaml:6:5: synapse.federation.port: given twice: synapse.federation.port is the old name of homeserver.federation.port, which is set too; keep homeserver.federation.port only"},
		{"federation written as a mapping and as a value", "synapse:\n  federation:\n    port: 443\nhomeserver:\n  federation: null\n",
			"matrix.yaml:5:3: synapse.federation: given twice: synapse.federation is the old name of homeserver.federation, which is set too; keep homeserver.federation only"},
		{"trusted key servers", "synapse:\n  trusted_key_servers: [matrix.org]\nhomeserver:\n  trusted_key_servers: []\n",
			"matrix.yaml:5:3: synapse.trusted_key_servers: given twice: synapse.trusted_key_servers is the old name of homeserver.trusted_key_servers, which is set too; keep homeserver.trusted_key_servers only"},
		{"auto-join rooms", "synapse:\n  auto_join_rooms: []\nhomeserver:\n  auto_join_rooms: []\n",
			"matrix.yaml:5:3: synapse.auto_join_rooms: given twice: synapse.auto_join_rooms is the old name of homeserver.auto_join_rooms, which is set too; keep homeserver.auto_join_rooms only"},
		{"TURN URIs", "synapse:\n  turn:\n    uris: [\"turn:a.example.net\"]\nhomeserver:\n  turn:\n    uris: [\"turn:b.example.net\"]\n",
			"matrix.yaml:6:5: synapse.turn.uris: given twice: synapse.turn.uris is the old name of homeserver.turn.uris, which is set too; keep homeserver.turn.uris only"},
		{"federation port, older name and new", "  federation_port: 8449\nhomeserver:\n  federation:\n    port: 8449\n",
			"matrix.yaml:4:3: traefik.federation_port: given twice: traefik.federation_port is the old name of homeserver.federation.port, which is set too; keep homeserver.federation.port only"},
		{"federation port, both old names", "  federation_port: 8449\nsynapse:\n  federation:\n    port: 8449\n",
			"matrix.yaml:4:3: traefik.federation_port: given twice: traefik.federation_port and synapse.federation.port are both old names of homeserver.federation.port; keep homeserver.federation.port only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := Load("matrix.yaml", []byte(minimal+tc.yaml))
			if cfg != nil {
				t.Fatal("accepted an option given under two names")
			}
			var givenTwice []string
			for _, p := range problems {
				if strings.Contains(p.Summary, "given twice") {
					givenTwice = append(givenTwice, strings.TrimSuffix(printed(diag.List{p}), "\n"))
				}
			}
			if len(givenTwice) != 1 || givenTwice[0] != tc.want {
				t.Errorf("problems:\n%s\nwant once:\n%s", printed(problems), tc.want)
			}
		})
	}
}

// TestRenamedOptionCannotMove: when something other than a mapping stands
// where the new name goes, the old name is refused with its successor.
func TestRenamedOptionCannotMove(t *testing.T) {
	src := minimal + "homeserver: dendrite\nsynapse:\n  max_upload_size_mb: 100\n"
	_, problems := Load("matrix.yaml", []byte(src))
	want := "matrix.yaml:6:3: synapse.max_upload_size_mb: option renamed; it is now homeserver.max_upload_size_mb"
	if got := printed(problems); !strings.Contains(got, want) {
		t.Errorf("problems lack %q:\n%s", want, got)
	}
}

// TestExamplesUseCurrentNames: the examples are what users copy.
func TestExamplesUseCurrentNames(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples not found: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, source, problems := LoadSource(f, data)
		if len(problems) > 0 {
			t.Fatalf("%s:\n%s", f, printed(problems))
		}
		if w := source.Warnings(); len(w) > 0 {
			t.Errorf("%s uses old option names:\n%s", f, printed(w))
		}
	}
}
