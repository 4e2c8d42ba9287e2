package proxytest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/validate"
)

const (
	nginxHomeserver    = "matrix.example.org"
	nginxElement       = "element.example.org"
	nginxDomain        = "example.org"
	nginxSynapseClient = "matrix-synapse:8008"
	nginxSynapseFed    = "matrix-synapse:8048"
	nginxStaticFiles   = "matrix-static-files:8080"
	nginxElementStub   = "matrix-client-element:8080"
)

// nginxCase is one config the real nginx serves in front of stubs.
type nginxCase struct {
	name   string
	config string
	tls    bool
	// admin says what /_synapse/admin does for a client on 127.0.0.1:
	// "allowed", "denied" (403) or "off" (no route: 404).
	admin string
	// baseDomainBlock: the route table serves the base domain itself, so
	// matrix.conf has its server block and no snippet is written.
	baseDomainBlock bool
}

var nginxCases = []nginxCase{
	{
		name: "tls",
		config: `domain: example.org
reverse_proxy:
  type: nginx
  admin_api: {enabled: true, allow: ["127.0.0.1/32"]}
synapse: {max_upload_size_mb: 2}
`,
		tls: true, admin: "allowed",
	},
	{
		name: "terminated",
		// The test client is not the terminator here, so what it claims in
		// X-Forwarded-For must be ignored.
		config: `domain: example.org
reverse_proxy:
  type: nginx
  tls: {mode: terminated, trusted_proxies: ["192.0.2.0/24"]}
  admin_api: {enabled: true, allow: ["10.0.0.0/8"]}
synapse: {max_upload_size_mb: 2}
`,
		admin: "denied",
	},
	{
		name: "federation-on-443",
		config: `domain: example.org
reverse_proxy: {type: nginx}
homeserver:
  max_upload_size_mb: 2
  federation: {port: 443}
well_known: {serve_base_domain: true}
`,
		tls: true, admin: "off", baseDomainBlock: true,
	},
}

// nginxExtraVectors are requests route-vectors.tsv lacks: targets nginx would
// change if it forwarded a normalised copy (encoded slashes, double
// slashes, query strings, encoded spaces and UTF-8).
var nginxExtraVectors = []proxytest.Vector{
	{Method: "GET", Path: "/_matrix/client/v3/rooms/%21a%3Aexample.org/state/m.room.name/%2Fweird"},
	{Method: "GET", Path: "/_matrix/client/v3/rooms/%21a%3Aexample.org//state//m.room.name/"},
	{Method: "GET", Path: "/_matrix/client/v3/sync?since=s72594_4483_1934&timeout=30000&filter=%7B%22room%22%3A%7B%7D%7D"},
	{Method: "PUT", Path: "/_matrix/client/v3/rooms/%21a%3Aexample.org/send/m.room.message/txn%20with%20space"},
	{Method: "GET", Path: "/_matrix/client/v3/profile/%40%C3%A9l%C3%A8ve%3Aexample.org"},
	{Method: "GET", Path: "/_matrix/media/v3/download/example.org/a+b%2Bc"},
	{Method: "GET", Path: "/_matrix/federation/v1/state_ids/%21a%3Aexample.org?event_id=%24abc%3Aexample.org"},
	{Method: "PUT", Path: "/_matrix/federation/v1/send/1234%2F5678"},
	{Method: "GET", Path: "/_matrix/key/v2/server//"},
}

// nginxSmuggled are targets that nginx's decoded, dot-segment-free view puts in
// one location while the backend would route the raw target elsewhere
// (the first is an admin path that nginx would see as /_matrix). None may
// reach a backend.
var nginxSmuggled = []string{
	"/_synapse/admin/..%2F..%2F_matrix/client/versions",
	"/_synapse/admin/v1/..%2F..%2F..%2F_matrix/client/versions",
	"/_matrix/..%2F_synapse/admin/v1/server_version",
	"/_matrix/client/../../_synapse/admin/v1/server_version",
	"/%5Fmatrix/client/versions",
	"//_synapse/admin/v1/server_version",
}

