package compile

import (
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

const draupnirBot = `bots:
  draupnir:
    type: draupnir
    management_room: "#moderators:example.org"
    extra:
      protections:
        wordlist:
          words: [spam]
`

const maubotBot = `bots:
  maubot:
    type: maubot
`

func planSecret(p *plan.Plan, name string) (plan.Secret, bool) {
	i := slices.IndexFunc(p.Secrets, func(s plan.Secret) bool { return s.Name == name })
	if i < 0 {
		return plan.Secret{}, false
	}
	return p.Secrets[i], true
}

func mountAt(s plan.Service, target string) (plan.Mount, bool) {
	i := slices.IndexFunc(s.Mounts, func(m plan.Mount) bool { return m.Target == target })
	if i < 0 {
		return plan.Mount{}, false
	}
	return s.Mounts[i], true
}

// argAfter is the argument that follows flag on a command line.
func argAfter(args []string, flag string) string {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	return args[i+1]
}

// Draupnir reads its token from a provided host secret, never from the
// config, talks to Synapse on the homeserver network, and keeps its state
// in its data directory; extra reaches its config.
func TestDraupnir(t *testing.T) {
	p := compileYAML(t, bridgesBase+draupnirBot)
	f, ok := planFile(p, "/matrix/draupnir/config/production.yaml")
	if !ok {
		t.Fatal("no production.yaml")
	}
	cfg := f.Value.(obj)
	for key, want := range map[string]any{
		"homeserverUrl": "http://matrix-synapse:8008", "rawHomeserverUrl": "http://matrix-synapse:8008",
		"managementRoom": "#moderators:example.org", "dataPath": "/data", "logLevel": "INFO",
	} {
		if cfg[key] != want {
			t.Errorf("%s = %v, want %v", key, cfg[key], want)
		}
	}
	if _, ok := cfg["accessToken"]; ok || len(f.Secrets) != 0 {
		t.Errorf("the config holds the token (accessToken %v, secrets %v)", cfg["accessToken"], f.Secrets)
	}
	if words := cfg["protections"].(map[string]any)["wordlist"].(map[string]any)["words"]; !slices.Equal(words.([]any), []any{"spam"}) {
		t.Errorf("extra did not reach the config: protections.wordlist.words = %v", words)
	}
	if !slices.Equal(f.Restarts, []string{"matrix-draupnir"}) {
		t.Errorf("the config restarts %v", f.Restarts)
	}

	s, ok := planService(p, "matrix-draupnir")
	if !ok {
		t.Fatal("no unit")
	}
	if s.Command[0] != "bot" || argAfter(s.Command, "--draupnir-config") != "/config/production.yaml" {
		t.Errorf("command %q: want bot mode with the config", s.Command)
	}
	if m, ok := mountAt(s, "/config"); !ok || m.Source != "/matrix/draupnir/config" || !m.ReadOnly {
		t.Errorf("config mount %+v: want the config directory, read-only", m)
	}
	if m, ok := mountAt(s, "/data"); !ok || m.Source != "/matrix/draupnir/data" || m.ReadOnly {
		t.Errorf("data mount %+v: want the data directory, writable", m)
	}
	tokenPath := argAfter(s.Command, "--access-token-path")
	if m, ok := mountAt(s, tokenPath); !ok || m.Source != "/matrix/secrets/draupnir-access-token" || !m.ReadOnly {
		t.Errorf("--access-token-path %q is not the mounted secret (%+v)", tokenPath, m)
	}
	sec, ok := planSecret(p, "draupnir-access-token")
	if !ok || sec.Kind != plan.Provided || !slices.Equal(sec.Readers, []string{"matrix-draupnir"}) {
		t.Errorf("access token %+v: want a provided secret only Draupnir reads", sec)
	}
	if !slices.Contains(s.Networks, "matrix") || !slices.Contains(s.Wants, "matrix-synapse") {
		t.Errorf("networks %v, wants %v: want the homeserver network, after Synapse", s.Networks, s.Wants)
	}
	if !slices.ContainsFunc(p.Health, func(h plan.HealthCheck) bool {
		return h.Unit == s.Unit && strings.Contains(strings.Join(h.Command, " "), "8081")
	}) {
		t.Error("no health check on the healthz listener")
	}
	if hz := cfg["health"].(obj)["healthz"].(obj); hz["enabled"] != true || hz["port"] != draupnirHealthPort {
		t.Errorf("health.healthz = %v: the health check would wait for nothing", hz)
	}
	if len(p.Databases) != 1 {
		t.Errorf("Draupnir asks for a database: %v", p.Databases)
	}
}

// maubot's config holds its secrets as placeholders, its database has no
// password in the URL, and its management UI is routed on the
// homeserver's hostname.
func TestMaubot(t *testing.T) {
	p := compileYAML(t, bridgesBase+maubotBot)
	f, ok := planFile(p, "/matrix/maubot/config/config.yaml")
	if !ok {
		t.Fatal("no config.yaml")
	}
	cfg := f.Value.(obj)
	if got, want := cfg["database"], "postgresql://matrix_bot_maubot@matrix-postgres:5432/matrix_bot_maubot?sslmode=disable"; got != want {
		t.Errorf("database = %v, want %v", got, want)
	}
	i := slices.IndexFunc(p.Databases, func(d plan.Database) bool { return d.Name == "matrix_bot_maubot" })
	if i < 0 || p.Databases[i].Owner != "matrix-maubot" {
		t.Fatalf("no database of maubot's own: %v", p.Databases)
	}
	env, ok := planFile(p, "/matrix/maubot/env-secret")
	pw := plan.SecretRef(p.Databases[i].PasswordSecret)
	if !ok || string(env.Content) != "PGPASSWORD="+pw.Placeholder()+"\n" || env.Owner != "root" || !slices.Equal(env.Secrets, []string{string(pw)}) {
		t.Errorf("env file %+v: want the database password for asyncpg", env)
	}
	server := cfg["server"].(obj)
	if server["public_url"] != "https://matrix.example.org" || server["ui_base_path"] != "/_matrix/maubot" || server["port"] != maubotPort {
		t.Errorf("server = %v", server)
	}
	for key, secret := range map[string]any{
		"unshared_secret":   server["unshared_secret"],
		"admin password":    cfg["admins"].(obj)["admin"],
		"homeserver secret": cfg["homeservers"].(obj)["example.org"].(obj)["secret"],
	} {
		ref, ok := secret.(plan.SecretRef)
		if !ok || !slices.Contains(f.Secrets, string(ref)) {
			t.Errorf("%s = %v: not a secret the file is filled with (%v)", key, secret, f.Secrets)
		}
	}
	// The secret Synapse reads as its registration shared secret.
	hs := homeserverYAML(t, p)
	reg := cfg["homeservers"].(obj)["example.org"].(obj)["secret"].(plan.SecretRef)
	if hs["registration_shared_secret_path"] != secretMount(string(reg)) {
		t.Errorf("homeservers secret %s is not Synapse's registration_shared_secret_path %v", reg, hs["registration_shared_secret_path"])
	}
	if sec, _ := planSecret(p, string(reg)); !slices.Contains(sec.Readers, "matrix-maubot") {
		t.Errorf("maubot is not a reader of %s: %v", reg, sec.Readers)
	}
	if url := cfg["homeservers"].(obj)["example.org"].(obj)["url"]; url != "http://matrix-synapse:8008" {
		t.Errorf("homeserver url %v: want Synapse on the homeserver network", url)
	}

	s, ok := planService(p, "matrix-maubot")
	if !ok {
		t.Fatal("no unit")
	}
	if !slices.Contains(s.Command, "--no-update") || argAfter(s.Command, "-c") != "/config/config.yaml" || s.EnvFile != env.Path {
		t.Errorf("command %q, env file %q", s.Command, s.EnvFile)
	}
	if m, ok := mountAt(s, "/config"); !ok || !m.ReadOnly {
		t.Errorf("config mount %+v: want read-only", m)
	}
	if !slices.Equal(s.Requires, []string{"matrix-postgres"}) {
		t.Errorf("requires %v", s.Requires)
	}
	r := p.Routes[slices.IndexFunc(p.Routes, func(r plan.Route) bool { return r.Service == "matrix-maubot" })]
	if r.Host != "matrix.example.org" || r.PathPrefix != "/_matrix/maubot" || r.Port != maubotPort || r.StripPrefix {
		t.Errorf("route %+v", r)
	}
	synapse := p.Routes[slices.IndexFunc(p.Routes, func(r plan.Route) bool { return r.Name == "synapse-client" })]
	if r.Priority <= synapse.Priority {
		t.Errorf("route priority %d does not beat Synapse's /_matrix (%d)", r.Priority, synapse.Priority)
	}
}

// With the operator's own webserver, maubot publishes its port on the
// bind address for the route.
func TestMaubotOwnWebserver(t *testing.T) {
	p := compileYAML(t, `domain: example.org
reverse_proxy:
  type: nginx
`+maubotBot+`    host_port: 29400
`)
	s, _ := planService(p, "matrix-maubot")
	if !slices.Equal(s.Publish, []plan.Publish{{HostAddress: "127.0.0.1", HostPort: 29400, ContainerPort: maubotPort, Protocol: "tcp", Origin: "bots.maubot.host_port"}}) {
		t.Errorf("publish %+v", s.Publish)
	}
	i := slices.IndexFunc(p.Routes, func(r plan.Route) bool { return r.Service == "matrix-maubot" })
	if i < 0 || p.Routes[i].Upstream != "127.0.0.1:29400" {
		t.Errorf("route upstream: %+v", p.Routes)
	}
}

// With an external server, the URL names it and the password stays a
// provided secret in the env file.
func TestMaubotExternalPostgres(t *testing.T) {
	p := compileYAML(t, bridgesBase+`postgres:
  mode: external
  external:
    host: db.example.net
    sslmode: verify-full
`+maubotBot)
	f, _ := planFile(p, "/matrix/maubot/config/config.yaml")
	if got, want := f.Value.(obj)["database"], "postgresql://matrix_bot_maubot@db.example.net:5432/matrix_bot_maubot?sslmode=verify-full"; got != want {
		t.Errorf("database = %v, want %v", got, want)
	}
	if sec, _ := planSecret(p, "matrix_bot_maubot-db-password"); sec.Kind != plan.Provided {
		t.Errorf("database password %+v: want provided", sec)
	}
	s, _ := planService(p, "matrix-maubot")
	if len(s.Requires) != 0 {
		t.Errorf("requires %v without a bundled server", s.Requires)
	}
}

// Bots reach the client API where bridges do: with workers behind
// Traefik, that is the internal entrypoint, which routes like the public
// one.
func TestBotsReachHomeserverLikeBridges(t *testing.T) {
	p := compileYAML(t, bridgesBase+`synapse:
  workers:
    generic: 1
bridges:
  heisenbridge:
    type: heisenbridge
    owner: "@admin:example.org"
`+draupnirBot+`  maubot:
    type: maubot
`)
	hb, _ := planService(p, "matrix-heisenbridge")
	want := hb.Command[len(hb.Command)-1]
	d, _ := planFile(p, "/matrix/draupnir/config/production.yaml")
	m, _ := planFile(p, "/matrix/maubot/config/config.yaml")
	for what, got := range map[string]any{
		"draupnir homeserverUrl": d.Value.(obj)["homeserverUrl"],
		"maubot homeservers url": m.Value.(obj)["homeservers"].(obj)["example.org"].(obj)["url"],
	} {
		if got != want {
			t.Errorf("%s = %v, bridges use %s", what, got, want)
		}
	}
}

// Two bots of one type are two units with their own files and secrets;
// a disabled one leaves the bundle.
func TestBotInstances(t *testing.T) {
	p := compileYAML(t, bridgesBase+draupnirBot+`  draupnir-community:
    type: draupnir
    management_room: "!mods:example.org"
  maubot:
    type: maubot
    enabled: false
`)
	for _, name := range []string{"draupnir", "draupnir-community"} {
		if _, ok := planService(p, "matrix-"+name); !ok {
			t.Errorf("no unit for %s", name)
		}
		if _, ok := planSecret(p, name+"-access-token"); !ok {
			t.Errorf("no token of %s", name)
		}
	}
	f, _ := planFile(p, "/matrix/draupnir-community/config/production.yaml")
	if f.Value.(obj)["managementRoom"] != "!mods:example.org" {
		t.Errorf("second instance's config: %v", f.Value)
	}
	for _, s := range p.Services {
		if strings.Contains(s.Unit, "maubot") {
			t.Errorf("unit %s of a disabled bot", s.Unit)
		}
	}
	for _, f := range p.Files {
		if strings.Contains(f.Path, "maubot") {
			t.Errorf("file %s of a disabled bot", f.Path)
		}
	}
	if slices.ContainsFunc(p.Routes, func(r plan.Route) bool { return strings.Contains(r.Name, "maubot") }) {
		t.Error("route of a disabled bot")
	}
}
