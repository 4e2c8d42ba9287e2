package proxytest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// homeserverExamples are the examples of the homeservers other than
// Synapse. Each is served through every proxy in front of stub backends,
// and every request must land where `matrixgen routes --format json` says:
// the Matrix APIs on the homeserver's own unit and port.
var homeserverExamples = []string{"dendrite", "continuwuity", "tuwunel"}

// homeserverVectors add to route-vectors.tsv the requests every
// homeserver answers: its versions, federation and key APIs, media old and
// new, and the well-known files, which are the static files' everywhere.
var homeserverVectors = []proxytest.Vector{
	{Method: "GET", Path: "/_matrix/client/versions"},
	{Method: "GET", Path: "/_matrix/client/v3/login"},
	{Method: "GET", Path: "/_matrix/federation/v1/version"},
	{Method: "PUT", Path: "/_matrix/federation/v1/send/1700000000000"},
	{Method: "GET", Path: "/_matrix/key/v2/server"},
	{Method: "POST", Path: "/_matrix/key/v2/query"},
	{Method: "GET", Path: "/_matrix/media/v3/download/example.org/AbCdEf"},
	{Method: "GET", Path: "/_matrix/client/v1/media/thumbnail/example.org/AbCdEf?width=32&height=32"},
	{Method: "GET", Path: "/_matrix/media/v3/config"},
	{Method: "GET", Path: "/.well-known/matrix/server"},
	{Method: "GET", Path: "/.well-known/matrix/client"},
	// Synapse's own paths have no route on another homeserver.
	{Method: "GET", Path: "/_synapse/admin/v1/server_version"},
	{Method: "GET", Path: "/_synapse/client/password_reset/email/submit_token"},
}

// homeserverConfig is an example made to run behind proxy, with the
// hostnames of example.org the harnesses serve.
func homeserverConfig(t *testing.T, example, proxy string) string {
	t.Helper()
	return editedYAML(t, filepath.Join(proxytest.RepoRoot(t), "examples", example+".yaml"), func(doc map[string]any) {
		doc["domain"] = "example.org"
		section(doc, "reverse_proxy")["type"] = proxy
		if proxy == "traefik" {
			section(doc, "traefik")["acme_email"] = "admin@example.org"
		}
	})
}

// homeserverRouting is one homeserver example served by a real proxy.
type homeserverRouting struct {
	setup   *proxytest.Setup
	printed []printedRoute
	client  *http.Client
	host    string // the homeserver's hostname
}

func newHomeserverRouting(t *testing.T, bin, config string, setup *proxytest.Setup) *homeserverRouting {
	t.Helper()
	h := &homeserverRouting{setup: setup, printed: printRoutes(t, bin, config), client: proxytest.Client()}
	hs := setup.Plan.Homeserver
	if hs.Unit == "" || hs.Unit == mainSynapse {
		t.Fatalf("the homeserver is %q, want one other than Synapse", hs.Unit)
	}
	for _, r := range h.printed {
		if r.Backend.Service == hs.Unit && r.Host != "" {
			h.host = r.Host
		}
	}
	if h.host == "" {
		t.Fatalf("matrixgen routes lists no route to %s", hs.Unit)
	}
	return h
}

// ports are the public ports the homeserver's hostname is served on.
func (h *homeserverRouting) ports() []int {
	var out []int
	for _, r := range h.printed {
		if r.Host == h.host && !slices.Contains(out, r.Port) {
			out = append(out, r.Port)
		}
	}
	slices.Sort(out)
	return out
}

// scheme is what the entrypoint on a public port speaks.
func (h *homeserverRouting) scheme(port int) string {
	for _, e := range h.setup.Plan.Entrypoints {
		if e.HostPort == h.loopback(port) && e.TLS {
			return "https"
		}
	}
	return "http"
}

// loopback is where the proxy listens for a public port in the test.
func (h *homeserverRouting) loopback(port int) int { return h.setup.Ports[port] }