func TestNginxRouting(t *testing.T) {
	bin := nginxBinary(t)
	vectors := proxytest.Vectors(t)
	for _, tc := range nginxCases {
		t.Run(tc.name, func(t *testing.T) {
			setup := proxytest.Compile(t, tc.config)
			if tc.tls {
				setup.Certificates(t)
			}
			n := startNginx(t, bin, setup, tc)
			n.checkFiles(t)
			t.Run("vectors", func(t *testing.T) { n.replayVectors(t, vectors) })
			t.Run("raw-target", func(t *testing.T) { n.checkSmuggled(t) })
			t.Run("well-known", func(t *testing.T) { n.checkWellKnown(t, nginxHomeserver) })
			t.Run("base-domain", func(t *testing.T) { n.checkWellKnown(t, nginxDomain) })
			t.Run("element", func(t *testing.T) { n.checkElement(t) })
			t.Run("unknown-host", func(t *testing.T) { n.checkUnknownHost(t) })
			t.Run("body-size", func(t *testing.T) { n.checkBodySize(t) })
			t.Run("route-table", func(t *testing.T) { n.checkRouteTable(t) })
			t.Run("forwarded-for", func(t *testing.T) { n.checkSpoofedForwardedFor(t) })
			if tc.tls {
				t.Run("http2", func(t *testing.T) { n.checkHTTP2(t) })
			}
		})
	}
}

// TestNginxSlowUpload: an upload within the limit that takes over a minute
// to arrive, at a steady rate, reaches Synapse whole. nginx times out only
// a client that sends nothing for client_body_timeout (60 s by default).
func TestNginxSlowUpload(t *testing.T) {
	proxytest.SkipSlow(t)
	t.Parallel()
	bin := nginxBinary(t)
	tc := nginxCases[0]
	setup := proxytest.Compile(t, tc.config)
	setup.Certificates(t)
	n := startNginx(t, bin, setup, tc)
	proxytest.CheckSlowUpload(t, n.scheme, nginxHomeserver, n.clientPort)
}

