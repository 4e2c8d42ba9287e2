package proxytest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
)

const (
	ketesaStub      = "matrix-ketesa:8080"
	ketesaSynapse   = "matrix-synapse:8008"
	ketesaHS        = "matrix.example.org"
	ketesaOwnHost   = "admin.example.org"
	ketesaPath      = "/admin/ketesa"
	ketesaAdminPath = "/_synapse/admin/v1/server_version"
)

// ketesaGet sends GET host path through a running proxy, on its client
// port, to the stubs behind it.
type ketesaGet func(t *testing.T, host, path string) proxytest.Answer

// ketesaWebservers are the webservers the Ketesa tests start.
var ketesaWebservers = []string{"nginx", "caddy", "apache"}

// startKetesaProxy starts the named webserver on config, its plan first
// changed by tweak when that is set; with tls, with test certificates for
// every hostname of its routes (Caddy makes its own).
func startKetesaProxy(t *testing.T, proxy, config string, tls bool, tweak func(*plan.Plan)) ketesaGet {
	t.Helper()
	if proxy == "caddy" {
		c := startCaddy(t, caddyCase{config: config, tweak: tweak})
		return func(t *testing.T, host, path string) proxytest.Answer {
			return c.do(t, "GET", host, c.clientPort, path, nil, nil)
		}
	}
	setup := proxytest.Compile(t, config)
	if tls {
		setup.Certificates(t)
	}
	if tweak != nil {
		tweak(setup.Plan)
	}
	switch proxy {
	case "nginx":
		n := startNginx(t, nginxBinary(t), setup, nginxCase{name: "ketesa", config: config, tls: tls})
		return func(t *testing.T, host, path string) proxytest.Answer {
			return proxytest.Do(t, n.client, "GET", n.scheme, host, n.clientPort, path)
		}
	case "apache":
		a := startApache(t, setup)
		return func(t *testing.T, host, path string) proxytest.Answer {
			return a.send(t, "GET", host, a.port(plan.EntrypointClient), path, nil, nil)
		}
	}
	t.Fatalf("no webserver %q", proxy)
	return nil
}

// TestKetesaRouting sends requests for Ketesa and for the admin API it
// calls through each real webserver: under a path of the homeserver's
// hostname the prefix must be stripped, on a hostname of its own every path
// is Ketesa's, and the admin API keeps its allow list either way.
func TestKetesaRouting(t *testing.T) {
	for _, proxy := range ketesaWebservers {
		t.Run(proxy+"/path", func(t *testing.T) {
			get := startKetesaProxy(t, proxy, fmt.Sprintf(`domain: example.org
reverse_proxy: {type: %s}
ketesa: {enabled: true, path: %s}
`, proxy, ketesaPath), true, nil)
			checkKetesaPath(t, get)
		})
		t.Run(proxy+"/hostname", func(t *testing.T) {
			get := startKetesaProxy(t, proxy, fmt.Sprintf(`domain: example.org
reverse_proxy:
  type: %s
  admin_api: {allow: ["192.0.2.0/24"]}
ketesa: {enabled: true, hostname: %s}
`, proxy, ketesaOwnHost), true, nil)
			checkKetesaHostname(t, get)
		})
	}
}

// TestKetesaRedirectBehindTerminator: behind a TLS terminator the proxy
// receives plain HTTP on a port of its own, and its redirect to the slash
// must still send the browser to the scheme, host and port it used.
func TestKetesaRedirectBehindTerminator(t *testing.T) {
	const browserAt = "https://" + ketesaHS + ketesaPath + "?t=1"
	for _, proxy := range ketesaWebservers {
		t.Run(proxy, func(t *testing.T) {
			// Plain HTTP on a port of its own: no certificates.
			get := startKetesaProxy(t, proxy, fmt.Sprintf(`domain: example.org
reverse_proxy: {type: %s, tls: {mode: terminated}}
ketesa: {enabled: true, path: %s}
`, proxy, ketesaPath), false, nil)
			a := get(t, ketesaHS, ketesaPath+"?t=1")
			expectSlashRedirect(t, a, ketesaHS, ketesaPath+"?t=1", ketesaPath+"/", "t=1")
			base, _ := url.Parse(browserAt)
			to, err := url.Parse(a.Header.Get("Location"))
			if want := "https://" + ketesaHS + ketesaPath + "/?t=1"; err != nil || base.ResolveReference(to).String() != want {
				t.Errorf("the browser at %s is sent to %q, want %s", browserAt, a.Header.Get("Location"), want)
			}
		})
	}
}

