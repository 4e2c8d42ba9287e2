package compile

import (
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/validate"
)

func compileYAML(t *testing.T, src string) *plan.Plan {
	t.Helper()
	cfg, problems := validate.Load("test.yaml", []byte(src))
	if len(problems) > 0 {
		var b strings.Builder
		diag.Print(&b, problems, "")
		t.Fatalf("config does not load:\n%s", b.String())
	}
	p, problems := Compile(cfg)
	if len(problems) > 0 {
		t.Fatalf("compile: %v", problems)
	}
	return p
}

const bridgesBase = `domain: example.org
traefik:
  acme_email: admin@example.org
`

func planFile(p *plan.Plan, path string) (plan.File, bool) {
	i := slices.IndexFunc(p.Files, func(f plan.File) bool { return f.Path == path })
	if i < 0 {
		return plan.File{}, false
	}
	return p.Files[i], true
}

func planService(p *plan.Plan, unit string) (plan.Service, bool) {
	i := slices.IndexFunc(p.Services, func(s plan.Service) bool { return s.Unit == unit })
	if i < 0 {
		return plan.Service{}, false
	}
	return p.Services[i], true
}

func homeserverYAML(t *testing.T, p *plan.Plan) obj {
	t.Helper()
	f, ok := planFile(p, "/matrix/synapse/config/homeserver.yaml")
	if !ok {
		t.Fatal("no homeserver.yaml")
	}
	return f.Value.(obj)
}

// A disabled bridge leaves the bundle; with no bridge, Synapse loads no
// registration and no double-puppeting appservice exists.
func TestBridgeDisabled(t *testing.T) {
	p := compileYAML(t, bridgesBase+`bridges:
  mautrix-signal:
    type: mautrix-signal
    enabled: false
`)
	if _, ok := homeserverYAML(t, p)["app_service_config_files"]; ok {
		t.Error("app_service_config_files without an enabled bridge")
	}
	for _, f := range p.Files {
		if strings.Contains(f.Path, "signal") || strings.Contains(f.Path, "double-puppet") {
			t.Errorf("file %s of a disabled bridge", f.Path)
		}
	}
	for _, d := range p.Databases {
		if d.Name != "synapse" {
			t.Errorf("database %s of a disabled bridge", d.Name)
		}
	}
	if _, ok := planService(p, "matrix-mautrix-signal"); ok {
		t.Error("unit of a disabled bridge")
	}
}

// The double-puppeting appservice exists once for all bridges that use
// it, and each of them reads its token.
func TestBridgeDoublePuppetShared(t *testing.T) {
	p := compileYAML(t, bridgesBase+`bridges:
  mautrix-signal:
    type: mautrix-signal
  mautrix-whatsapp:
    type: mautrix-whatsapp
  whatsapp-two:
    type: mautrix-whatsapp
    appservice_id: whatsapptwo
    double_puppet: false
`)
	files := homeserverYAML(t, p)["app_service_config_files"].([]any)
	if n := slices.Index(files, any("/appservices/doublepuppet.yaml")); n < 0 || slices.Index(files[n+1:], any("/appservices/doublepuppet.yaml")) >= 0 {
		t.Errorf("app_service_config_files %v: want the double-puppeting appservice once", files)
	}
	i := slices.IndexFunc(p.Secrets, func(s plan.Secret) bool { return s.Name == "appservice-double-puppet-as-token" })
	if i < 0 {
		t.Fatal("no double-puppeting token")
	}
	if got, want := p.Secrets[i].Readers, []string{"matrix-mautrix-signal", "matrix-mautrix-whatsapp", "matrix-synapse"}; !slices.Equal(got, want) {
		t.Errorf("double-puppeting token read by %q, want %q", got, want)
	}
	cfg, _ := planFile(p, "/matrix/whatsapp-two/config/config.yaml")
	if secrets := cfg.Value.(obj)["double_puppet"].(obj)["secrets"].(obj); len(secrets) != 0 {
		t.Errorf("double_puppet off, but secrets %v", secrets)
	}
}

// With an external server, the bundle names every database and role to
// create, and install.sh creates none.
func TestBridgeExternalPostgres(t *testing.T) {
	p := compileYAML(t, bridgesBase+`postgres:
  mode: external
  external:
    host: db.example.net
bridges:
  mautrix-signal:
    type: mautrix-signal
`)
	if len(p.Databases) != 0 {
		t.Errorf("install.sh would create databases on a server it does not run: %v", p.Databases)
	}
	note, ok := planFile(p, "/matrix/postgres-external.md")
	if !ok {
		t.Fatal("no postgres-external.md")
	}
	for _, want := range []string{
		"| matrix_mautrix_signal | matrix_mautrix_signal | matrix-mautrix-signal | /matrix/secrets/matrix_mautrix_signal-db-password |",
		"| synapse | synapse | matrix-synapse | /matrix/secrets/synapse-db-password |",
		"CREATE DATABASE matrix_mautrix_signal OWNER matrix_mautrix_signal;",
	} {
		if !strings.Contains(string(note.Content), want) {
			t.Errorf("postgres-external.md lacks %q:\n%s", want, note.Content)
		}
	}
	for _, s := range p.Secrets {
		if s.Name == "matrix_mautrix_signal-db-password" && (s.Kind != plan.Provided || !strings.Contains(s.Description, "postgres-external.md")) {
			t.Errorf("%s: %+v, want a provided secret that points at the note", s.Name, s)
		}
	}
}

// Every Synapse worker loads the registrations, restarts with them and
// reads their tokens, and the appservice worker sends the traffic.
func TestBridgeWorkers(t *testing.T) {
	p := compileYAML(t, bridgesBase+`synapse:
  workers:
    appservice: 1
    generic: 1
bridges:
  heisenbridge:
    type: heisenbridge
    owner: "@admin:example.org"
`)
	if hs := homeserverYAML(t, p); hs["notify_appservices_from_worker"] != "appservice-0" {
		t.Errorf("notify_appservices_from_worker = %v", hs["notify_appservices_from_worker"])
	}
	reg, _ := planFile(p, "/matrix/heisenbridge/config/registration.yaml")
	for _, unit := range []string{"matrix-synapse", "matrix-synapse-worker-appservice-0", "matrix-synapse-worker-generic-worker-0"} {
		s, ok := planService(p, unit)
		if !ok {
			t.Fatalf("no %s", unit)
		}
		if !slices.ContainsFunc(s.Mounts, func(m plan.Mount) bool {
			return m.Source == reg.Path && m.Target == "/appservices/heisenbridge.yaml" && m.ReadOnly
		}) {
			t.Errorf("%s does not mount the registration read-only: %v", unit, s.Mounts)
		}
		if !slices.Contains(reg.Restarts, unit) {
			t.Errorf("%s does not restart when the registration changes (%v)", unit, reg.Restarts)
		}
		for _, sec := range p.Secrets {
			if strings.HasPrefix(sec.Name, "heisenbridge-") && !slices.Contains(sec.Readers, unit) {
				t.Errorf("%s is not a reader of %s", unit, sec.Name)
			}
		}
	}
}