// nginxBinary finds nginx; Debian installs it in /usr/sbin, which a
// non-root PATH may lack.
func nginxBinary(t testing.TB) string {
	t.Helper()
	if path, err := exec.LookPath("nginx"); err == nil {
		return path
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return consumers.Require(t, "nginx", "nginx")
}

type nginxRun struct {
	tc     nginxCase
	setup  *proxytest.Setup
	tree   render.Tree
	client *http.Client
	// Ports and schemes of the two roles, after rewiring to loopback.
	clientPort, fedPort int
	scheme              string
}

// startNginx renders the plan, has nginx check it, and runs nginx in the
// foreground until the test ends.
func startNginx(t *testing.T, bin string, setup *proxytest.Setup, tc nginxCase) *nginxRun {
	t.Helper()
	tree, err := render.Render(setup.Plan)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	n := &nginxRun{tc: tc, setup: setup, tree: tree, client: proxytest.Client(), scheme: "http"}
	for _, e := range setup.Plan.Entrypoints {
		switch e.Name {
		case plan.EntrypointClient:
			n.clientPort = e.HostPort
			if e.TLS {
				n.scheme = "https"
			}
		case plan.EntrypointFederation:
			n.fedPort = e.HostPort
		}
	}
	dir := t.TempDir()
	conf := writeNginxTree(t, dir, tree, n.websiteBlock(dir))
	nginxCheck(t, bin, dir, conf)
	runNginx(t, bin, dir, conf)
	for _, port := range setup.Ports {
		proxytest.WaitListening(t, port, 10*time.Second)
	}
	return n
}

// websiteBlock stands in for the operator's own site on the base domain,
// which includes the snippet. Its regex location is the kind of rule
// ("no dotfiles") the snippet's "^~" must win over.
func (n *nginxRun) websiteBlock(dir string) string {
	if _, ok := n.tree["proxy/nginx/base-domain-well-known.conf"]; !ok {
		return ""
	}
	listen := fmt.Sprintf("127.0.0.1:%d", n.clientPort)
	tlsLines := ""
	if n.scheme == "https" {
		listen += " ssl"
		// Any certificate will do: the test client does not verify it.
		certDir := filepath.Join(n.setup.Plan.Proxy.CertificateDir, nginxHomeserver)
		tlsLines = fmt.Sprintf("        ssl_certificate %s/fullchain.pem;\n        ssl_certificate_key %s/privkey.pem;\n", certDir, certDir)
	}
	return fmt.Sprintf(`    server {
        listen %s;
        server_name %s;
%s        location ~ /\. {
            return 403;
        }
        location / {
            return 200 "website\n";
        }
        include %s/proxy/nginx/base-domain-well-known.conf;
    }
`, listen, nginxDomain, tlsLines, dir)
}

// writeNginxTree writes the bundle's nginx files under dir/proxy/nginx and
// a main nginx.conf that includes them and keeps every file nginx writes
// inside dir. It returns the main file's path.
func writeNginxTree(t testing.TB, dir string, tree render.Tree, extraHTTP string) string {
	t.Helper()
	var includes []string
	for _, p := range tree.Paths() {
		if !strings.HasPrefix(p, "proxy/nginx/") {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, tree[p].Data, 0o644); err != nil {
			t.Fatal(err)
		}
		if p == "proxy/nginx/matrix.conf" {
			includes = append(includes, "    include "+dst+";\n")
		}
	}
	if len(includes) == 0 {
		t.Fatal("the bundle has no proxy/nginx/matrix.conf")
	}
	// Do what the header asks of the operator.
	const bucket = "server_names_hash_bucket_size 128;"
	if bytes.Contains(tree["proxy/nginx/matrix.conf"].Data, []byte(bucket)) {
		extraHTTP = "    " + bucket + "\n" + extraHTTP
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would run as nobody, who cannot enter the test's private
		// temp directory to buffer request bodies.
		user = "user root root;\n"
	}
	conf := fmt.Sprintf(`%sdaemon off;
master_process on;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events {
    worker_connections 128;
}
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    default_type application/octet-stream;
%[3]s%[4]s}
`, user, dir, strings.Join(includes, ""), extraHTTP)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// nginxCheck runs nginx -t and requires success without a single warning.
func nginxCheck(t testing.TB, bin, dir, conf string) {
	t.Helper()
	out, err := exec.Command(bin, "-t", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("[warn]")) || bytes.Contains(out, []byte("[emerg]")) || bytes.Contains(out, []byte("[alert]")) {
		t.Fatalf("nginx -t: %v\n%s\nmatrix.conf:\n%s", err, out, nginxReadFile(t, filepath.Join(dir, "proxy/nginx/matrix.conf")))
	}
}

func nginxReadFile(t testing.TB, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Logf("%v", err)
	}
	return string(data)
}

// runNginx starts nginx in the foreground. At the end of the test it gets
// SIGTERM (its master stops the workers), then SIGKILL for its process
// group if it has not gone after a few seconds.
func runNginx(t *testing.T, bin, dir, conf string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // a worker left behind, if any
		if t.Failed() {
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), nginxReadFile(t, filepath.Join(dir, "error.log")))
		}
	})
}

