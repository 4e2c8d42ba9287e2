//go:build e2e

package proxytest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
	"github.com/matrixgen/matrixgen/internal/render"
)

// These tests run the Traefik configuration matrixgen writes in a real
// Traefik (make e2e-traefik builds one and sets MATRIXGEN_TRAEFIK). The
// dynamic file is the rendered matrixgen.yml, byte for byte. The static
// file is the rendered traefik.yml with only what a test cannot use
// changed: entrypoints on free loopback ports, the file provider on a
// temporary directory, ACME's storage there and its CA server unreachable
// (a certificate for every hostname comes from a second dynamic file, so
// ACME never needs one), and the API on loopback, which is where Traefik
// reports a broken router: it does not exit on a bad dynamic file.

const (
	traefikHomeserver    = "matrix.example.org"
	traefikElement       = "element.example.org"
	traefikDomain        = "example.org"
	traefikSynapseClient = "matrix-synapse:8008"
	traefikSynapseFed    = "matrix-synapse:8048"
	traefikStaticFiles   = "matrix-static-files:8080"
	traefikElementStub   = "matrix-client-element:8080"
)

// traefikCase is one config the real Traefik serves in front of stubs.
type traefikCase struct {
	name   string
	config string
	// admin says what /_synapse/admin does for a client on 127.0.0.1:
	// "allowed", "denied" (403) or "off" (no route: 404).
	admin string
}

var traefikCases = []traefikCase{
	{
		name: "tls",
		config: `domain: example.org
traefik: {acme_email: admin@example.org}
reverse_proxy:
  admin_api: {enabled: true, allow: ["127.0.0.1/32"]}
synapse: {max_upload_size_mb: 2}
`,
		admin: "allowed",
	},
	{
		name: "behind-proxy",
		// The test client is not the terminator here, so what it claims in
		// X-Forwarded-* must be ignored.
		config: `domain: example.org
traefik:
  behind_proxy: {enabled: true, trusted_ips: ["192.0.2.0/24"]}
reverse_proxy:
  admin_api: {enabled: true, allow: ["10.0.0.0/8"]}
`,
		admin: "denied",
	},
	{
		name: "federation-on-443",
		config: `domain: example.org
traefik: {acme_email: admin@example.org, redirect_http: false, http3: false}
homeserver:
  federation: {port: 443}
well_known: {serve_base_domain: true}
`,
		admin: "off",
	},
}

// traefikExtraVectors are requests route-vectors.tsv lacks, with the target
// the backend must see ("" for the same bytes). Traefik passes reserved
// characters, encoded or not, as they came, but rewrites targets in three
// ways of its own:
// percent-encoded unreserved characters are decoded and the hex digits of
// the others upper-cased; dot segments and doubled slashes are removed
// (sanitizePath); a ";" in the query becomes "%3B" (encodeQuerySemicolons,
// which the generated config turns on). It routes on the rewritten path,
// so the route chosen and the path Synapse gets always agree.
var traefikExtraVectors = []struct {
	method, path, want string
}{
	{"GET", "/_matrix/client/v3/rooms/%21a%3Aexample.org/state/m.room.name/%2Fweird", ""},
	{"GET", "/_matrix/client/v3/sync?since=s72594_4483_1934&timeout=30000&filter=%7B%22room%22%3A%7B%7D%7D", ""},
	{"PUT", "/_matrix/client/v3/rooms/%21a%3Aexample.org/send/m.room.message/txn%20with%20space", ""},
	{"GET", "/_matrix/client/v3/profile/%40%C3%A9l%C3%A8ve%3Aexample.org", ""},
	{"GET", "/_matrix/media/v3/download/example.org/a+b%2Bc", ""},
	{"GET", "/_matrix/media/v3/download/example.org/abc%2Fdef%25%2E%2E", "/_matrix/media/v3/download/example.org/abc%2Fdef%25.."},
	{"PUT", "/_matrix/client/v3/rooms/!room:example.org/send/m.room.message/txn%2F1%3F", ""},
	{"GET", "/_matrix/client/v3/user/%40a%2F..%2Fb%3Aexample.org/filter/1", ""},
	// encodeQuerySemicolons: Synapse reads ";" in a query as part of the
	// value, and "%3B" keeps that reading where Traefik's default would
	// split the parameter in two.
	{"GET", "/_matrix/client/v3/sync?since=s1%2F2&timeout=0;x=1", "/_matrix/client/v3/sync?since=s1%2F2&timeout=0%3Bx=1"},
	{"GET", "/_matrix/federation/v1/state_ids/%21a%3Aexample.org?event_id=%24abc%3Aexample.org", ""},
	{"PUT", "/_matrix/federation/v1/send/1234%2F5678", ""},
	{"GET", "/_matrix/federation/v1/query/directory?room_alias=%23a%2Fb%3Aexample.org", ""},
	{"GET", "/_matrix/key/v2/server?x=%7B%7D", ""},
	{"GET", "/_matrix/media/v3/download/example.org/abc%2fdef", "/_matrix/media/v3/download/example.org/abc%2Fdef"},
	{"GET", "/_matrix/client/v3/profile/%41lice", "/_matrix/client/v3/profile/Alice"},
	{"GET", "/_matrix/client/v3/rooms/%21a%3Aexample.org//state//m.room.name/", "/_matrix/client/v3/rooms/%21a%3Aexample.org/state/m.room.name/"},
	{"GET", "/_matrix//client/v3/sync?since=s1%2F2&timeout=0", "/_matrix/client/v3/sync?since=s1%2F2&timeout=0"},
	{"GET", "/_matrix/client/v3/../v3/sync", "/_matrix/client/v3/sync"},
	{"GET", "/_matrix/key/v2/server//", "/_matrix/key/v2/server/"},
}