// TestKetesaRedirectOverRootRoute: the bare path redirects to the slash
// even where a route for every path of the host would take it.
func TestKetesaRedirectOverRootRoute(t *testing.T) {
	config := func(proxy string) string {
		return fmt.Sprintf("domain: example.org\nreverse_proxy: {type: %s}\nketesa: {enabled: true, path: %s}\n", proxy, ketesaPath)
	}
	for _, proxy := range ketesaWebservers {
		t.Run(proxy, func(t *testing.T) {
			get := startKetesaProxy(t, proxy, config(proxy), true, func(p *plan.Plan) { addRootRoute(t, p) })
			expectSlashRedirect(t, get(t, ketesaHS, ketesaPath), ketesaHS, ketesaPath, ketesaPath+"/", "")
			expectKetesaBackend(t, get(t, ketesaHS, "/admin/"), ketesaHS, "/admin/", ketesaSynapse, "/admin/")
		})
	}
}

// addRootRoute adds a route for every path of the homeserver's hostname
// to Synapse, at the lowest priority, as the last route of the plan.
func addRootRoute(t *testing.T, p *plan.Plan) {
	t.Helper()
	for _, r := range p.Routes {
		if r.Host == ketesaHS && r.Service+":"+fmt.Sprint(r.Port) == ketesaSynapse && len(r.Backends) == 0 {
			root := r
			root.Name, root.PathPrefix, root.PathRegex, root.Priority, root.Settings = "root", "/", "", 1, plan.RouteSettings{}
			p.Routes = append(p.Routes, root)
			return
		}
	}
	t.Fatal("no route to Synapse on " + ketesaHS)
}

func checkKetesaPath(t *testing.T, get ketesaGet) {
	for path, stripped := range map[string]string{
		ketesaPath + "/":                          "/",
		ketesaPath + "/index.html":                "/index.html",
		ketesaPath + "/assets/index-Dx3f.js":      "/assets/index-Dx3f.js",
		ketesaPath + "/config.json?t=1":           "/config.json?t=1",
		ketesaPath + "/auth-callback/index.html":  "/auth-callback/index.html",
		ketesaPath + "/assets/" + ketesaPath[1:]:  "/assets" + ketesaPath,
		ketesaPath + "/locales/de/translation.js": "/locales/de/translation.js",
	} {
		expectKetesaBackend(t, get(t, ketesaHS, path), ketesaHS, path, ketesaStub, stripped)
	}
	// The admin API is on by Ketesa's doing; the test client is on
	// loopback, which the default allow list admits.
	expectKetesaBackend(t, get(t, ketesaHS, ketesaAdminPath), ketesaHS, ketesaAdminPath, ketesaSynapse, ketesaAdminPath)
	expectKetesaBackend(t, get(t, ketesaHS, "/_matrix/client/versions"), ketesaHS, "/_matrix/client/versions", ketesaSynapse, "/_matrix/client/versions")
	// Without the final slash the app's relative URLs would resolve
	// outside the prefix: every proxy sends the browser to the slash,
	// with the query kept.
	expectSlashRedirect(t, get(t, ketesaHS, ketesaPath), ketesaHS, ketesaPath, ketesaPath+"/", "")
	expectSlashRedirect(t, get(t, ketesaHS, ketesaPath+"?t=1&u=%2F"), ketesaHS, ketesaPath+"?t=1&u=%2F", ketesaPath+"/", "t=1&u=%2F")
	for _, path := range []string{ketesaPath + "x/", ketesaPath + "x", "/admin/", "/admin", "/ketesa/", "/"} {
		expectNotKetesa(t, get(t, ketesaHS, path), ketesaHS, path)
	}
}