func (n *nginxRun) checkFiles(t *testing.T) {
	for _, p := range []string{"proxy/nginx/matrix.conf", "proxy/nginx/base-domain-well-known.conf"} {
		e, ok := n.tree[p]
		want := p == "proxy/nginx/matrix.conf" || !n.tc.baseDomainBlock
		if ok != want {
			t.Errorf("%s written: %v, want %v", p, ok, want)
			continue
		}
		if !ok {
			continue
		}
		if !e.BundleOnly || e.Mode != 0o644 {
			t.Errorf("%s: mode %v, bundle only %v; want 0644 and bundle only", p, e.Mode, e.BundleOnly)
		}
		if !bytes.HasPrefix(e.Data, []byte("# generated by matrixgen; do not edit\n")) {
			t.Errorf("%s does not start with the generated-file header", p)
		}
	}
}

// total is the number of requests every stub has seen.
func (n *nginxRun) total() int64 {
	var sum int64
	for _, s := range n.setup.Stubs {
		sum += s.Requests.Load()
	}
	return sum
}

// nginxExpect is what a request for the homeserver should meet: a stub's name,
// or a status nginx answers itself (then no stub may see the request).
type nginxExpect struct {
	backend string
	status  int
}

func (n *nginxRun) expected(path string, port int) nginxExpect {
	shared := n.clientPort == n.fedPort
	fed := proxytest.IsFederation(path)
	if port == n.fedPort && !shared {
		if fed {
			return nginxExpect{backend: nginxSynapseFed}
		}
		return nginxExpect{status: http.StatusNotFound}
	}
	if fed && shared {
		return nginxExpect{backend: proxytest.ExpectedBackend(proxytest.Vector{Path: path}, true)}
	}
	if strings.HasPrefix(path, "/_synapse/admin") {
		switch n.tc.admin {
		case "denied":
			return nginxExpect{status: http.StatusForbidden}
		case "off":
			return nginxExpect{status: http.StatusNotFound}
		}
	}
	if strings.HasPrefix(path, "/_matrix") || strings.HasPrefix(path, "/_synapse/") || path == "/health" {
		return nginxExpect{backend: proxytest.ExpectedBackend(proxytest.Vector{Path: path}, false)}
	}
	return nginxExpect{status: http.StatusNotFound}
}

// send makes one request and checks it against want: the stub saw the
// target byte for byte, the hostname, and the forwarded client and scheme.
func (n *nginxRun) send(t *testing.T, method, host string, port int, path string, want nginxExpect) proxytest.Answer {
	t.Helper()
	before := n.total()
	a := proxytest.Do(t, n.client, method, n.scheme, host, port, path)
	if want.backend == "" {
		if a.Status != want.status || a.Seen != nil || n.total() != before {
			t.Errorf("%s %s:%d%s: status %d, backend %v; want %d from nginx and no backend", method, host, port, path, a.Status, a.Seen, want.status)
		}
		return a
	}
	s := a.Seen
	switch {
	case s == nil:
		t.Errorf("%s %s:%d%s: status %d from nginx, want backend %s", method, host, port, path, a.Status, want.backend)
	case s.Backend != want.backend:
		t.Errorf("%s %s:%d%s: reached %s, want %s", method, host, port, path, s.Backend, want.backend)
	case s.URI != path:
		t.Errorf("%s %s:%d%s: backend saw target %q", method, host, port, path, s.URI)
	case s.Method != method || s.Host != host:
		t.Errorf("%s %s:%d%s: backend saw %s with Host %q", method, host, port, path, s.Method, s.Host)
	case s.XForwardedFor != "127.0.0.1" || s.XForwardedProto != n.scheme:
		t.Errorf("%s %s:%d%s: X-Forwarded-For %q, X-Forwarded-Proto %q; want 127.0.0.1, %s", method, host, port, path, s.XForwardedFor, s.XForwardedProto, n.scheme)
	}
	return a
}

func (n *nginxRun) replayVectors(t *testing.T, vectors []proxytest.Vector) {
	all := append(append([]proxytest.Vector{}, vectors...), nginxExtraVectors...)
	ports := []int{n.clientPort}
	if n.fedPort != n.clientPort {
		ports = append(ports, n.fedPort)
	}
	sent := 0
	for _, v := range all {
		for _, port := range ports {
			n.send(t, v.Method, nginxHomeserver, port, v.Path, n.expected(v.Path, port))
			sent++
		}
	}
	t.Logf("%d vectors (%d from route-vectors.tsv, %d extra) sent to %d port(s): %d requests", len(all), len(vectors), len(nginxExtraVectors), len(ports), sent)
}