// traefikSmuggled are targets whose raw and cleaned forms differ in the
// route they name. Traefik routes and forwards the cleaned form, so the
// admin API allow list must see every request that reaches Synapse as an
// admin path.
var traefikSmuggled = []string{
	"/_synapse/admin/..%2F..%2F_matrix/client/versions",
	"/_synapse/admin/v1/..%2F..%2F..%2F_matrix/client/versions",
	"/_matrix/..%2F_synapse/admin/v1/server_version",
	"/_matrix/client/../../_synapse/admin/v1/server_version",
	"/_matrix/client/%2E%2E/%2E%2E/_synapse/admin/v1/server_version",
	"/%5Fsynapse/admin/v1/server_version",
	"//_synapse/admin/v1/server_version",
	"/_matrix/federation/../../_synapse/admin/v1/server_version",
}

// traefikBinary is the Traefik make e2e-traefik builds. The test is opt-in:
// without the binary it skips, in CI as well.
func traefikBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("MATRIXGEN_TRAEFIK")
	if bin == "" {
		t.Skip("MATRIXGEN_TRAEFIK is unset: `make e2e-traefik` builds Traefik and runs this test")
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, out)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	t.Logf("%s: %s", bin, strings.Join(strings.Fields(first), " "))
	return bin
}

func TestTraefikRouting(t *testing.T) {
	bin := traefikBinary(t)
	vectors := proxytest.Vectors(t)
	for _, tc := range traefikCases {
		t.Run(tc.name, func(t *testing.T) {
			setup := proxytest.Compile(t, tc.config)
			r := startTraefik(t, bin, setup)
			r.admin = tc.admin
			t.Run("vectors", func(t *testing.T) { r.replayVectors(t, vectors) })
			t.Run("raw-target", r.checkSmuggled)
			t.Run("well-known", func(t *testing.T) { r.checkWellKnown(t, traefikHomeserver) })
			if slices.ContainsFunc(setup.Plan.Routes, func(rt plan.Route) bool { return rt.Host == traefikDomain }) {
				t.Run("base-domain", func(t *testing.T) { r.checkWellKnown(t, traefikDomain) })
			}
			t.Run("element", r.checkElement)
			t.Run("unknown-host", r.checkUnknownHost)
			t.Run("route-table", r.checkRouteTable)
			t.Run("forwarded-for", r.checkSpoofedForwardedFor)
			t.Run("redirect", r.checkRedirect)
			t.Run("body-size", r.checkBodySize)
			if r.scheme == "https" {
				t.Run("http2", r.checkHTTP2)
			}
		})
	}
}

// traefikRun is one Traefik serving a rewired plan.
type traefikRun struct {
	setup  *proxytest.Setup
	client *http.Client
	admin  string
	// Ports and schemes of the two roles, after rewiring to loopback.
	clientPort, fedPort int
	scheme              string
	// static is the test's static config; ports maps its entrypoints to
	// their loopback ports.
	static map[string]any
	ports  map[string]int
	api    string // base URL of Traefik's API
	out    *lockedBuffer
}

// lockedBuffer collects Traefik's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startTraefik renders the plan, starts Traefik on it, and returns once
// the API lists every route's router as enabled and without errors.
func startTraefik(t *testing.T, bin string, setup *proxytest.Setup) *traefikRun {
	t.Helper()
	r := &traefikRun{setup: setup, client: proxytest.Client(), scheme: "http", ports: map[string]int{}}
	tlsOn := false
	for _, e := range setup.Plan.Entrypoints {
		r.ports[e.ProxyName] = e.HostPort
		tlsOn = tlsOn || e.TLS
		switch e.Name {
		case plan.EntrypointClient:
			r.clientPort = e.HostPort
			if e.TLS {
				r.scheme = "https"
			}
		case plan.EntrypointFederation:
			r.fedPort = e.HostPort
		}
	}
	var certDir string
	if tlsOn {
		certDir = setup.Certificates(t)
	}
	tree, err := render.Render(setup.Plan)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	staticYAML := treeFile(t, tree, "/traefik/config/traefik.yml")
	dynamicYAML := treeFile(t, tree, "/traefik/config/dynamic/matrixgen.yml")
	// The configs here are not all examples, which make test checks.
	consumers.TraefikSchema(t, dynamicYAML)

	dir := t.TempDir()
	dynDir := filepath.Join(dir, "dynamic")
	if err := os.MkdirAll(dynDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dynDir, "matrixgen.yml"), dynamicYAML)
	if certDir != "" {
		writeFile(t, filepath.Join(dynDir, "test-certificates.yml"), testCertificates(t, setup.Plan, certDir))
	}
	if err := yaml.Unmarshal(staticYAML, &r.static); err != nil {
		t.Fatalf("rendered traefik.yml: %v", err)
	}
	apiPort := r.rewriteStatic(t, dir, dynDir)
	data, err := yaml.Marshal(r.static)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "traefik.yml")
	writeFile(t, conf, data)

	r.out = runTraefik(t, bin, conf, dir)
	r.api = fmt.Sprintf("http://127.0.0.1:%d/api", apiPort)
	proxytest.WaitListening(t, apiPort, 30*time.Second)
	r.waitRouters(t, 30*time.Second)
	for _, port := range r.ports {
		proxytest.WaitListening(t, port, 10*time.Second)
	}
	return r
}

