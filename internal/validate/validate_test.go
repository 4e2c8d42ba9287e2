package validate

import (
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// minimal is the smallest config that loads: the two options without a default.
const minimal = "domain: example.org\ntraefik:\n  acme_email: admin@example.org\n"

func mustLoad(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, problems := Load("matrix.yaml", []byte(src))
	if len(problems) > 0 || cfg == nil {
		t.Fatalf("Load refused a valid config:\n%s\n%s", printed(problems), src)
	}
	return cfg
}

func printed(l diag.List) string {
	var b strings.Builder
	diag.Print(&b, l, "")
	return b.String()
}

func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples not found: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			mustLoad(t, string(data))
		})
	}
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, minimal)
	for _, tc := range []struct {
		option    string
		got, want any
	}{
		{"version", c.Version, 1},
		{"hostnames.homeserver", c.Hostnames.Homeserver, "matrix.example.org"},
		{"hostnames.element", c.Hostnames.Element, "element.example.org"},
		{"host.data_dir", c.Host.DataDir, "/matrix"},
		{"host.user", c.Host.User, "matrix"},
		{"host.group", c.Host.Group, "matrix"},
		{"host.uid", c.Host.UID, (*int)(nil)},
		{"host.networks.homeserver", c.Host.Networks.Homeserver, "matrix"},
		{"host.networks.proxy", c.Host.Networks.Proxy, "traefik"},
		{"homeserver.registration.mode", c.Homeserver.Registration.Mode, "closed"},
		{"homeserver.registration.require_3pid", c.Homeserver.Registration.Require3PID, []string{}},
		{"homeserver.max_upload_size_mb", c.Homeserver.MaxUploadSizeMB, 50},
		{"homeserver.presence", c.Homeserver.Presence, true},
		{"homeserver.federation.enabled", c.Homeserver.Federation.Enabled, true},
		{"homeserver.federation.port", c.Homeserver.Federation.Port, 8448},
		{"homeserver.trusted_key_servers", c.Homeserver.TrustedKeyServers, []string{"matrix.org"}},
		{"synapse.limit_remote_rooms.complexity", c.Synapse.LimitRemoteRooms.Complexity, 1.0},
		{"synapse.log_level", c.Synapse.LogLevel, "WARNING"},
		{"synapse.admin_contact", c.Synapse.AdminContact, ""},
		{"synapse.extra", c.Synapse.Extra, map[string]any{}},
		{"postgres.mode", c.Postgres.Mode, "bundled"},
		{"postgres.bundled.major", c.Postgres.Bundled.Major, 17},
		{"postgres.bundled.memory_mb", c.Postgres.Bundled.MemoryMB, 1024},
		{"postgres.bundled.max_connections", c.Postgres.Bundled.MaxConnections, 200},
		{"postgres.external.sslmode", c.Postgres.External.SSLMode, "verify-full"},
		{"traefik.acme_staging", c.Traefik.ACMEStaging, false},
		{"traefik.http3", c.Traefik.HTTP3, true},
		{"element.enabled", c.Element.Enabled, true},
		{"element.brand", c.Element.Brand, "Element"},
		{"element.default_theme", c.Element.DefaultTheme, "light"},
		{"well_known.server", c.WellKnown.Server, true},
		{"well_known.serve_base_domain", c.WellKnown.ServeBaseDomain, false},
		{"mailer.enabled", c.Mailer.Enabled, true},
		{"mailer.sender", c.Mailer.Sender, "matrix@example.org"},
		{"mailer.sender_name", c.Mailer.SenderName, "Matrix"},
		{"mailer.smarthost", c.Mailer.Smarthost, (*config.Smarthost)(nil)},
		{"reverse_proxy.type", c.ReverseProxy.Type, "traefik"},
		{"coturn.enabled", c.Coturn.Enabled, false},
		{"coturn.hostname", c.Coturn.Hostname, "matrix.example.org"},
		{"coturn.port", c.Coturn.Port, 3478},
		{"coturn.relay_min_port", c.Coturn.RelayMinPort, 49152},
		{"coturn.relay_max_port", c.Coturn.RelayMaxPort, 49172},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.option, tc.got, tc.want)
		}
	}
}

// Defaults computed from other options follow those options, not the
// values they would have had.
func TestDerivedDefaultsFollow(t *testing.T) {
	c := mustLoad(t, "domain: chat.example.net\ntraefik:\n  acme_email: admin@example.org\nhostnames:\n  homeserver: hs.example.net\n")
	for _, tc := range []struct{ option, got, want string }{
		{"hostnames.element", c.Hostnames.Element, "element.chat.example.net"},
		{"coturn.hostname", c.Coturn.Hostname, "hs.example.net"},
		{"mailer.sender", c.Mailer.Sender, "matrix@chat.example.net"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.option, tc.got, tc.want)
		}
	}
}