func (n *nginxRun) checkSmuggled(t *testing.T) {
	ports := []int{n.clientPort, n.fedPort}
	for _, path := range nginxSmuggled {
		for _, port := range ports {
			before := n.total()
			a := proxytest.Do(t, n.client, "GET", n.scheme, nginxHomeserver, port, path)
			if a.Seen != nil || n.total() != before || a.Status < 400 {
				t.Errorf("GET %s on port %d: status %d, reached %v; want refused before any backend", path, port, a.Status, a.Seen)
			}
		}
	}
}

// checkWellKnown asks for the discovery files on host. Content-Type and
// the CORS headers must be the proxy's: the stub sets a Content-Type of
// its own and no CORS header at all.
func (n *nginxRun) checkWellKnown(t *testing.T, host string) {
	for _, name := range []string{"server", "client"} {
		a := n.send(t, "GET", host, n.clientPort, "/.well-known/matrix/"+name, nginxExpect{backend: nginxStaticFiles})
		if got := a.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s well-known %s: Access-Control-Allow-Origin %q, want *", host, name, got)
		}
		if got := a.Header.Values("Content-Type"); !slices.Equal(got, []string{"application/json"}) {
			t.Errorf("%s well-known %s: Content-Type %q, want exactly application/json", host, name, got)
		}
		if got := a.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "GET") {
			t.Errorf("%s well-known %s: Access-Control-Allow-Methods %q", host, name, got)
		}
	}
	a := n.send(t, "OPTIONS", host, n.clientPort, "/.well-known/matrix/client", nginxExpect{status: http.StatusNoContent})
	if got := a.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("%s well-known preflight: Access-Control-Allow-Origin %q, want *", host, got)
	}
	if host != nginxDomain || n.tc.baseDomainBlock {
		return
	}
	// The snippet sits in the operator's site, which keeps its other paths.
	a = proxytest.Do(t, n.client, "GET", n.scheme, host, n.clientPort, "/")
	if a.Status != 200 || string(a.Body) != "website\n" {
		t.Errorf("%s /: %d %q, want the website", host, a.Status, a.Body)
	}
	a = proxytest.Do(t, n.client, "GET", n.scheme, host, n.clientPort, "/.well-known/matrixfoo")
	if a.Seen != nil {
		t.Errorf("%s /.well-known/matrixfoo reached %s, want the website", host, a.Seen.Backend)
	}
}

func (n *nginxRun) checkElement(t *testing.T) {
	for _, path := range []string{"/", "/config.json", "/#/room/%21a%3Aexample.org", "/_matrix/client/versions"} {
		n.send(t, "GET", nginxElement, n.clientPort, path, nginxExpect{backend: nginxElementStub})
	}
}

func (n *nginxRun) checkUnknownHost(t *testing.T) {
	for _, port := range []int{n.clientPort, n.fedPort} {
		for _, path := range []string{"/", "/_matrix/client/versions", "/_matrix/federation/v1/version", "/.well-known/matrix/server"} {
			n.send(t, "GET", "unknown.example.net", port, path, nginxExpect{status: http.StatusNotFound})
		}
	}
}

// checkBodySize posts more and less than max_upload_size_mb, declared and
// chunked. The cases set it to 2 MiB: nginx's own default is 1 MiB, so a
// limit equal to that would pass without client_max_body_size.
func (n *nginxRun) checkBodySize(t *testing.T) {
	n.checkBodySizeWith(t, n.client)
}