func treeFile(t *testing.T, tree render.Tree, suffix string) []byte {
	t.Helper()
	for _, p := range tree.Paths() {
		if strings.HasSuffix(p, suffix) {
			return tree[p].Data
		}
	}
	t.Fatalf("the bundle has no file ending in %s", suffix)
	return nil
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testCertificates is a dynamic file holding the self-signed certificate
// of every route hostname; Traefik picks one by SNI before any resolver.
func testCertificates(t *testing.T, p *plan.Plan, certDir string) []byte {
	t.Helper()
	var certs []any
	hosts := map[string]bool{}
	for _, r := range p.Routes {
		if hosts[r.Host] {
			continue
		}
		hosts[r.Host] = true
		certs = append(certs, map[string]any{
			"certFile": filepath.Join(certDir, r.Host, "fullchain.pem"),
			"keyFile":  filepath.Join(certDir, r.Host, "privkey.pem"),
		})
	}
	data, err := yaml.Marshal(map[string]any{"tls": map[string]any{"certificates": certs}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// rewriteStatic changes in the rendered static config what cannot work in
// a test, and returns the API's port.
func (r *traefikRun) rewriteStatic(t *testing.T, dir, dynDir string) int {
	t.Helper()
	eps, ok := r.static["entryPoints"].(map[string]any)
	if !ok {
		t.Fatalf("rendered traefik.yml has no entryPoints: %v", r.static)
	}
	for name, v := range eps {
		ep, _ := v.(map[string]any)
		if ep == nil {
			t.Fatalf("entrypoint %s: %v", name, v)
		}
		if r.ports[name] == 0 {
			r.ports[name] = proxytest.FreePort(t)
		}
		ep["address"] = fmt.Sprintf("127.0.0.1:%d", r.ports[name])
	}
	for role, port := range map[string]int{plan.EntrypointClient: r.clientPort, plan.EntrypointFederation: r.fedPort} {
		if !slices.Contains(slices.Collect(maps.Values(r.ports)), port) {
			t.Fatalf("the %s entrypoint's port %d has no Traefik entrypoint", role, port)
		}
	}
	// Traefik puts its API on an entrypoint named "traefik".
	apiPort := proxytest.FreePort(t)
	eps["traefik"] = map[string]any{"address": fmt.Sprintf("127.0.0.1:%d", apiPort)}
	r.static["api"] = map[string]any{"insecure": true, "dashboard": false}

	file, _ := r.static["providers"].(map[string]any)["file"].(map[string]any)
	if file == nil {
		t.Fatalf("rendered traefik.yml has no file provider: %v", r.static["providers"])
	}
	file["directory"] = dynDir

	resolvers, _ := r.static["certificatesResolvers"].(map[string]any)
	for name, v := range resolvers {
		acme, _ := v.(map[string]any)["acme"].(map[string]any)
		if acme == nil {
			t.Fatalf("resolver %s is not ACME: %v", name, v)
		}
		acme["storage"] = filepath.Join(dir, "acme-"+name+".json")
		// Nothing listens there: the test must never reach Let's Encrypt.
		acme["caServer"] = fmt.Sprintf("https://127.0.0.1:%d/directory", proxytest.FreePort(t))
	}
	return apiPort
}

// runTraefik starts Traefik in its own process group; it gets SIGTERM at
// the end of the test, SIGKILL if it has not gone a few seconds later.
func runTraefik(t *testing.T, bin, conf, dir string) *lockedBuffer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "--configFile="+conf)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("Traefik output:\n%s\nstatic config:\n%s", out.String(), readFileOrErr(conf))
		}
	})
	return out
}

func readFileOrErr(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// traefikObject is what Traefik's API says about a router, service or
// middleware.
type traefikObject struct {
	Name   string   `json:"name"`
	Status string   `json:"status"`
	Errors []string `json:"error"`
	Rule   string   `json:"rule"`
}

// apiList reads every page of one of the API's lists.
func (r *traefikRun) apiList(kind string) ([]traefikObject, error) {
	var all []traefikObject
	c := &http.Client{Timeout: 5 * time.Second}
	for page := 1; ; {
		resp, err := c.Get(fmt.Sprintf("%s/http/%s?per_page=100&page=%d", r.api, kind, page))
		if err != nil {
			return nil, err
		}
		var objs []traefikObject
		err = json.NewDecoder(resp.Body).Decode(&objs)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /api/http/%s: %d %v", kind, resp.StatusCode, err)
		}
		all = append(all, objs...)
		next, _ := strconv.Atoi(resp.Header.Get("X-Next-Page"))
		if next <= page {
			return all, nil
		}
		page = next
	}
}