// The forms YAML allows must not be mistaken for the problems the corpus
// refuses: an empty second document, a tab that is not indentation, CR bytes.
func TestYAMLFormsAccepted(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"document start", "---\n" + minimal},
		{"document end", minimal + "...\n"},
		{"empty documents after", minimal + "---\n---\n# nothing\n"},
		{"CRLF", strings.ReplaceAll(minimal, "\n", "\r\n")},
		{"byte-order mark", "\ufeff" + minimal},
		{"no final newline", strings.TrimSuffix(minimal, "\n")},
		{"flow style", "{domain: example.org, traefik: {acme_email: admin@example.org}}"},
		{"tab between key and value", minimal + "mailer:\n  sender_name:\tMatrix  Chat\n"},
		{"comments and blank lines", "# c\n\n" + strings.ReplaceAll(minimal, "\n", " # c\n\n")},
		{"quoted keys", "\"domain\": example.org\n'traefik':\n  \"acme_email\": admin@example.org\n"},
		{"hex and octal integers", minimal + "host:\n  uid: 0x3e7\n  gid: 0o1747\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mustLoad(t, tc.src)
		})
	}
}

// hostileAccepted lists values the schema lets through on purpose although
// they are dangerous in some output format: free text (brand), the extra
// mappings that are merged into generated files, and addresses whose
// patterns only exclude whitespace. Each must reach the Config unchanged;
// the renderers' escaping tests take it from there. A row that stops loading
// belongs in testdata/invalid instead.
var hostileAccepted = []struct {
	name, yaml string
	get        func(*config.Config) any
	want       any
}{
	{"brand with shell and template syntax", "element:\n  brand: \"Chat; $(id) `id` ${HOME} %n {x} {{.Y}} 'a' \\\"b\\\" \\\\\"\n",
		func(c *config.Config) any { return c.Element.Brand }, "Chat; $(id) `id` ${HOME} %n {x} {{.Y}} 'a' \"b\" \\"},
	{"brand with HTML", "element:\n  brand: \"</script><script>alert(1)</script>\"\n",
		func(c *config.Config) any { return c.Element.Brand }, "</script><script>alert(1)</script>"},
	{"brand with line breaks outside C0", "element:\n  brand: \"a\\x7fb\\u0085c\\u2028d\"\n",
		func(c *config.Config) any { return c.Element.Brand }, "a\x7fb\u0085c\u2028d"},
	{"brand with leading dash and spaces", "element:\n  brand: \" -rf  \"\n",
		func(c *config.Config) any { return c.Element.Brand }, " -rf  "},
	{"synapse.extra with anything", "synapse:\n  extra:\n    \"key\\nwith: newline\": \"value\\n$(id)\\r\\n%n\"\n",
		func(c *config.Config) any { return c.Synapse.Extra }, map[string]any{"key\nwith: newline": "value\n$(id)\r\n%n"}},
	{"traefik.extra with a template", "traefik:\n  acme_email: admin@example.org\n  extra:\n    log: {format: \"{{ .Env }}\"}\n",
		func(c *config.Config) any { return c.Traefik.Extra }, map[string]any{"log": map[string]any{"format": "{{ .Env }}"}}},
	{"element.extra with a script", "element:\n  extra:\n    custom: \"</script>\\u2028\"\n",
		func(c *config.Config) any { return c.Element.Extra }, map[string]any{"custom": "</script>\u2028"}},
	{"well_known.client_extra with quotes", "well_known:\n  client_extra:\n    \"a\\\"b\": \"c'd\\\\\"\n",
		func(c *config.Config) any { return c.WellKnown.ClientExtra }, map[string]any{"a\"b": "c'd\\"}},
	{"postgres setting with SQL and a newline", "postgres:\n  bundled:\n    extra:\n      application_name: \"x'; DROP TABLE users; --\\nhost all all 0.0.0.0/0 trust\"\n",
		func(c *config.Config) any { return c.Postgres.Bundled.Extra["application_name"] }, "x'; DROP TABLE users; --\nhost all all 0.0.0.0/0 trust"},
	{"smarthost user with shell syntax", "mailer:\n  smarthost:\n    host: smtp.example.net\n    user: \"a;b$(id)`x`%n{y}'\\\"\"\n",
		func(c *config.Config) any { return c.Mailer.Smarthost.User }, "a;b$(id)`x`%n{y}'\""},
	{"smarthost host with a leading dash", "mailer:\n  smarthost:\n    host: -oX\n",
		func(c *config.Config) any { return c.Mailer.Smarthost.Host }, "-oX"},
	{"postgres host with a leading dash", "postgres:\n  mode: external\n  external:\n    host: --help\n",
		func(c *config.Config) any { return c.Postgres.External.Host }, "--help"},
	{"admin_contact with shell syntax", "synapse:\n  admin_contact: \"mailto:a@example.org?subject=$(id);`x`%n{y}'\\\"\"\n",
		func(c *config.Config) any { return c.Synapse.AdminContact }, "mailto:a@example.org?subject=$(id);`x`%n{y}'\""},
	{"support page with placeholders", "well_known:\n  support:\n    page: \"https://example.org/{http.request.uri}?a=$HOME;b=%n\"\n",
		func(c *config.Config) any { return c.WellKnown.Support.Page }, "https://example.org/{http.request.uri}?a=$HOME;b=%n"},
	{"room alias with shell syntax", "homeserver:\n  auto_join_rooms: [\"#$(id);`x`%n{y}'\\\":example.org\"]\n",
		func(c *config.Config) any { return c.Homeserver.AutoJoinRooms }, []string{"#$(id);`x`%n{y}'\":example.org"}},
	{"matrix_id with shell syntax", "well_known:\n  support:\n    contacts:\n      - matrix_id: \"@$(id)`x`;%n:example.org\"\n",
		func(c *config.Config) any { return c.WellKnown.Support.Contacts[0].MatrixID }, "@$(id)`x`;%n:example.org"},
	{"e-mail with a systemd specifier", "mailer:\n  sender: \"a%n+b@example.org\"\n",
		func(c *config.Config) any { return c.Mailer.Sender }, "a%n+b@example.org"},
}