// checkBodySizeWith sends checkBodySize's uploads with client c.
func (n *nginxRun) checkBodySizeWith(t *testing.T, c *http.Client) {
	url := fmt.Sprintf("%s://%s:%d/_matrix/media/v3/upload", n.scheme, nginxHomeserver, n.clientPort)
	for _, tc := range []struct {
		size    int
		chunked bool
		status  int
	}{
		{3 << 20, false, http.StatusRequestEntityTooLarge},
		{3 << 20, true, http.StatusRequestEntityTooLarge},
		{3 << 19, false, http.StatusOK},
		{2 << 20, false, http.StatusOK},
		{2 << 20, true, http.StatusOK},
	} {
		before := n.setup.Stubs[nginxSynapseClient].Requests.Load()
		var body io.Reader = bytes.NewReader(make([]byte, tc.size))
		if tc.chunked {
			body = io.MultiReader(body) // hides the length: Go sends it in chunks
		}
		req, err := http.NewRequest("POST", url, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = nginxHomeserver
		req.Header.Set("Expect", "100-continue")
		what := fmt.Sprintf("POST %d bytes (chunked %v)", tc.size, tc.chunked)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		a := proxytest.ReadAnswer(resp)
		reached := n.setup.Stubs[nginxSynapseClient].Requests.Load() - before
		if a.Status != tc.status || (reached == 1) != (tc.status == http.StatusOK) {
			t.Errorf("%s over %s: status %d, Synapse saw %d request(s); want %d", what, resp.Proto, a.Status, reached, tc.status)
		}
		if tc.status == http.StatusRequestEntityTooLarge {
			proxytest.CheckTooLarge(t, what+" over "+resp.Proto, a)
		}
	}
}

// checkRouteTable holds nginx to the route table that `matrixgen routes`
// prints: a request for each route's own prefix, on its host and port,
// reaches that route's backend.
func (n *nginxRun) checkRouteTable(t *testing.T) {
	ports := map[string]int{}
	for _, e := range n.setup.Plan.Entrypoints {
		ports[e.Name] = e.HostPort
	}
	for _, r := range n.setup.Plan.Routes {
		want := nginxExpect{backend: fmt.Sprintf("%s:%d", r.Service, r.Port)}
		if len(r.Settings.AllowIPs) > 0 && !slices.Contains(r.Settings.AllowIPs, "127.0.0.1/32") {
			want = nginxExpect{status: http.StatusForbidden}
		}
		path := r.PathPrefix
		n.send(t, "GET", r.Host, ports[r.Entrypoint], path, want)
		if path != "/" {
			n.send(t, "GET", r.Host, ports[r.Entrypoint], path+"/x%2Fy", want)
		}
	}
}

// doWithHeader sends a request with one extra request header.
func (n *nginxRun) doWithHeader(t *testing.T, path, name, value string) (int, *proxytest.Seen) {
	t.Helper()
	a, err := proxytest.Send(n.client, proxytest.Request{Method: "GET", Scheme: n.scheme, Host: nginxHomeserver, Port: n.clientPort,
		Target: path, Header: http.Header{name: {value}}})
	if err != nil {
		t.Fatal(err)
	}
	return a.Status, a.Seen
}

// checkSpoofedForwardedFor: Synapse believes X-Forwarded-For, so a
// client's own must be replaced, and must not open the admin allow list.
func (n *nginxRun) checkSpoofedForwardedFor(t *testing.T) {
	_, seen := n.doWithHeader(t, "/_matrix/client/versions", "X-Forwarded-For", "10.1.2.3")
	if seen == nil || seen.XForwardedFor != "127.0.0.1" {
		t.Errorf("client-sent X-Forwarded-For: backend saw %+v, want 127.0.0.1 only", seen)
	}
	if n.tc.admin == "denied" {
		if status, seen := n.doWithHeader(t, "/_synapse/admin/v1/server_version", "X-Forwarded-For", "10.1.2.3"); status != http.StatusForbidden || seen != nil {
			t.Errorf("admin API with a forged X-Forwarded-For: %d, reached %v; want 403", status, seen)
		}
	}
}

// TestNginxTrustedProxies: with the terminator's address trusted, nginx
// takes the client address from its X-Forwarded-For, for Synapse and for
// the admin allow list alike.
func TestNginxTrustedProxies(t *testing.T) {
	bin := nginxBinary(t)
	tc := nginxCase{name: "trusted", admin: "denied", config: `domain: example.org
reverse_proxy:
  type: nginx
  tls: {mode: terminated}
  admin_api: {enabled: true, allow: ["10.0.0.0/8"]}
`}
	setup := proxytest.Compile(t, tc.config)
	setup.Plan.Proxy.TrustedProxies = []string{"127.0.0.1/32"}
	n := startNginx(t, bin, setup, tc)
	for _, c := range []struct {
		forwarded string
		reach     bool
	}{{"10.1.2.3", true}, {"192.0.2.1", false}, {"192.0.2.1, 10.1.2.3", true}, {"10.1.2.3, 192.0.2.1", false}} {
		status, seen := n.doWithHeader(t, "/_synapse/admin/v1/server_version", "X-Forwarded-For", c.forwarded)
		last := strings.TrimSpace(c.forwarded[strings.LastIndexByte(c.forwarded, ',')+1:])
		switch {
		case c.reach && (seen == nil || seen.XForwardedFor != last):
			t.Errorf("X-Forwarded-For %q: %d, backend saw %+v; want it to reach Synapse as %s", c.forwarded, status, seen, last)
		case !c.reach && (status != http.StatusForbidden || seen != nil):
			t.Errorf("X-Forwarded-For %q: %d, reached %v; want 403", c.forwarded, status, seen)
		}
	}
}

// checkHTTP2 asks for HTTP/2 by ALPN, which "listen … ssl http2" offers.
func (n *nginxRun) checkHTTP2(t *testing.T) {
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
	resp, err := c.Get(fmt.Sprintf("https://%s:%d/_matrix/client/versions", nginxHomeserver, n.clientPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Errorf("%s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
	// nginx refuses a large body on an HTTP/2 stream in code of its own.
	n.checkBodySizeWith(t, c)
}

// TestNginxExamples renders every example with reverse_proxy.type nginx,
// untouched otherwise (real ports, every address), and has nginx -t check
// matrix.conf and, inside a server block, the base-domain snippet.
func TestNginxExamples(t *testing.T) {
	bin := nginxBinary(t)
	examples, err := filepath.Glob(filepath.Join(proxytest.RepoRoot(t), "examples", "*.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, path := range examples {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			t.Parallel()
			p := compileAsNginx(t, path)
			(&proxytest.Setup{Plan: p}).Certificates(t)
			tree, err := render.Render(p)
			if errors.Is(err, render.ErrRouteUnsupported) {
				t.Skipf("render: %v", err)
			}
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			dir := t.TempDir()
			extra := ""
			if _, ok := tree["proxy/nginx/base-domain-well-known.conf"]; ok {
				extra = fmt.Sprintf("    server {\n        listen 127.0.0.1:8080;\n        server_name %s;\n        include %s/proxy/nginx/base-domain-well-known.conf;\n    }\n", p.Host.Domain, dir)
			}
			nginxCheck(t, bin, dir, writeNginxTree(t, dir, tree, extra))
		})
	}
}

// TestNginxLongHostname: nginx's default hash bucket holds names of up to
// 46 characters; past that the header says what to add, and with it
// nginx -t passes.
func TestNginxLongHostname(t *testing.T) {
	bin := nginxBinary(t)
	for _, n := range []int{46, 47, 70} {
		host := strings.Repeat("m", n-len(".example.org")) + ".example.org"
		setup := proxytest.Compile(t, fmt.Sprintf("domain: example.org\nhostnames: {homeserver: %s}\nreverse_proxy: {type: nginx}\n", host))
		setup.Certificates(t)
		tree, err := render.Render(setup.Plan)
		if err != nil {
			t.Fatal(err)
		}
		advice := bytes.Contains(tree["proxy/nginx/matrix.conf"].Data, []byte("server_names_hash_bucket_size 128;"))
		if advice != (n > 46) {
			t.Errorf("%d characters: advice in the header %v", n, advice)
		}
		dir := t.TempDir()
		nginxCheck(t, bin, dir, writeNginxTree(t, dir, tree, ""))
	}
}

// compileAsNginx compiles an example with reverse_proxy.type set to nginx.
func compileAsNginx(t *testing.T, path string) *plan.Plan {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	rp, _ := doc["reverse_proxy"].(map[string]any)
	if rp == nil {
		rp = map[string]any{}
	}
	rp["type"] = "nginx"
	doc["reverse_proxy"] = rp
	data, err = yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, problems := validate.Load(filepath.Base(path), data)
	if len(problems) > 0 {
		var b strings.Builder
		diag.Print(&b, problems, "")
		t.Fatalf("%s with reverse_proxy.type nginx is invalid:\n%s", path, b.String())
	}
	p, problems := compile.Compile(cfg)
	if len(problems) > 0 {
		t.Fatalf("%s does not compile: %v", path, problems)
	}
	return p
}

// TestNginxRefusesPriorityAgainstPrefix: nginx can only serve a route
// table where the longer prefix has the higher priority.
func TestNginxRefusesPriorityAgainstPrefix(t *testing.T) {
	setup := proxytest.Compile(t, "domain: example.org\nreverse_proxy: {type: nginx}\nhomeserver: {federation: {port: 443}}\n")
	for i := range setup.Plan.Routes {
		if setup.Plan.Routes[i].PathPrefix == "/_matrix" {
			setup.Plan.Routes[i].Priority = 1000
		}
	}
	slices.SortStableFunc(setup.Plan.Routes, func(a, b plan.Route) int { return b.Priority - a.Priority })
	if _, err := render.Render(setup.Plan); err == nil || !strings.Contains(err.Error(), "longer prefix") {
		t.Fatalf("render accepted /_matrix above /_matrix/federation on one port: %v", err)
	}
}

// TestNginxRefusesHostileValues: values that reach nginx.conf from the
// config but that the schema might one day let through are refused, not
// written.
func TestNginxRefusesHostileValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(p *plan.Plan)
	}{
		{"host", func(p *plan.Plan) { p.Routes[0].Host = "x.org; return 200 owned" }},
		{"allow", func(p *plan.Plan) { p.Routes[0].Settings.AllowIPs = []string{"10.0.0.0/8;allow all"} }},
		{"header value", func(p *plan.Plan) {
			p.Routes[0].Settings.Headers = []plan.EnvVar{{Name: "X-A", Value: "$request_uri"}}
		}},
		{"header name", func(p *plan.Plan) {
			p.Routes[0].Settings.Headers = []plan.EnvVar{{Name: "X A", Value: "b"}}
		}},
		{"upstream", func(p *plan.Plan) { p.Routes[0].Upstream = "127.0.0.1:8008/_matrix" }},
		{"certificate dir", func(p *plan.Plan) { p.Proxy.CertificateDir = "/etc/$host" }},
		{"comment", func(p *plan.Plan) { p.Routes[0].Service = "x\nserver {" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setup := proxytest.Compile(t, "domain: example.org\nreverse_proxy: {type: nginx}\n")
			tc.edit(setup.Plan)
			tree, err := render.Render(setup.Plan)
			if err == nil {
				t.Fatalf("rendered:\n%s", tree["proxy/nginx/matrix.conf"].Data)
			}
			if !strings.HasPrefix(err.Error(), "nginx: escape: ") {
				t.Fatalf("refused, but not by the escaper: %v", err)
			}
		})
	}
}