// waitRouters waits until Traefik has loaded a router for every route,
// then fails on any router, service or middleware that is not enabled or
// carries an error: Traefik serves on without a router it cannot build.
func (r *traefikRun) waitRouters(t *testing.T, within time.Duration) {
	t.Helper()
	want := map[string]bool{}
	for _, rt := range r.setup.Plan.Routes {
		want[rt.Name+"@file"] = true
	}
	deadline := time.Now().Add(within)
	var missing []string
	var lastErr error
	for time.Now().Before(deadline) {
		// A file Traefik cannot load at all leaves no router to report on;
		// the reason is only in its log.
		if errs := providerErrors(r.out.String()); len(errs) > 0 {
			t.Fatalf("Traefik cannot load the dynamic config:\n%s", strings.Join(errs, "\n"))
		}
		routers, err := r.apiList("routers")
		lastErr = err
		if err == nil {
			missing = missing[:0]
			have := map[string]bool{}
			for _, o := range routers {
				have[o.Name] = true
			}
			for name := range want {
				if !have[name] {
					missing = append(missing, name)
				}
			}
			if len(missing) == 0 {
				r.checkObjects(t, "routers", routers)
				for _, kind := range []string{"services", "middlewares"} {
					objs, err := r.apiList(kind)
					if err != nil {
						t.Fatal(err)
					}
					r.checkObjects(t, kind, objs)
				}
				if t.Failed() {
					t.FailNow()
				}
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(missing)
	t.Fatalf("after %s, Traefik's API lacks routers %q (last error: %v)", within, missing, lastErr)
}

// providerErrors are the error lines of the file provider in Traefik's log.
func providerErrors(log string) []string {
	var out []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, " ERR ") && strings.Contains(line, "providerName=file") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

func (r *traefikRun) checkObjects(t *testing.T, kind string, objs []traefikObject) {
	t.Helper()
	bad := 0
	for _, o := range objs {
		if o.Status != "enabled" || len(o.Errors) > 0 {
			t.Errorf("Traefik's %s %s: status %q, errors %q (rule %s)", kind, o.Name, o.Status, o.Errors, o.Rule)
			bad++
		}
	}
	if bad == 0 {
		t.Logf("%d %s, all enabled", len(objs), kind)
	}
}

// total is the number of requests every stub has seen.
func (r *traefikRun) total() int64 {
	var sum int64
	for _, s := range r.setup.Stubs {
		sum += s.Requests.Load()
	}
	return sum
}

// traefikExpect is what a request should meet: a stub's name and the
// target it sees ("" for the one sent), or a status Traefik answers itself
// (then no stub may see the request).
type traefikExpect struct {
	backend string
	uri     string
	status  int
}

func (r *traefikRun) expected(path string, port int) traefikExpect {
	shared := r.clientPort == r.fedPort
	fed := proxytest.IsFederation(path)
	if port == r.fedPort && !shared {
		if fed {
			return traefikExpect{backend: traefikSynapseFed}
		}
		return traefikExpect{status: http.StatusNotFound}
	}
	if fed && shared {
		return traefikExpect{backend: proxytest.ExpectedBackend(proxytest.Vector{Path: path}, true)}
	}
	if strings.HasPrefix(path, "/_synapse/admin") {
		switch r.admin {
		case "denied":
			return traefikExpect{status: http.StatusForbidden}
		case "off":
			return traefikExpect{status: http.StatusNotFound}
		}
	}
	if strings.HasPrefix(path, "/_matrix") || strings.HasPrefix(path, "/_synapse/") || path == "/health" {
		return traefikExpect{backend: proxytest.ExpectedBackend(proxytest.Vector{Path: path}, false)}
	}
	return traefikExpect{status: http.StatusNotFound}
}

// send makes one request and checks it against want: the stub saw the
// target, the hostname, and the forwarded client and scheme.
func (r *traefikRun) send(t *testing.T, method, host string, port int, path string, want traefikExpect) proxytest.Answer {
	t.Helper()
	before := r.total()
	a := proxytest.Do(t, r.client, method, r.scheme, host, port, path)
	if want.backend == "" {
		if a.Status != want.status || a.Seen != nil || r.total() != before {
			t.Errorf("%s %s:%d%s: status %d, backend %v; want %d from Traefik and no backend", method, host, port, path, a.Status, a.Seen, want.status)
		}
		return a
	}
	uri := want.uri
	if uri == "" {
		uri = path
	}
	s := a.Seen
	switch {
	case s == nil:
		t.Errorf("%s %s:%d%s: status %d from Traefik, want backend %s", method, host, port, path, a.Status, want.backend)
	case s.Backend != want.backend:
		t.Errorf("%s %s:%d%s: reached %s, want %s", method, host, port, path, s.Backend, want.backend)
	case s.URI != uri:
		t.Errorf("%s %s:%d%s: backend saw target %q, want %q", method, host, port, path, s.URI, uri)
	case s.Method != method || s.Host != host:
		t.Errorf("%s %s:%d%s: backend saw %s with Host %q", method, host, port, path, s.Method, s.Host)
	case s.XForwardedFor != "127.0.0.1" || s.XForwardedProto != r.scheme:
		t.Errorf("%s %s:%d%s: X-Forwarded-For %q, X-Forwarded-Proto %q; want 127.0.0.1, %s", method, host, port, path, s.XForwardedFor, s.XForwardedProto, r.scheme)
	}
	return a
}

func (r *traefikRun) rolePorts() []int {
	if r.fedPort != r.clientPort {
		return []int{r.clientPort, r.fedPort}
	}
	return []int{r.clientPort}
}

func (r *traefikRun) replayVectors(t *testing.T, vectors []proxytest.Vector) {
	sent := 0
	for _, v := range vectors {
		for _, port := range r.rolePorts() {
			r.send(t, v.Method, traefikHomeserver, port, v.Path, r.expected(v.Path, port))
			sent++
		}
	}
	for _, v := range traefikExtraVectors {
		for _, port := range r.rolePorts() {
			want := r.expected(v.path, port)
			if want.backend != "" {
				want.uri = v.want
			}
			r.send(t, v.method, traefikHomeserver, port, v.path, want)
			sent++
		}
	}
	t.Logf("%d vectors (%d from route-vectors.tsv, %d extra) sent to %d port(s): %d requests", len(vectors)+len(traefikExtraVectors), len(vectors), len(traefikExtraVectors), len(r.rolePorts()), sent)
}

// checkSmuggled: whatever Traefik makes of these targets, Synapse gets an
// admin path only past the allow list.
func (r *traefikRun) checkSmuggled(t *testing.T) {
	for _, path := range traefikSmuggled {
		for _, port := range r.rolePorts() {
			a := proxytest.Do(t, r.client, "GET", r.scheme, traefikHomeserver, port, path)
			if a.Seen == nil {
				continue
			}
			if strings.HasPrefix(a.Seen.URI, "/_synapse/admin") && r.admin != "allowed" {
				t.Errorf("GET %s on port %d reached %s as %q, but the admin API is %s", path, port, a.Seen.Backend, a.Seen.URI, r.admin)
			}
			if port == r.fedPort && port != r.clientPort && !proxytest.IsFederation(a.Seen.URI) {
				t.Errorf("GET %s on the federation port reached %s as %q", path, a.Seen.Backend, a.Seen.URI)
			}
		}
	}
}

// checkWellKnown asks for the discovery files on host. Content-Type and
// the CORS headers must be Traefik's: the stub's Content-Type is its own
// and it sends no CORS header. Traefik adds Access-Control-Allow-Methods
// and -Headers to the preflight answer only, which it gives itself.
func (r *traefikRun) checkWellKnown(t *testing.T, host string) {
	for _, name := range []string{"server", "client"} {
		a := r.send(t, "GET", host, r.clientPort, "/.well-known/matrix/"+name, traefikExpect{backend: traefikStaticFiles})
		if got := a.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s well-known %s: Access-Control-Allow-Origin %q, want *", host, name, got)
		}
		if got := a.Header.Values("Content-Type"); !slices.Equal(got, []string{"application/json"}) {
			t.Errorf("%s well-known %s: Content-Type %q, want exactly application/json", host, name, got)
		}
	}
	before := r.total()
	req, err := http.NewRequest("OPTIONS", fmt.Sprintf("%s://%s:%d/.well-known/matrix/client", r.scheme, host, r.clientPort), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://app.example.net")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "Authorization")
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusOK || r.total() != before {
		t.Errorf("%s well-known preflight: %d, backend reached: %v; want 200 from Traefik", host, resp.StatusCode, r.total() != before)
	}
	if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("%s well-known preflight: CORS headers %v", host, h)
	}
}

func (r *traefikRun) checkElement(t *testing.T) {
	for _, path := range []string{"/", "/config.json", "/#/room/%21a%3Aexample.org", "/_matrix/client/versions"} {
		want := traefikExpect{backend: traefikElementStub}
		if strings.Contains(path, "#") {
			// A raw "#" in the target is a fragment Traefik refuses.
			want = traefikExpect{status: http.StatusBadRequest}
		}
		r.send(t, "GET", traefikElement, r.clientPort, path, want)
	}
}

func (r *traefikRun) checkUnknownHost(t *testing.T) {
	for _, port := range r.rolePorts() {
		for _, path := range []string{"/", "/_matrix/client/versions", "/_matrix/federation/v1/version", "/.well-known/matrix/server"} {
			r.send(t, "GET", "unknown.example.net", port, path, traefikExpect{status: http.StatusNotFound})
		}
	}
}

// checkRouteTable holds Traefik to the route table that `matrixgen routes`
// prints: a request for each route's own prefix, on its host and port,
// reaches that route's backend.
func (r *traefikRun) checkRouteTable(t *testing.T) {
	ports := map[string]int{}
	for _, e := range r.setup.Plan.Entrypoints {
		ports[e.Name] = e.HostPort
	}
	for _, rt := range r.setup.Plan.Routes {
		if rt.PathRegex != "" {
			continue
		}
		want := traefikExpect{backend: fmt.Sprintf("%s:%d", rt.Service, rt.Port)}
		if len(rt.Settings.AllowIPs) > 0 && !slices.Contains(rt.Settings.AllowIPs, "127.0.0.1/32") {
			want = traefikExpect{status: http.StatusForbidden}
		}
		path := rt.PathPrefix
		r.send(t, "GET", rt.Host, ports[rt.Entrypoint], path, want)
		if path != "/" {
			r.send(t, "GET", rt.Host, ports[rt.Entrypoint], path+"/x%2Fy", want)
		}
	}
}

// doWithHeader sends a request for the homeserver with one extra header.
func (r *traefikRun) doWithHeader(t *testing.T, path, name, value string) (int, *proxytest.Seen) {
	t.Helper()
	a, err := proxytest.Send(r.client, proxytest.Request{Method: "GET", Scheme: r.scheme, Host: traefikHomeserver, Port: r.clientPort,
		Target: path, Header: http.Header{name: {value}}})
	if err != nil {
		t.Fatal(err)
	}
	return a.Status, a.Seen
}

// checkSpoofedForwardedFor: Synapse believes X-Forwarded-For, so a
// client's own must be replaced, and must not open the admin allow list.
func (r *traefikRun) checkSpoofedForwardedFor(t *testing.T) {
	_, seen := r.doWithHeader(t, "/_matrix/client/versions", "X-Forwarded-For", "10.1.2.3")
	if seen == nil || seen.XForwardedFor != "127.0.0.1" {
		t.Errorf("client-sent X-Forwarded-For: backend saw %+v, want 127.0.0.1 only", seen)
	}
	_, seen = r.doWithHeader(t, "/_matrix/client/versions", "X-Forwarded-Proto", "gopher")
	if seen == nil || seen.XForwardedProto != r.scheme {
		t.Errorf("client-sent X-Forwarded-Proto: backend saw %+v, want %s", seen, r.scheme)
	}
	if r.admin == "denied" {
		if status, seen := r.doWithHeader(t, "/_synapse/admin/v1/server_version", "X-Forwarded-For", "10.1.2.3"); status != http.StatusForbidden || seen != nil {
			t.Errorf("admin API with a forged X-Forwarded-For: %d, reached %v; want 403", status, seen)
		}
	}
}

// checkRedirect: with traefik.redirect_http, plain HTTP on the web
// entrypoint is sent to HTTPS with the target unchanged, and reaches no
// backend. The Location must be what a user reaches on the host: the
// published HTTPS port (443, so none in the URL), not the loopback port
// the test moved the entrypoint to, nor the entrypoint's port inside the
// container. Followed on the published ports, it reaches Synapse.
func (r *traefikRun) checkRedirect(t *testing.T) {
	web, _ := r.static["entryPoints"].(map[string]any)["web"].(map[string]any)
	httpOpts, _ := web["http"].(map[string]any)
	redirect := httpOpts != nil && httpOpts["redirections"] != nil
	if !redirect || r.scheme != "https" {
		t.Skip("no HTTP to HTTPS redirect in this config")
	}
	const target = "/_matrix/client/v3/rooms/%21a%3Aexample.org/messages?dir=b"
	before := r.total()
	a := proxytest.Do(t, r.client, "GET", "http", traefikHomeserver, r.ports["web"], target)
	want := "https://" + traefikHomeserver + portInURL("https", r.published(t, r.clientPort)) + target
	location := a.Header.Get("Location")
	if (a.Status != http.StatusMovedPermanently && a.Status != http.StatusPermanentRedirect) || location != want || r.total() != before {
		t.Fatalf("plain HTTP: %d to %q, backend reached: %v; want a permanent redirect to %s", a.Status, location, r.total() != before, want)
	}
	r.send(t, "GET", traefikHomeserver, r.onLoopback(t, location), target, traefikExpect{backend: traefikSynapseClient})
}

// published is the port the host publishes for the entrypoint the test
// moved to loopbackPort.
func (r *traefikRun) published(t *testing.T, loopbackPort int) int {
	t.Helper()
	for public, port := range r.setup.Ports {
		if port == loopbackPort {
			return public
		}
	}
	t.Fatalf("no published port for loopback port %d", loopbackPort)
	return 0
}

// onLoopback is the loopback port standing in for the published port of
// an absolute https URL.
func (r *traefikRun) onLoopback(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	public := 443
	if p := u.Port(); p != "" {
		public, _ = strconv.Atoi(p)
	}
	port, ok := r.setup.Ports[public]
	if !ok {
		t.Fatalf("%s: nothing is published on port %d", rawURL, public)
	}
	return port
}

// portInURL is ":port", or nothing for the scheme's default port.
func portInURL(scheme string, port int) string {
	if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) {
		return ""
	}
	return ":" + strconv.Itoa(port)
}

// checkBodySize: a body over the upload limit gets 413 from Traefik, with
// the Matrix error from the static files, and reaches no backend, whether
// its length is declared or it comes in chunks; a body of exactly the
// limit reaches Synapse whole.
func (r *traefikRun) checkBodySize(t *testing.T) {
	limit := r.uploadLimit(t)
	synapse := r.setup.Stubs[traefikSynapseClient]
	upload := fmt.Sprintf("%s://%s:%d/_matrix/media/v3/upload", r.scheme, traefikHomeserver, r.clientPort)
	for _, tc := range []struct {
		name    string
		size    int64
		chunked bool
		status  int
	}{
		{"declared, over", limit + 1, false, http.StatusRequestEntityTooLarge},
		{"chunked, over", limit + 64<<10, true, http.StatusRequestEntityTooLarge},
		{"declared, at the limit", limit, false, http.StatusOK},
		{"chunked, at the limit", limit, true, http.StatusOK},
	} {
		before := synapse.Requests.Load()
		var body io.Reader = bytes.NewReader(make([]byte, tc.size))
		if tc.chunked {
			body = io.MultiReader(body) // hides the length: Go sends it in chunks
		}
		req, err := http.NewRequest("POST", upload, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = traefikHomeserver
		// Traefik answers a declared oversized body before reading it;
		// expecting 100-continue keeps the client from writing into a
		// closed connection.
		req.Header.Set("Expect", "100-continue")
		resp, err := r.client.Do(req)
		if err != nil {
			t.Fatalf("%s (%d bytes): %v", tc.name, tc.size, err)
		}
		a := proxytest.ReadAnswer(resp)
		reached := synapse.Requests.Load() - before
		if a.Status != tc.status || (reached == 1) != (tc.status == http.StatusOK) || (a.Seen != nil && a.Seen.BodyBytes != tc.size) {
			t.Errorf("%s (%d bytes, limit %d): %d, Synapse saw %d request(s) (%+v); want %d", tc.name, tc.size, limit, a.Status, reached, a.Seen, tc.status)
		}
		if tc.status == http.StatusRequestEntityTooLarge {
			proxytest.CheckTooLarge(t, fmt.Sprintf("%s (%d bytes, limit %d)", tc.name, tc.size, limit), a)
		}
	}
}

// uploadLimit is the body limit of Synapse's client API route.
func (r *traefikRun) uploadLimit(t *testing.T) int64 {
	t.Helper()
	for _, rt := range r.setup.Plan.Routes {
		if rt.Entrypoint == plan.EntrypointClient && rt.PathPrefix == "/_matrix" && rt.Service == "matrix-synapse" {
			return rt.Settings.MaxBodyBytes
		}
	}
	t.Fatal("no client route for /_matrix")
	return 0
}

// checkHTTP2 asks for HTTP/2 by ALPN.
func (r *traefikRun) checkHTTP2(t *testing.T) {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // self-signed test certificates
		ForceAttemptHTTP2: true,
	}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(fmt.Sprintf("https://%s:%d/_matrix/client/versions", traefikHomeserver, r.clientPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Errorf("%s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
}

// TestTraefikSlowUpload: an upload within the limit that takes over a
// minute to arrive, at a steady rate, reaches Synapse whole. Traefik v3's
// default read timeout (60 s) cut it off with a 502.
func TestTraefikSlowUpload(t *testing.T) {
	bin := traefikBinary(t)
	proxytest.SkipSlow(t)
	setup := proxytest.Compile(t, traefikCases[0].config)
	r := startTraefik(t, bin, setup)
	proxytest.CheckSlowUpload(t, r.scheme, traefikHomeserver, r.clientPort)
}

// TestTraefikTrustedProxies: behind a trusted TLS terminator, the admin
// allow list applies to the client the terminator names in
// X-Forwarded-For, not to the terminator's own address, as nginx's and
// Apache's real-IP handling do.
func TestTraefikTrustedProxies(t *testing.T) {
	bin := traefikBinary(t)
	for _, tc := range []struct {
		name, allow string
		cases       []struct {
			forwarded string
			reach     bool
		}
	}{
		{"allow-10/8", "10.0.0.0/8", []struct {
			forwarded string
			reach     bool
		}{{"10.1.2.3", true}, {"192.0.2.1", false}, {"192.0.2.1, 10.1.2.3", true}, {"10.1.2.3, 192.0.2.1", false}, {"", false}}},
		// The terminator's own address is in the allow list (the default
		// one): the clients it forwards must not be let in for that.
		{"allow-loopback", "127.0.0.1/32", []struct {
			forwarded string
			reach     bool
		}{{"203.0.113.7", false}, {"10.1.2.3", false}, {"", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setup := proxytest.Compile(t, fmt.Sprintf(`domain: example.org
traefik:
  behind_proxy: {enabled: true, trusted_ips: ["127.0.0.1/32"]}
reverse_proxy:
  admin_api: {enabled: true, allow: [%q]}
`, tc.allow))
			r := startTraefik(t, bin, setup)
			for _, c := range tc.cases {
				status, seen := r.doWithHeader(t, "/_synapse/admin/v1/server_version", "X-Forwarded-For", c.forwarded)
				switch {
				case c.reach && seen == nil:
					t.Errorf("X-Forwarded-For %q: %d, want it to reach Synapse", c.forwarded, status)
				case c.reach && !strings.HasPrefix(seen.XForwardedFor, c.forwarded):
					t.Errorf("X-Forwarded-For %q: Synapse saw %q", c.forwarded, seen.XForwardedFor)
				case !c.reach && (status != http.StatusForbidden || seen != nil):
					t.Errorf("X-Forwarded-For %q: %d, reached %v; want 403", c.forwarded, status, seen)
				}
			}
		})
	}
}

// TestTraefikWorkers serves every worker example through a real Traefik
// in front of stub backends and replays route-vectors.tsv: each request
// must reach a server of the route the route table chooses, within the
// rules of routes/README.md. Traefik balances pools round robin, so
// requests are not pinned to a user or room (docs/reverse-proxy.md).
func TestTraefikWorkers(t *testing.T) {
	bin := traefikBinary(t)
	vectors := proxytest.Vectors(t)
	for _, path := range workerExamples(t) {
		for _, variant := range []struct {
			name string
			edit func(doc map[string]any)
		}{
			{"tls", func(doc map[string]any) {}},
			{"federation-on-443", func(doc map[string]any) {
				section(doc, "synapse")["federation"] = map[string]any{"port": 443}
			}},
			// A bridge brings the internal entrypoint.
			{"bridge", func(doc map[string]any) {
				doc["bridges"] = map[string]any{"heisenbridge": map[string]any{"type": "heisenbridge", "owner": fmt.Sprintf("@admin:%s", doc["domain"])}}
			}},
		} {
			t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml")+"/"+variant.name, func(t *testing.T) {
				config := editedYAML(t, path, func(doc map[string]any) {
					section(doc, "reverse_proxy")["type"] = "traefik"
					section(doc, "reverse_proxy")["admin_api"] = map[string]any{"enabled": true, "allow": []any{"127.0.0.1/32"}}
					variant.edit(doc)
				})
				setup := proxytest.Compile(t, config)
				r := startTraefik(t, bin, setup)
				w := &traefikWorkers{r: r, rt: newRouteTable(t, setup.Plan)}
				t.Run("vectors", func(t *testing.T) {
					for _, v := range vectors {
						w.checkVector(t, v)
					}
					t.Logf("%d vectors", len(vectors))
				})
				t.Run("pools", func(t *testing.T) { w.checkPools(t, vectors) })
				if port := r.ports[internalEntrypoint]; port != 0 {
					t.Run("internal", func(t *testing.T) { w.checkInternal(t, vectors, port) })
				} else if variant.name == "bridge" {
					t.Errorf("no %s entrypoint for the bridge", internalEntrypoint)
				}
				t.Run("stubs", w.checkStubs)
				// Last: it stops a backend.
				t.Run("restart", func(t *testing.T) { w.checkRestart(t, vectors) })
			})
		}
	}
}

type traefikWorkers struct {
	r  *traefikRun
	rt *routeTable
}

func (w *traefikWorkers) port(target string) int {
	if proxytest.IsFederation(target) {
		return w.r.fedPort
	}
	return w.r.clientPort
}

func (w *traefikWorkers) checkVector(t *testing.T, v proxytest.Vector) {
	t.Helper()
	a := proxytest.Do(t, w.r.client, v.Method, w.r.scheme, w.rt.host, w.port(v.Path), v.Path)
	// Traefik matches regexes on the path with only unreserved characters
	// decoded; the vectors encode none, so that is the raw path.
	ans, ok := w.rt.checkAnswer(t, "Traefik", v, a, strings.SplitN(v.Path, "?", 2)[0], false)
	if !ok {
		return
	}
	if a.Seen.Host != w.rt.host || a.Seen.XForwardedFor != "127.0.0.1" || a.Seen.XForwardedProto != w.r.scheme {
		t.Errorf("%s: the backend saw %+v", ans.where, a.Seen)
	}
	w.rt.checkRules(t, v, ans)
}

// internalEntrypoint is Traefik's listener for bridges and bots.
const internalEntrypoint = "matrix-internal-client-api"

// checkInternal: a client request a bridge sends to the internal
// entrypoint, naming Traefik's container, reaches a server of the route
// the public entrypoint would choose for it, or the main process where no
// public route goes to Synapse (the admin API off, say): what the bridge
// would reach calling the main process itself.
func (w *traefikWorkers) checkInternal(t *testing.T, vectors []proxytest.Vector, port int) {
	for _, v := range vectors {
		if proxytest.IsFederation(v.Path) {
			continue // bridges do not federate
		}
		a := proxytest.Do(t, w.r.client, v.Method, "http", "matrix-traefik", port, v.Path)
		unit, got := backendOf(t, a)
		want := []plan.Backend{{Service: mainSynapse, Port: 8008}}
		if r, ok := w.rt.match(v.Path, strings.SplitN(v.Path, "?", 2)[0]); ok && strings.HasPrefix(r.Service, mainSynapse) {
			want = r.Servers()
		}
		if !slices.ContainsFunc(want, func(be plan.Backend) bool { return be.Service == unit && be.Port == got }) {
			t.Errorf("%s %s on the internal entrypoint reached %s:%d (%d), want one of %v", v.Method, v.Path, unit, got, a.Status, want)
			continue
		}
		if a.Seen.URI != v.Path || a.Seen.Host != "matrix-traefik" {
			t.Errorf("%s %s on the internal entrypoint: the backend saw %+v", v.Method, v.Path, a.Seen)
		}
	}
}

// checkPools: Traefik balances a pool round robin over all its servers,
// except a pool that must keep a room on one server (Balance.Strict),
// which gets only its first. Each pool is tried with a vector the route
// table sends to it.
func (w *traefikWorkers) checkPools(t *testing.T, vectors []proxytest.Vector) {
	tried := map[string]bool{}
	for _, v := range vectors {
		raw := strings.SplitN(v.Path, "?", 2)[0]
		r, ok := w.rt.match(v.Path, raw)
		if !ok || len(r.Backends) == 0 || tried[r.Pool] {
			continue
		}
		tried[r.Pool] = true
		seen := map[string]bool{}
		for range 4 * len(r.Backends) {
			unit, port := backendOf(t, proxytest.Do(t, w.r.client, v.Method, w.r.scheme, w.rt.host, w.port(v.Path), v.Path))
			seen[fmt.Sprintf("%s:%d", unit, port)] = true
		}
		want := map[string]bool{}
		for i, be := range r.Backends {
			if i == 0 || !r.Balance.Strict || r.Balance.By == plan.BalanceLeastConn {
				want[fmt.Sprintf("%s:%d", be.Service, be.Port)] = true
			}
		}
		if !maps.Equal(seen, want) {
			t.Errorf("pool %s (%+v) via %s %s: reached %v, want %v", r.Pool, r.Balance, v.Method, v.Path, slices.Sorted(maps.Keys(seen)), slices.Sorted(maps.Keys(want)))
		}
	}
	for _, r := range w.rt.p.Routes {
		if len(r.Backends) > 0 && !tried[r.Pool] {
			tried[r.Pool] = true
			t.Logf("no vector reaches pool %s", r.Pool)
		}
	}
	t.Logf("%d pools", len(tried))
}

func (w *traefikWorkers) checkStubs(t *testing.T) { w.rt.checkStubs(t, w.r.setup.Stubs) }

// checkRestart: while one server of a pool restarts, as install.sh
// restarts a pool's servers one at a time, every request is answered by
// another server, none fails; once it is back, it gets requests again.
func (w *traefikWorkers) checkRestart(t *testing.T, vectors []proxytest.Vector) {
	v, r, ok := w.balancedPool(vectors)
	if !ok {
		t.Fatal("no vector reaches a pool that Traefik balances over several servers")
	}
	restarting := r.Backends[0]
	stub := w.r.setup.Stubs[fmt.Sprintf("%s:%d", restarting.Service, restarting.Port)]
	stub.Stop()
	for range 4 * len(r.Backends) {
		a := proxytest.Do(t, w.r.client, v.Method, w.r.scheme, w.rt.host, w.port(v.Path), v.Path)
		unit, port := backendOf(t, a)
		if a.Status != http.StatusOK || (unit == restarting.Service && port == restarting.Port) {
			t.Fatalf("pool %s with %s:%d stopped: %s %s answered %d from %s:%d", r.Pool, restarting.Service, restarting.Port, v.Method, v.Path, a.Status, unit, port)
		}
	}
	stub.Restart(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		unit, port := backendOf(t, proxytest.Do(t, w.r.client, v.Method, w.r.scheme, w.rt.host, w.port(v.Path), v.Path))
		if unit == restarting.Service && port == restarting.Port {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool %s: %s:%d, back for 15 s, gets no requests", r.Pool, restarting.Service, restarting.Port)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// balancedPool finds a vector whose route Traefik balances over several
// servers.
func (w *traefikWorkers) balancedPool(vectors []proxytest.Vector) (proxytest.Vector, plan.Route, bool) {
	for _, v := range vectors {
		r, ok := w.rt.match(v.Path, strings.SplitN(v.Path, "?", 2)[0])
		if ok && len(r.Backends) > 1 && (!r.Balance.Strict || r.Balance.By == plan.BalanceLeastConn) {
			return v, r, true
		}
	}
	return proxytest.Vector{}, plan.Route{}, false
}