func TestHostileAccepted(t *testing.T) {
	for _, tc := range hostileAccepted {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := minimal
			if strings.HasPrefix(tc.yaml, "traefik:") {
				src = "domain: example.org\n"
			}
			c := mustLoad(t, src+tc.yaml)
			if got := tc.get(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// wholeFile names the corpus cases whose problem has no node to point at.
var wholeFile = map[string]string{
	"testdata/generated/huge.yaml":         "refused by size before parsing",
	"testdata/invalid/empty-file.yaml":     "no node at all",
	"testdata/invalid/comments-only.yaml":  "no node at all",
	"testdata/invalid/empty-document.yaml": "no node at all",
}

// corpusInputs returns every corpus case, read or generated, by file name.
func corpusInputs(t *testing.T) map[string][]byte {
	t.Helper()
	inputs := map[string][]byte{}
	for _, f := range corpusFiles(t) {
		data, err := os.ReadFile(filepath.FromSlash(f))
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = data
	}
	for name, gen := range generated {
		inputs[path.Join(generatedDir, name+".yaml")] = gen()
	}
	return inputs
}

// TestProblemShape checks what every report must have, whatever the case:
// sorted, no duplicates, the input's file name, and a position.
func TestProblemShape(t *testing.T) {
	t.Parallel()
	for file, data := range corpusInputs(t) {
		_, problems := Load(file, data)
		if !reflect.DeepEqual(problems, problems.Sorted()) {
			t.Errorf("%s: problems are not sorted or hold duplicates:\n%s", file, printed(problems))
		}
		for _, d := range problems {
			if d.Subject.File != file {
				t.Errorf("%s: problem names file %q: %s", file, d.Subject.File, d)
			}
			if _, ok := wholeFile[file]; (d.Subject.Start.Line > 0) == ok {
				t.Errorf("%s: line %d for %s", file, d.Subject.Start.Line, d)
			}
			if d.Subject.Start.Line > 0 && d.Subject.Start.Col < 1 {
				t.Errorf("%s: no column for %s", file, d)
			}
		}
	}
}

// CUE's own wording names its internals; a user should never need to know
// what a disjunction is. Guards every message of the corpus.
func TestCorpusSpeaksPlainly(t *testing.T) {
	t.Parallel()
	jargon := []string{"out of bound", "conflicting values", "mismatched types", "disjunction", "field not allowed",
		"incompatible list lengths", "does not satisfy", "#Config", "_|_", "=~", "!~", "yaml: "}
	for file, data := range corpusInputs(t) {
		_, problems := Load(file, data)
		for _, d := range problems {
			for _, j := range jargon {
				if strings.Contains(d.Summary+d.Detail, j) {
					t.Errorf("%s: %q in %s", file, j, d)
				}
			}
		}
	}
}

// Every string option must say in words what it accepts, or its first
// violation would print a regular expression at the user. Each one gets
// values that break the usual patterns; the messages must stay plain. Set
// through Load, so that a new option is covered the day it is added.
func TestEveryStringOptionSpeaksPlainly(t *testing.T) {
	t.Parallel()
	var paths []string
	var walk func(v cue.Value, path []string)
	walk = func(v cue.Value, path []string) {
		if len(path) > 10 {
			t.Fatalf("schema nested too deep at %q", path)
		}
		if isOpen(v) {
			return // extra mappings take anything
		}
		kind := v.IncompleteKind()
		if kind&cue.StringKind != 0 {
			paths = append(paths, strings.Join(path, "."))
		}
		if kind&cue.ListKind != 0 {
			if elem, ok := schemaChild(v, cue.AnyIndex); ok {
				walk(elem, append(path[:len(path):len(path)], "0"))
			}
		}
		if kind&cue.StructKind != 0 {
			for _, name := range dedupeSorted(fieldNames(v)) {
				if child, ok := schemaChild(v, cue.Str(name)); ok {
					walk(child, append(path[:len(path):len(path)], name))
				}
			}
		}
	}
	walk(Schema(), nil)
	if len(paths) < 30 {
		t.Fatalf("only %d string options found: the walk misses most of the schema", len(paths))
	}
	jargon := []string{"out of bound", "conflicting values", "does not satisfy", "=~", "!~", "_|_"}
	for _, p := range paths {
		for _, probe := range []string{"\x01 Bad;$(x)", "/a/../b", strings.Repeat("x", 300)} {
			src, err := yaml.Marshal(withOption(p, probe))
			if err != nil {
				t.Fatal(err)
			}
			_, problems := Load("matrix.yaml", src)
			for _, d := range problems {
				for _, j := range jargon {
					if strings.Contains(d.Summary, j) {
						t.Errorf("%s = %q: %s", p, probe, d)
					}
				}
			}
		}
	}
}

// withOption is the minimal config with one more option, by path; an index
// segment ("0") makes a list of one.
func withOption(path string, value any) map[string]any {
	root := map[string]any{"domain": "example.org", "traefik": map[string]any{"acme_email": "admin@example.org"}}
	labels := strings.Split(path, ".")
	var set func(parent any, i int) any
	set = func(parent any, i int) any {
		if i == len(labels) {
			return value
		}
		if labels[i] == "0" {
			var first any
			if l, ok := parent.([]any); ok && len(l) > 0 {
				first = l[0]
			}
			return []any{set(first, i+1)}
		}
		m, ok := parent.(map[string]any)
		if !ok {
			m = map[string]any{}
		}
		m[labels[i]] = set(m[labels[i]], i+1)
		return m
	}
	return set(root, 0).(map[string]any)
}

// A suggestion must be an option the user has not set already: proposing
// "presence" beside a "presence" that is there only invites a duplicate.
func TestDidYouMeanOnlyUnused(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, unknown string
		suggest             bool
	}{
		{"near and unused", "homeserver:\n  presense: false\n", "homeserver.presense", true},
		{"near but used", "homeserver:\n  presence: true\n  presense: false\n", "homeserver.presense", false},
		{"too far", "homeserver:\n  presenceeee: false\n", "homeserver.presenceeee", false},
		{"in a list item", "well_known:\n  support:\n    contacts:\n      - matrixid: \"@a:example.org\"\n", "well_known.support.contacts.0.matrixid", true},
		{"top level", "synapes: {}\n", "synapes", true},
	} {
		_, problems := Load("matrix.yaml", []byte(minimal+tc.yaml))
		if len(problems) != 1 || problems[0].Path != tc.unknown {
			t.Errorf("%s: want one unknown option, got:\n%s", tc.name, printed(problems))
			continue
		}
		if got := strings.Contains(problems[0].Detail, "did you mean"); got != tc.suggest {
			t.Errorf("%s: suggestion %v, want %v: %s", tc.name, got, tc.suggest, problems[0])
		}
	}
}

// All problems come in one run: fixing one to find the next costs a deploy
// cycle each. Independent mistakes give one line each.
func TestAllProblemsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		paths      []string
	}{
		{"schema", `domain: example.org
traefik:
  acme_email: nope
homeserver:
  max_upload_size_mb: "10"
synapse:
  presense: false
postgres:
  bundled:
    major: 14
element:
  brand: ""
`, []string{"traefik.acme_email", "homeserver.max_upload_size_mb", "synapse.presense", "postgres.bundled.major", "element.brand"}},
		{"semantic", minimal + `hostnames:
  element: matrix.example.org
homeserver:
  registration:
    require_3pid: [email]
mailer:
  enabled: false
postgres:
  mode: external
coturn:
  enabled: true
  relay_min_port: 50100
  relay_max_port: 50000
`, []string{"hostnames.element", "homeserver.registration.require_3pid.0", "postgres.mode", "coturn.relay_min_port"}},
		// Port clashes are found on the plan, after validation; they come
		// all at once too (internal/pipeline/testdata/conflicts/all-at-once.yaml).
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := Load("matrix.yaml", []byte(tc.yaml))
			var paths []string
			for _, d := range problems {
				paths = append(paths, d.Path)
			}
			if !sameSet(paths, tc.paths) {
				t.Errorf("got problems at %q, want %q:\n%s", paths, tc.paths, printed(problems))
			}
		})
	}
}

func sameSet(a, b []string) bool {
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
