package compile

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

const ketesaConfigPath = "/matrix/ketesa/config/config.json"

func routeNamed(t *testing.T, p *plan.Plan, name string) plan.Route {
	t.Helper()
	i := slices.IndexFunc(p.Routes, func(r plan.Route) bool { return r.Name == name })
	if i < 0 {
		t.Fatalf("no route %s", name)
	}
	return p.Routes[i]
}

func ketesaJSON(t *testing.T, p *plan.Plan) obj {
	t.Helper()
	f, ok := planFile(p, ketesaConfigPath)
	if !ok {
		t.Fatalf("no %s", ketesaConfigPath)
	}
	if !slices.Contains(f.Restarts, ketesaUnit) || f.Format != plan.JSON {
		t.Errorf("config.json: format %v, restarts %v", f.Format, f.Restarts)
	}
	return f.Value.(obj)
}

// By default Ketesa is served under /ketesa/ on the homeserver's hostname,
// with the prefix stripped: the app expects to sit at a root.
func TestKetesaPathRoute(t *testing.T) {
	for _, tc := range []struct{ yaml, prefix string }{
		{"ketesa: {enabled: true}\n", "/ketesa/"},
		{"ketesa: {enabled: true, path: /admin/ui}\n", "/admin/ui/"},
	} {
		p := compileYAML(t, bridgesBase+tc.yaml)
		r := routeNamed(t, p, "ketesa")
		want := plan.Route{Host: "matrix.example.org", PathPrefix: tc.prefix, StripPrefix: true,
			Entrypoint: plan.EntrypointClient, Service: ketesaUnit, Port: ketesaPort}
		if r.Host != want.Host || r.PathPrefix != want.PathPrefix || !r.StripPrefix ||
			r.Entrypoint != want.Entrypoint || r.Service != want.Service || r.Port != want.Port {
			t.Errorf("%s: route %+v, want %+v", tc.yaml, r, want)
		}
		if r.Upstream != "matrix-ketesa:8080" {
			t.Errorf("%s: Traefik reaches Ketesa at %s", tc.yaml, r.Upstream)
		}
	}
}

// With a hostname of its own Ketesa gets the whole host, unstripped, and
// that host appears in the route table (which gives it its certificate).
func TestKetesaHostnameRoute(t *testing.T) {
	p := compileYAML(t, bridgesBase+"ketesa: {enabled: true, hostname: admin.example.org}\n")
	r := routeNamed(t, p, "ketesa")
	if r.Host != "admin.example.org" || r.PathPrefix != "/" || r.StripPrefix || r.Service != ketesaUnit || r.Port != ketesaPort {
		t.Errorf("route %+v", r)
	}
	for _, other := range p.Routes {
		if other.Service == ketesaUnit && other.Name != "ketesa" {
			t.Errorf("another route to Ketesa: %+v", other)
		}
		if other.Host == "admin.example.org" && other.Name != "ketesa" {
			t.Errorf("route %s on Ketesa's hostname", other.Name)
		}
	}
}

// Ketesa turns on the admin API route on the homeserver's hostname, with
// the allow list of reverse_proxy.admin_api, whether that is on or not.
func TestKetesaRoutesAdminAPI(t *testing.T) {
	for _, tc := range []struct {
		yaml  string
		allow []string
	}{
		{"ketesa: {enabled: true}\n", []string{"127.0.0.1/32", "::1/128"}},
		{"ketesa: {enabled: true, hostname: admin.example.org}\nreverse_proxy: {admin_api: {allow: [192.0.2.0/24]}}\n", []string{"192.0.2.0/24"}},
		{"ketesa: {enabled: true}\nreverse_proxy: {admin_api: {enabled: true, allow: [10.0.0.0/8]}}\n", []string{"10.0.0.0/8"}},
	} {
		p := compileYAML(t, bridgesBase+tc.yaml)
		r := routeNamed(t, p, "synapse-admin")
		if r.Host != "matrix.example.org" || r.PathPrefix != "/_synapse/admin" || r.Service != synapseUnit ||
			r.Port != synapseClientPort || r.StripPrefix || !reflect.DeepEqual(r.Settings.AllowIPs, tc.allow) {
			t.Errorf("%s: admin route %+v, want allow list %v", tc.yaml, r, tc.allow)
		}
	}
	p := compileYAML(t, bridgesBase)
	if slices.ContainsFunc(p.Routes, func(r plan.Route) bool { return strings.HasPrefix(r.PathPrefix, "/_synapse/admin") }) {
		t.Error("admin API routed with Ketesa and admin_api off")
	}
	for _, s := range p.Services {
		if s.Unit == ketesaUnit {
			t.Error("Ketesa runs while off")
		}
	}
	if _, ok := planFile(p, ketesaConfigPath); ok {
		t.Error("Ketesa's config.json written while off")
	}
}