// expected is the printed route a proxy must choose for a request on a
// public port: the matching route of the hostname and port with the
// highest priority, the first of equals, as routes lists them.
func (h *homeserverRouting) expected(t *testing.T, port int, reqPath string) (printedRoute, bool) {
	var best printedRoute
	found := false
	for _, r := range h.printed {
		if r.Host != h.host || r.Port != port || !printedMatches(t, r, reqPath) {
			continue
		}
		if !found || r.Priority > best.Priority {
			best, found = r, true
		}
	}
	return best, found
}

func printedMatches(t *testing.T, r printedRoute, reqPath string) bool {
	if r.Match.Type == "regex" {
		re, err := regexp.Compile(r.Match.Value)
		if err != nil {
			t.Fatalf("route %s: %v", r.Match.Value, err)
		}
		return re.MatchString(reqPath)
	}
	prefix := strings.TrimSuffix(r.Match.Value, "/")
	return prefix == "" || reqPath == prefix || strings.HasPrefix(reqPath, prefix+"/")
}

// stubFor is the stub standing in for a printed route's backend: its
// unit, and the port of the address routes prints (the container's port
// on the Docker network, or the port the service publishes on the host
// for a webserver outside Docker) as the container's port.
func (h *homeserverRouting) stubFor(t *testing.T, r printedRoute) string {
	t.Helper()
	host, portText, ok := strings.Cut(r.Backend.Address, ":")
	port, err := strconv.Atoi(portText)
	if !ok || err != nil {
		t.Fatalf("route to %s: address %q has no port", r.Backend.Service, r.Backend.Address)
	}
	if host == "127.0.0.1" {
		for _, s := range h.setup.Plan.Services {
			for _, l := range s.Listens {
				if s.Unit == r.Backend.Service && l.HostPort == port {
					port = l.Port
				}
			}
		}
	}
	return fmt.Sprintf("%s:%d", r.Backend.Service, port)
}

// replay sends every vector to the homeserver's hostname on each of its
// ports and checks that the stub of the printed route answered, with the
// target as sent; that nothing answered where no route matches; and that
// the Matrix APIs are routed to the homeserver's unit and client port.
func (h *homeserverRouting) replay(t *testing.T, vectors []proxytest.Vector) {
	hs := h.setup.Plan.Homeserver
	want := fmt.Sprintf("%s:%d", hs.Unit, hs.ClientPort)
	sent, routed := 0, 0
	for _, port := range h.ports() {
		for _, v := range vectors {
			raw := strings.SplitN(v.Path, "?", 2)[0]
			reqPath, err := url.PathUnescape(raw)
			if err != nil {
				t.Fatal(err)
			}
			r, ok := h.expected(t, port, reqPath)
			a, err := proxytest.Send(h.client, proxytest.Request{Method: v.Method, Scheme: h.scheme(port), Host: h.host, Port: h.loopback(port), Target: v.Path})
			if err != nil {
				t.Fatalf("%s %s on %d: %v", v.Method, v.Path, port, err)
			}
			sent++
			where := fmt.Sprintf("%s %s on port %d", v.Method, v.Path, port)
			if !ok && strings.HasPrefix(reqPath, "/_matrix/") && (port == h.clientPort(t) || proxytest.IsFederation(v.Path)) {
				t.Errorf("%s: matrixgen routes lists no route for a Matrix API on the homeserver's port", where)
			}
			if !ok {
				if a.Seen != nil {
					t.Errorf("%s reached %s, but matrixgen routes lists no route for it", where, a.Seen.Backend)
				}
				continue
			}
			routed++
			if strings.HasPrefix(reqPath, "/_matrix/") && h.stubFor(t, r) != want {
				t.Errorf("%s: matrixgen routes sends it to %s, not the homeserver %s", where, h.stubFor(t, r), want)
			}
			switch {
			case a.Seen == nil:
				t.Errorf("%s: %d %.200s, want %s (route %s %s)", where, a.Status, a.Body, h.stubFor(t, r), r.Match.Type, r.Match.Value)
			case a.Seen.Backend != h.stubFor(t, r):
				t.Errorf("%s reached %s, want %s (route %s %s)", where, a.Seen.Backend, h.stubFor(t, r), r.Match.Type, r.Match.Value)
			case a.Seen.URI != v.Path || a.Seen.Method != v.Method:
				t.Errorf("%s arrived as %s %s", where, a.Seen.Method, a.Seen.URI)
			}
		}
	}
	t.Logf("%d requests on ports %v, %d of them routed", sent, h.ports(), routed)
}