func checkKetesaHostname(t *testing.T, get ketesaGet) {
	for _, path := range []string{"/", "/index.html", "/assets/index-Dx3f.js", "/config.json", ketesaPath + "/", ketesaAdminPath} {
		// The whole host is Ketesa's: even an admin API path there reaches
		// the app, never Synapse.
		expectKetesaBackend(t, get(t, ketesaOwnHost, path), ketesaOwnHost, path, ketesaStub, path)
	}
	// The browser calls the admin API on the homeserver's hostname, where
	// the allow list (here without loopback) turns the test client away.
	if a := get(t, ketesaHS, ketesaAdminPath); a.Status != http.StatusForbidden || a.Seen != nil {
		t.Errorf("GET %s%s from outside the allow list: %d, backend %v; want 403 from the proxy", ketesaHS, ketesaAdminPath, a.Status, a.Seen)
	}
	expectKetesaBackend(t, get(t, ketesaHS, "/_matrix/client/versions"), ketesaHS, "/_matrix/client/versions", ketesaSynapse, "/_matrix/client/versions")
	expectNotKetesa(t, get(t, ketesaHS, "/ketesa/"), ketesaHS, "/ketesa/")
}

// expectKetesaBackend: backend answered, saw target (the path with the
// prefix stripped where one is), and the request's own hostname.
func expectKetesaBackend(t *testing.T, a proxytest.Answer, host, path, backend, target string) {
	t.Helper()
	switch s := a.Seen; {
	case s == nil:
		t.Errorf("GET %s%s: %d from the proxy, want %s", host, path, a.Status, backend)
	case s.Backend != backend || s.URI != target:
		t.Errorf("GET %s%s: %s saw %q, want %s to see %q", host, path, s.Backend, s.URI, backend, target)
	case s.Host != host:
		t.Errorf("GET %s%s: backend saw Host %q", host, path, s.Host)
	}
}

// expectNotKetesa: no backend answered; the proxy said 404.
func expectNotKetesa(t *testing.T, a proxytest.Answer, host, path string) {
	t.Helper()
	if a.Seen != nil {
		t.Errorf("GET %s%s reached %s as %q; want no backend", host, path, a.Seen.Backend, a.Seen.URI)
		return
	}
	if a.Status != http.StatusNotFound {
		t.Errorf("GET %s%s: %d (Location %q), want 404", host, path, a.Status, a.Header.Get("Location"))
	}
}

// expectSlashRedirect: no backend answered; the proxy redirected for
// good to path to on the same host, with query as the query.
func expectSlashRedirect(t *testing.T, a proxytest.Answer, host, path, to, query string) {
	t.Helper()
	if a.Seen != nil {
		t.Errorf("GET %s%s reached %s as %q; want a redirect to %s", host, path, a.Seen.Backend, a.Seen.URI, to)
		return
	}
	location := a.Header.Get("Location")
	if a.Status != http.StatusMovedPermanently && a.Status != http.StatusPermanentRedirect {
		t.Errorf("GET %s%s: %d (Location %q), want a permanent redirect to %s", host, path, a.Status, location, to)
		return
	}
	u, err := url.Parse(location)
	if err != nil || u.Path != to || (u.Host != "" && u.Hostname() != host) || u.RawQuery != query || u.ForceQuery {
		t.Errorf("GET %s%s: %d to %q, want a redirect to %s on the same host with query %q", host, path, a.Status, location, to, query)
	}
}