// Workers take admin requests only under the main process's admin route,
// so that route must exist before the workers' routes are made.
func TestKetesaAdminAPIReachesWorkers(t *testing.T) {
	p := compileYAML(t, bridgesBase+"ketesa: {enabled: true}\nsynapse: {workers: {preset: one-of-each}}\n")
	found := false
	for _, r := range p.Routes {
		if strings.HasPrefix(r.PathRegex, "^/_synapse/admin") {
			found = true
			if !reflect.DeepEqual(r.Settings.AllowIPs, []string{"127.0.0.1/32", "::1/128"}) {
				t.Errorf("worker route %s lacks the admin allow list: %v", r.Name, r.Settings.AllowIPs)
			}
		}
	}
	if !found {
		t.Error("no worker route for the admin API")
	}
}

// config.json locks Ketesa to this homeserver and protects the bridges'
// users; extra merges over it.
func TestKetesaConfigJSON(t *testing.T) {
	p := compileYAML(t, bridgesBase+`hostnames: {homeserver: hs.example.org}
ketesa: {enabled: true}
bridges:
  heisenbridge: {type: heisenbridge, owner: "@admin:example.org"}
  whatsapp-work: {type: mautrix-whatsapp, appservice_id: whatsappwork}
  signal-off: {type: mautrix-signal, enabled: false}
`)
	got := ketesaJSON(t, p)
	want := obj{
		"restrictBaseUrl": "https://hs.example.org",
		"asManagedUsers": []any{
			`^@heisenbridge:example\.org$`, `^@irc_.*:example\.org$`,
			`^@whatsappwork_.*:example\.org$`, `^@whatsappworkbot:example\.org$`,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config.json\n got %#v\nwant %#v", got, want)
	}

	p = compileYAML(t, bridgesBase+`ketesa:
  enabled: true
  extra:
    restrictBaseUrl: ["https://matrix.example.org", "https://other.example.net"]
    menu: [{label: Support, icon: SupportAgent, url: "https://example.org/help"}]
`)
	got = ketesaJSON(t, p)
	want = obj{
		"restrictBaseUrl": []any{"https://matrix.example.org", "https://other.example.net"},
		"asManagedUsers":  []any{},
		"menu":            []any{map[string]any{"label": "Support", "icon": "SupportAgent", "url": "https://example.org/help"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config.json with extra\n got %#v\nwant %#v", got, want)
	}
}

// The container is hardened like every other, reads config.json where the
// image's web root is, and publishes host_port for an own webserver.
func TestKetesaService(t *testing.T) {
	p := compileYAML(t, bridgesBase+"reverse_proxy: {type: nginx}\nketesa: {enabled: true, host_port: 8780}\n")
	s, ok := planService(p, ketesaUnit)
	if !ok {
		t.Fatal("no Ketesa unit")
	}
	if s.Image != "ghcr.io/etkecc/ketesa:v1.4.0" {
		t.Errorf("image %s", s.Image)
	}
	if !reflect.DeepEqual(s.Security, plan.Security{}) || s.HostNetwork {
		t.Errorf("relaxed hardening: %+v", s.Security)
	}
	mount := plan.Mount{Source: ketesaConfigPath, Target: "/var/public/config.json", ReadOnly: true}
	if !reflect.DeepEqual(s.Mounts, []plan.Mount{mount}) {
		t.Errorf("mounts %+v", s.Mounts)
	}
	env := map[string]string{}
	for _, e := range s.Env {
		env[e.Name] = e.Value
	}
	if env["SERVER_PORT"] != "8080" || env["SERVER_ROOT"] != "/var/public" {
		t.Errorf("env %v: the server must listen on the routed port and serve the mounted root", env)
	}
	want := []plan.Publish{{HostAddress: "127.0.0.1", HostPort: 8780, ContainerPort: 8080, Protocol: "tcp", Origin: "ketesa.host_port"}}
	if !reflect.DeepEqual(s.Publish, want) {
		t.Errorf("publishes %+v, want %+v", s.Publish, want)
	}
	if r := routeNamed(t, p, "ketesa"); r.Upstream != "127.0.0.1:8780" {
		t.Errorf("nginx reaches Ketesa at %s", r.Upstream)
	}
}

// Every user a registration claims is protected, hookshot's GitHub ghosts
// included, which no bridge option names.
func TestKetesaProtectsRegisteredUsers(t *testing.T) {
	p := compileYAML(t, bridgesBase+`ketesa: {enabled: true}
bridges:
  hookshot: {type: matrix-hookshot, github: {app_id: 1}}
`)
	users, _ := ketesaJSON(t, p)["asManagedUsers"].([]any)
	for _, want := range []string{`^@hookshot:example\.org$`, `^@_webhooks_.*:example\.org$`, `^@_github_.*:example\.org$`} {
		if !slices.Contains(users, any(want)) {
			t.Errorf("asManagedUsers %v lacks %s", users, want)
		}
	}
}