// checkUpload sends a media upload below the limit, which must reach the
// homeserver whole.
func (h *homeserverRouting) checkUpload(t *testing.T) {
	hs := h.setup.Plan.Homeserver
	body := bytes.Repeat([]byte("m"), 1<<20)
	port := h.clientPort(t)
	a, err := proxytest.Send(h.client, proxytest.Request{Method: "POST", Scheme: h.scheme(port), Host: h.host, Port: h.loopback(port),
		Target: "/_matrix/media/v3/upload?filename=a.bin", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s:%d", hs.Unit, hs.ClientPort); a.Seen == nil || a.Seen.Backend != want || a.Seen.BodyBytes != int64(len(body)) {
		t.Errorf("upload of %d bytes: %d, backend saw %+v; want all of it at %s", len(body), a.Status, a.Seen, want)
	}
}

func (h *homeserverRouting) clientPort(t *testing.T) int {
	for _, r := range h.printed {
		if r.Host == h.host && r.Entrypoint == plan.EntrypointClient {
			return r.Port
		}
	}
	t.Fatal("no client route on the homeserver's hostname")
	return 0
}

// checkNoSynapse: no stub stands for Synapse, so nothing of the bundle
// routes to a process that does not run.
func (h *homeserverRouting) checkNoSynapse(t *testing.T) {
	for name := range h.setup.Stubs {
		if strings.HasPrefix(name, mainSynapse+":") || strings.HasPrefix(name, mainSynapse+"-") {
			t.Errorf("a route goes to %s", name)
		}
	}
}

func (h *homeserverRouting) check(t *testing.T) {
	vectors := append(proxytest.Vectors(t), homeserverVectors...)
	t.Run("vectors", func(t *testing.T) { h.replay(t, vectors) })
	t.Run("upload", h.checkUpload)
	t.Run("no-synapse", h.checkNoSynapse)
}

func TestHomeserverRoutingNginx(t *testing.T) {
	bin := nginxBinary(t)
	matrixgen := buildMatrixgen(t)
	for _, example := range homeserverExamples {
		t.Run(example, func(t *testing.T) {
			config := homeserverConfig(t, example, "nginx")
			setup := proxytest.Compile(t, config)
			setup.Certificates(t)
			startNginx(t, bin, setup, nginxCase{name: example, tls: true, admin: "off"})
			newHomeserverRouting(t, matrixgen, config, setup).check(t)
		})
	}
}

func TestHomeserverRoutingCaddy(t *testing.T) {
	caddyBinary(t)
	matrixgen := buildMatrixgen(t)
	for _, example := range homeserverExamples {
		t.Run(example, func(t *testing.T) {
			config := homeserverConfig(t, example, "caddy")
			c := startCaddy(t, caddyCase{config: config})
			newHomeserverRouting(t, matrixgen, config, c.setup).check(t)
		})
	}
}

func TestHomeserverRoutingApache(t *testing.T) {
	apacheBinary(t)
	matrixgen := buildMatrixgen(t)
	for _, example := range homeserverExamples {
		t.Run(example, func(t *testing.T) {
			config := homeserverConfig(t, example, "apache")
			setup := proxytest.Compile(t, config)
			setup.Certificates(t)
			startApache(t, setup)
			newHomeserverRouting(t, matrixgen, config, setup).check(t)
		})
	}
}
