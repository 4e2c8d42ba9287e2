package proxytest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// These tests run the real Apache httpd 2.4 in front of stub backends, on
// loopback ports, with matrix.conf included by a small top-level file that
// stands in for Debian's apache2.conf and ports.conf.

const (
	apacheHomeserver = "matrix.example.org"
	apacheElement    = "element.example.org"
	apacheBaseDomain = "example.org"
	apacheSynapse    = "matrix-synapse:8008"
	apacheFederation = "matrix-synapse:8048"
	apacheStatic     = "matrix-static-files:8080"
	apacheElementWeb = "matrix-client-element:8080"
	apacheModuleDir  = "/usr/lib/apache2/modules"
	apacheHint       = "apt-get install -y --no-install-recommends apache2 (create /usr/sbin/policy-rc.d exiting 101 first, so that the package does not start it)"
)

// apacheExtraVectors are requests whose target must reach Synapse byte for
// byte: encoded slashes, sigils and colons in IDs, raw sigils, encoded
// percent signs, and query strings.
var apacheExtraVectors = []proxytest.Vector{
	{Method: "GET", Path: "/_matrix/client/v3/rooms/%21room%3Aexample.org/state/m.room.member/%40alice%3Aexample.org"},
	{Method: "PUT", Path: "/_matrix/client/v3/rooms/%21r%3Aexample.org/send/m.room.message/txn%2Fwith%2Fslashes"},
	{Method: "GET", Path: "/_matrix/client/v3/directory/room/%23alias%3Aexample.org"},
	{Method: "GET", Path: "/_matrix/client/v1/media/download/example.org/abc%2F..%2Fdef"},
	{Method: "GET", Path: "/_matrix/client/v3/user/%40a%3Aexample.org/account_data/m.x?foo=a%2Fb&bar=%3A"},
	{Method: "GET", Path: "/_matrix/client/v3/rooms/!raw:example.org/messages?dir=b&from=t1%7E2"},
	{Method: "GET", Path: "/_matrix/client/v3/profile/%40a%25b%3Aexample.org"},
	{Method: "GET", Path: "/_matrix/client/v3/search?next_batch=a%20b+c"},
	{Method: "GET", Path: "/_matrix/federation/v1/event/%24ev%2Fent%3Aexample.org"},
	{Method: "GET", Path: "/_matrix/federation/v1/query/profile?user_id=%40a%3Aexample.org&field=displayname"},
	{Method: "PUT", Path: "/_matrix/federation/v1/send/1%2F2%213"},
}

// apacheProbeHeader is a response header added to the well-known route
// with a value that means something to httpd's reader and to mod_headers.
var apacheProbeHeader = plan.EnvVar{Name: "X-Matrixgen-Probe", Value: `say "hi" \ 100% %{HOME}e #x <y> 'z' \n`}

func TestApacheRoutingTLS(t *testing.T) {
	t.Parallel()
	s := proxytest.Compile(t, `domain: example.org
reverse_proxy:
  type: apache
  admin_api: {enabled: true, allow: ["127.0.0.1/32"]}
synapse:
  max_upload_size_mb: 1
`)
	s.Certificates(t)
	addApacheProbeHeader(t, s)
	a := startApache(t, s)

	client, fed := a.port(plan.EntrypointClient), a.port(plan.EntrypointFederation)
	if client == fed {
		t.Fatal("federation should have its own port here")
	}
	t.Run("vectors", func(t *testing.T) { a.replayVectors(t, proxytest.Vectors(t)) })
	t.Run("encoded", func(t *testing.T) { a.replayVectors(t, apacheExtraVectors) })
	t.Run("client API not on federation port", func(t *testing.T) {
		for _, path := range []string{"/_matrix/client/versions", "/_synapse/admin/v1/server_version", "/.well-known/matrix/server", "/"} {
			a.expectNoBackend(t, "GET", apacheHomeserver, fed, path, 404)
		}
	})
	t.Run("forwarded headers", func(t *testing.T) {
		ans := a.send(t, "GET", apacheHomeserver, client, "/_matrix/client/versions",
			map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"}, nil)
		a.expectBackend(t, ans, apacheSynapse, "/_matrix/client/versions", "127.0.0.1", "https")
	})
	t.Run("well-known", func(t *testing.T) { a.checkWellKnown(t, apacheHomeserver, client) })
	t.Run("element", func(t *testing.T) { a.checkElement(t, client) })
	t.Run("unknown host", func(t *testing.T) { a.checkUnknownHost(t) })
	t.Run("unrouted paths", func(t *testing.T) { a.checkUnrouted(t, client) })
	t.Run("body size", func(t *testing.T) { a.checkBodySize(t, 1<<20) })
	t.Run("route table", func(t *testing.T) { a.checkRouteTable(t) })
	t.Run("base domain", func(t *testing.T) { a.checkBaseDomain(t, client) })
}

// TestApacheSlowUpload: an upload within the limit that takes over a
// minute to arrive, at a steady rate, reaches Synapse whole. httpd gives
// up on a client that sends nothing for Timeout, or, with mod_reqtimeout
// (loaded here, as Debian enables it), sends less than 500 bytes a second.
func TestApacheSlowUpload(t *testing.T) {
	proxytest.SkipSlow(t)
	t.Parallel()
	s := proxytest.Compile(t, `domain: example.org
reverse_proxy: {type: apache}
synapse: {max_upload_size_mb: 1}
`)
	s.Certificates(t)
	a := startApache(t, s)
	proxytest.CheckSlowUpload(t, a.scheme(), apacheHomeserver, a.port(plan.EntrypointClient))
}

func TestApacheRoutingTerminated(t *testing.T) {
	t.Parallel()
	s := proxytest.Compile(t, `domain: example.org
reverse_proxy: {type: apache, tls: {mode: terminated}}
synapse:
  max_upload_size_mb: 1
`)
	a := startApache(t, s)
	port := a.port(plan.EntrypointClient)
	if a.port(plan.EntrypointFederation) != port {
		t.Fatal("with TLS terminated in front, everything should share one port")
	}
	var vectors, admin []proxytest.Vector
	for _, v := range proxytest.Vectors(t) {
		if strings.HasPrefix(v.Path, "/_synapse/admin") {
			admin = append(admin, v)
		} else {
			vectors = append(vectors, v)
		}
	}
	t.Run("vectors", func(t *testing.T) { a.replayVectors(t, vectors) })
	t.Run("encoded", func(t *testing.T) { a.replayVectors(t, apacheExtraVectors) })
	t.Run("admin API off", func(t *testing.T) {
		for _, v := range admin {
			a.expectNoBackend(t, v.Method, apacheHomeserver, port, v.Path, 404)
		}
	})
	t.Run("forwarded headers", func(t *testing.T) {
		ans := a.send(t, "GET", apacheHomeserver, port, "/_matrix/client/versions", nil, nil)
		a.expectBackend(t, ans, apacheSynapse, "/_matrix/client/versions", "127.0.0.1", "http")
		// 127.0.0.1 is a trusted terminator by default: its word is taken.
		ans = a.send(t, "GET", apacheHomeserver, port, "/_matrix/client/versions",
			map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}, nil)
		a.expectBackend(t, ans, apacheSynapse, "/_matrix/client/versions", "203.0.113.9", "https")
	})
	t.Run("well-known", func(t *testing.T) { a.checkWellKnown(t, apacheHomeserver, port) })
	t.Run("element", func(t *testing.T) { a.checkElement(t, port) })
	t.Run("unknown host", func(t *testing.T) { a.checkUnknownHost(t) })
	t.Run("unrouted paths", func(t *testing.T) { a.checkUnrouted(t, port) })
	t.Run("body size", func(t *testing.T) { a.checkBodySize(t, 1<<20) })
	t.Run("route table", func(t *testing.T) { a.checkRouteTable(t) })
	t.Run("base domain", func(t *testing.T) { a.checkBaseDomain(t, port) })
}

// homeserver.federation.port 443: one section per hostname serves both roles,
// and the longer federation prefixes win over /_matrix.
func TestApacheFederationOnClientPort(t *testing.T) {
	t.Parallel()
	s := proxytest.Compile(t, `domain: example.org
reverse_proxy:
  type: apache
  admin_api: {enabled: true, allow: ["127.0.0.1/32", "::1/128"]}
homeserver:
  max_upload_size_mb: 1
  federation: {port: 443}
`)
	s.Certificates(t)
	// A larger limit on the federation routes than on /_matrix, whose
	// <Location> also matches their paths: the longer prefix must win.
	for i, r := range s.Plan.Routes {
		if r.Entrypoint == plan.EntrypointFederation {
			s.Plan.Routes[i].Settings.MaxBodyBytes = 4 << 20
		}
	}
	a := startApache(t, s)
	if a.port(plan.EntrypointClient) != a.port(plan.EntrypointFederation) {
		t.Fatal("federation.port 443 should share the client port")
	}
	t.Run("body size per route", func(t *testing.T) {
		port := a.port(plan.EntrypointClient)
		body := bytes.Repeat([]byte("x"), 2<<20)
		ans := a.send(t, "PUT", apacheHomeserver, port, "/_matrix/federation/v1/send/1", nil, body)
		a.expectBackend(t, ans, apacheFederation, "/_matrix/federation/v1/send/1", "127.0.0.1", "https")
		before := a.total()
		ans = a.send(t, "POST", apacheHomeserver, port, "/_matrix/media/v3/upload", nil, body)
		if ans.Status != 413 || a.total() != before {
			t.Errorf("2 MiB upload under /_matrix: %d, want 413 and no backend", ans.Status)
		}
	})
	t.Run("vectors", func(t *testing.T) { a.replayVectors(t, proxytest.Vectors(t)) })
	t.Run("encoded", func(t *testing.T) { a.replayVectors(t, apacheExtraVectors) })
	t.Run("route table", func(t *testing.T) { a.checkRouteTable(t) })
	t.Run("unknown host", func(t *testing.T) { a.checkUnknownHost(t) })
}

// An admin API allow list that does not hold the client: 403, and Synapse
// sees nothing, whichever spelling of the path the client tries.
func TestApacheAdminAllowList(t *testing.T) {
	t.Parallel()
	s := proxytest.Compile(t, `domain: example.org
reverse_proxy:
  type: apache
  admin_api: {enabled: true, allow: ["10.0.0.0/8"]}
`)
	s.Certificates(t)
	a := startApache(t, s)
	port := a.port(plan.EntrypointClient)
	n := 0
	for _, v := range proxytest.Vectors(t) {
		if strings.HasPrefix(v.Path, "/_synapse/admin/") {
			a.expectNoBackend(t, v.Method, apacheHomeserver, port, v.Path, 403)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no admin API vectors")
	}
	for _, path := range []string{
		"/_synapse/%61dmin/v1/server_version",
		"/_synapse//admin/v1/server_version",
		"//_synapse/admin/v1/server_version",
		"/_synapse/./admin/v1/server_version",
		"/_matrix/../_synapse/admin/v1/server_version",
		"/_synapse/client/../admin/v1/server_version",
		"/_matrix/client/%2e%2e/%2e%2e/_synapse/admin/v1/server_version",
		"/_synapse/admin/..%2F..%2F_matrix/client/versions",
		"/_synapse/ADMIN/v1/server_version",
	} {
		a.expectNoBackend(t, "GET", apacheHomeserver, port, path, 0)
	}
	ans := a.send(t, "GET", apacheHomeserver, port, "/_matrix/client/versions", nil, nil)
	a.expectBackend(t, ans, apacheSynapse, "/_matrix/client/versions", "127.0.0.1", "https")
	t.Logf("%d admin API vectors and 9 other spellings refused", n)
}

// Behind a terminator in reverse_proxy.tls.trusted_proxies, mod_remoteip
// takes the client from its X-Forwarded-For, and the allow list judges
// that client. With no trusted proxies, the header passes on as it came,
// with httpd's peer appended.
func TestApacheTrustedProxies(t *testing.T) {
	t.Parallel()
	s := proxytest.Compile(t, `domain: example.org
reverse_proxy:
  type: apache
  tls: {mode: terminated, trusted_proxies: ["127.0.0.1/32"]}
  admin_api: {enabled: true, allow: ["127.0.0.1/32"]}
`)
	a := startApache(t, s)
	if !strings.Contains(string(a.conf), "a2enmod proxy proxy_http headers alias remoteip") {
		t.Error("the module list in matrix.conf does not name remoteip")
	}
	port := a.port(plan.EntrypointClient)
	ans := a.send(t, "GET", apacheHomeserver, port, "/_matrix/client/versions",
		map[string]string{"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Forwarded-Proto": "https"}, nil)
	a.expectBackend(t, ans, apacheSynapse, "/_matrix/client/versions", "203.0.113.9", "https")
	ans = a.send(t, "GET", apacheHomeserver, port, "/_synapse/admin/v1/server_version", nil, nil)
	a.expectBackend(t, ans, apacheSynapse, "/_synapse/admin/v1/server_version", "127.0.0.1", "http")
	before := a.total()
	ans = a.send(t, "GET", apacheHomeserver, port, "/_synapse/admin/v1/server_version",
		map[string]string{"X-Forwarded-For": "203.0.113.9"}, nil)
	if ans.Status != 403 || ans.Seen != nil || a.total() != before {
		t.Errorf("admin API for a client outside the allow list: %d, seen %+v", ans.Status, ans.Seen)
	}

	t.Run("none trusted", func(t *testing.T) {
		t.Parallel()
		s := proxytest.Compile(t, `domain: example.org
reverse_proxy: {type: apache, tls: {mode: terminated, trusted_proxies: []}}
`)
		a := startApache(t, s)
		if bytes.Contains(a.conf, []byte("remoteip")) || bytes.Contains(a.conf, []byte("RemoteIP")) {
			t.Error("matrix.conf uses mod_remoteip without a trusted proxy")
		}
		ans := a.send(t, "GET", apacheHomeserver, a.port(plan.EntrypointClient), "/_matrix/client/versions",
			map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}, nil)
		a.expectBackend(t, ans, apacheSynapse, "/_matrix/client/versions", "203.0.113.9, 127.0.0.1", "https")
	})
}

// "Header set" replaces a header the backend sent; "Header always set"
// would send a second Access-Control-Allow-Origin next to it, and browsers
// refuse a response with two.
func TestApacheHeadersReplaceBackend(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Access-Control-Allow-Origin", "https://backend.example")
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(backend.Close)
	s := proxytest.Compile(t, "domain: example.org\nreverse_proxy: {type: apache, tls: {mode: terminated}}\n")
	for i, r := range s.Plan.Routes {
		if r.PathPrefix == "/.well-known/matrix" {
			s.Plan.Routes[i].Upstream = strings.TrimPrefix(backend.URL, "http://")
		}
	}
	a := startApache(t, s)
	port := a.port(plan.EntrypointClient)
	for _, host := range []string{apacheHomeserver, apacheBaseDomain} {
		ans := a.send(t, "GET", host, port, "/.well-known/matrix/server", nil, nil)
		if ans.Status != 200 || string(ans.Body) != "{}" {
			t.Errorf("%s: %d %q, want the backend's document", host, ans.Status, ans.Body)
		}
		a.checkWellKnownHeaders(t, host, ans)
	}
}

// Every example, as an Apache deployment with and without TLS, passes
// "apache2 -t" with nothing else printed.
func TestApacheExamples(t *testing.T) {
	t.Parallel()
	bin := apacheBinary(t)
	files, err := filepath.Glob(filepath.Join(proxytest.RepoRoot(t), "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		for _, mode := range []string{"certificates", "terminated"} {
			t.Run(filepath.Base(file)+"/"+mode, func(t *testing.T) {
				t.Parallel()
				p := compileAsApache(t, file, mode)
				s := &proxytest.Setup{Plan: p}
				if mode == "certificates" {
					s.Certificates(t)
				}
				a := &apacheRun{bin: bin, setup: s, dir: t.TempDir()}
				a.write(t)
				a.configtest(t)
			})
		}
	}
}

func compileAsApache(t *testing.T, file, mode string) *plan.Plan {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^reverse_proxy:`).Match(data) {
		t.Skipf("%s chooses its own reverse proxy", file)
	}
	data = append(data, fmt.Sprintf("\nreverse_proxy: {type: apache, tls: {mode: %s}}\n", mode)...)
	cfg, problems := validate.Load(file, data)
	if len(problems) > 0 {
		var b strings.Builder
		diag.Print(&b, problems, "")
		t.Fatalf("%s as an Apache deployment is invalid:\n%s", file, b.String())
	}
	p, problems := compile.Compile(cfg)
	if len(problems) > 0 {
		t.Fatalf("%s as an Apache deployment does not compile: %v", file, problems)
	}
	return p
}

// A value the schema would refuse never reaches matrix.conf: the renderer
// fails instead of writing it.
func TestApacheRefusesHostileValues(t *testing.T) {
	t.Parallel()
	for name, mutate := range map[string]func(p *plan.Plan){
		"newline in header": func(p *plan.Plan) {
			p.Routes[0].Settings.Headers = []plan.EnvVar{{Name: "X-A", Value: "a\nProxyPass / http://evil/"}}
		},
		"variable in header": func(p *plan.Plan) {
			p.Routes[0].Settings.Headers = []plan.EnvVar{{Name: "X-A", Value: "${APACHE_RUN_USER}"}}
		},
		"expression header": func(p *plan.Plan) {
			p.Routes[0].Settings.Headers = []plan.EnvVar{{Name: "X-A", Value: "expr=%{REQUEST_URI}"}}
		},
		"header name": func(p *plan.Plan) { p.Routes[0].Settings.Headers = []plan.EnvVar{{Name: "X A", Value: "b"}} },
		"hostname":    func(p *plan.Plan) { p.Routes[0].Host = "matrix.example.org\n<VirtualHost *:80>" },
		"prefix":      func(p *plan.Plan) { p.Routes[0].PathPrefix = "/_matrix*" },
		"upstream":    func(p *plan.Plan) { p.Routes[0].Upstream = "127.0.0.1:8008/x?" },
		"allow list":  func(p *plan.Plan) { p.Routes[0].Settings.AllowIPs = []string{"all"} },
		"cert dir":    func(p *plan.Plan) { p.Proxy.CertificateDir = "/etc/${x}" },
		"domain":      func(p *plan.Plan) { p.Host.Domain = "example.org\nListen 80" },
		"shadowed route": func(p *plan.Plan) {
			for i := range p.Routes {
				if p.Routes[i].PathPrefix == "/_synapse/client" {
					p.Routes[i].PathPrefix = "/_matrix/client"
					p.Routes[i].Priority = 1
				}
			}
			sort.SliceStable(p.Routes, func(i, j int) bool { return p.Routes[i].Priority > p.Routes[j].Priority })
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := proxytest.Compile(t, "domain: example.org\nreverse_proxy: {type: apache}\n")
			mutate(s.Plan)
			if tree, err := render.Render(s.Plan); err == nil {
				t.Fatalf("rendered without complaint:\n%s", tree["proxy/apache/matrix.conf"].Data)
			}
		})
	}
}

// apacheBinary returns httpd, skipping the test when it is missing,
// except in CI where a silent skip would hide a regression.
func apacheBinary(t testing.TB) string {
	t.Helper()
	if path, err := exec.LookPath("apache2"); err == nil {
		return path
	}
	if _, err := os.Stat("/usr/sbin/apache2"); err == nil {
		return "/usr/sbin/apache2" // Debian's place, outside a non-root PATH
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("apache2 not found; CI must run this test: " + apacheHint)
	}
	t.Skip("apache2 not found; install it with: " + apacheHint)
	return ""
}

// apacheRun is one httpd with the bundle's configuration in front of the
// stubs of a Setup.
type apacheRun struct {
	bin     string
	setup   *proxytest.Setup
	dir     string
	conf    []byte // matrix.conf
	snippet []byte // base-domain-well-known.conf, when the bundle has one
	top     string // path of the top-level file
	tls     bool   // the entrypoints serve HTTPS
	client  *http.Client
	stderr  bytes.Buffer
}

func addApacheProbeHeader(t *testing.T, s *proxytest.Setup) {
	t.Helper()
	for i, r := range s.Plan.Routes {
		if r.Host == apacheHomeserver && r.PathPrefix == "/.well-known/matrix" {
			s.Plan.Routes[i].Settings.Headers = append(r.Settings.Headers, apacheProbeHeader)
			return
		}
	}
	t.Fatal("no well-known route on the homeserver's hostname")
}

func startApache(t *testing.T, s *proxytest.Setup) *apacheRun {
	t.Helper()
	a := &apacheRun{bin: apacheBinary(t), setup: s, dir: t.TempDir(), client: proxytest.Client()}
	for _, e := range s.Plan.Entrypoints {
		a.tls = a.tls || e.TLS
	}
	a.write(t)
	a.configtest(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, a.bin, "-X", "-f", a.top)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = &a.stderr, &a.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(a.dir, "error.log"))
			t.Logf("httpd output:\n%s\nerror.log:\n%s", a.stderr.String(), log)
		}
	})
	for _, port := range a.listenPorts() {
		a.waitPort(t, port, exited)
	}
	return a
}

// write puts the bundle's files and a top-level configuration in a.dir.
func (a *apacheRun) write(t *testing.T) {
	t.Helper()
	tree, err := render.Render(a.setup.Plan)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	for path, e := range tree {
		if strings.HasPrefix(path, "proxy/apache/") && !e.BundleOnly {
			t.Errorf("%s would be installed on the host; it belongs in the bundle only", path)
		}
	}
	conf, ok := tree["proxy/apache/matrix.conf"]
	if !ok {
		t.Fatal("the bundle has no proxy/apache/matrix.conf")
	}
	a.conf = conf.Data
	if snip, ok := tree["proxy/apache/base-domain-well-known.conf"]; ok {
		a.snippet = snip.Data
	}
	for name, data := range map[string][]byte{"matrix.conf": a.conf, "base-domain-well-known.conf": a.snippet} {
		if data == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(a.dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	docroot := filepath.Join(a.dir, "docroot")
	if err := os.Mkdir(docroot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(docroot, "index.html"), []byte("MAIN-SERVER-DOCROOT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.top = filepath.Join(a.dir, "httpd.conf")
	if err := os.WriteFile(a.top, []byte(a.topLevel(t)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// topLevel stands in for Debian's apache2.conf and ports.conf: the modules
// the header of matrix.conf tells the operator to enable (plus authz_core
// and authz_host, which Debian enables by default), one Listen per port,
// everything httpd writes inside the test's directory, and matrix.conf
// included before the base domain's own website, as an operator would.
func (a *apacheRun) topLevel(t *testing.T) string {
	t.Helper()
	q := func(s string) string {
		tok, err := escape.Apache(s)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot /etc/apache2\nServerName localhost\nDefaultRuntimeDir %s\nPidFile %s\nMutex %s default\nErrorLog %s\nLogLevel warn\nDocumentRoot %s\n",
		q(a.dir), q(filepath.Join(a.dir, "httpd.pid")), q("file:"+a.dir), q(filepath.Join(a.dir, "error.log")), q(filepath.Join(a.dir, "docroot")))
	fmt.Fprintf(&b, "<Directory %s>\n    Require all granted\n</Directory>\n", q(filepath.Join(a.dir, "docroot")))
	if os.Geteuid() == 0 {
		b.WriteString("User #65534\nGroup #65534\n") // httpd will not serve as root
	}
	// Debian enables reqtimeout by default; its minimum rates must not cut
	// off a slow upload (TestApacheSlowUpload).
	mods := []string{"mpm_event", "authz_core", "authz_host", "reqtimeout"}
	m := regexp.MustCompile(`(?m)^#\s+a2enmod ((?:[a-z_0-9]+ ?)+)$`).FindSubmatch(a.conf)
	if m == nil {
		t.Fatal("matrix.conf does not say which modules to enable (no a2enmod line)")
	}
	for _, mod := range strings.Fields(string(m[1])) {
		if mod == "ssl" {
			mods = append(mods, "socache_shmcb") // a2enmod ssl enables it too
		}
		mods = append(mods, mod)
	}
	for _, mod := range mods {
		fmt.Fprintf(&b, "LoadModule %s_module %s/mod_%s.so\n", mod, apacheModuleDir, mod)
	}
	b.WriteString("RequestReadTimeout header=20-40,minrate=500 body=10,minrate=500\n") // Debian's reqtimeout.conf
	if slices.Contains(mods, "ssl") {
		fmt.Fprintf(&b, "SSLSessionCache %s\n", q("shmcb:"+filepath.Join(a.dir, "ssl_scache")+"(512000)"))
	}
	for _, e := range a.entrypoints() {
		addr := fmt.Sprint(e.HostPort)
		if e.HostAddress != "" {
			addr = net.JoinHostPort(e.HostAddress, addr)
		}
		proto := ""
		if e.TLS {
			proto = " https"
		}
		fmt.Fprintf(&b, "Listen %s%s\n", addr, proto)
	}
	fmt.Fprintf(&b, "Include %s\n", q(filepath.Join(a.dir, "matrix.conf")))
	b.WriteString(a.websiteSection(t, q))
	return b.String()
}

// websiteSection is the operator's own website on the base domain: it
// proxies everything to an application of its own (the Element stub stands
// in for it), with nocanon, which httpd checks before translating the path,
// and includes the bundle's well-known snippet after that ProxyPass.
func (a *apacheRun) websiteSection(t *testing.T, q func(string) string) string {
	if a.snippet == nil {
		return ""
	}
	var client plan.Entrypoint
	for _, e := range a.setup.Plan.Entrypoints {
		if e.Name == plan.EntrypointClient {
			client = e
		}
	}
	addr, err := escape.ApacheVirtualHostAddress(client.HostAddress, client.HostPort)
	if err != nil {
		t.Fatal(err)
	}
	app := "127.0.0.1:9" // nothing listens there: unused outside the routing tests
	if stub := a.setup.Stubs[apacheElementWeb]; stub != nil {
		app = stub.Addr
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<VirtualHost %s>\n    ServerName %s\n", addr, q(a.setup.Plan.Host.Domain))
	if client.TLS {
		// Any certificate will do: the test client does not verify it.
		dir := filepath.Join(a.setup.Plan.Proxy.CertificateDir, a.setup.Plan.Routes[0].Host)
		fmt.Fprintf(&b, "    SSLEngine on\n    SSLCertificateFile %s\n    SSLCertificateKeyFile %s\n",
			q(filepath.Join(dir, "fullchain.pem")), q(filepath.Join(dir, "privkey.pem")))
	}
	fmt.Fprintf(&b, "    ProxyPass / %s nocanon\n    Include %s\n</VirtualHost>\n",
		q("http://"+app+"/"), q(filepath.Join(a.dir, "base-domain-well-known.conf")))
	return b.String()
}

// configtest runs "apache2 -t", which must print nothing but "Syntax OK".
func (a *apacheRun) configtest(t *testing.T) {
	t.Helper()
	out, err := exec.Command(a.bin, "-t", "-f", a.top).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "Syntax OK" {
		t.Fatalf("apache2 -t: %v\n%s\nmatrix.conf:\n%s", err, out, a.conf)
	}
}

func (a *apacheRun) entrypoints() []plan.Entrypoint {
	var out []plan.Entrypoint
	seen := map[int]bool{}
	for _, e := range a.setup.Plan.Entrypoints {
		if !seen[e.HostPort] {
			seen[e.HostPort] = true
			out = append(out, e)
		}
	}
	return out
}

func (a *apacheRun) listenPorts() []int {
	var out []int
	for _, e := range a.entrypoints() {
		out = append(out, e.HostPort)
	}
	return out
}

func (a *apacheRun) port(role string) int {
	for _, e := range a.setup.Plan.Entrypoints {
		if e.Name == role {
			return e.HostPort
		}
	}
	panic("no entrypoint " + role)
}

func (a *apacheRun) waitPort(t *testing.T, port int, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(a.dir, "error.log"))
			t.Fatalf("httpd exited:\n%s\n%s", a.stderr.String(), log)
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	proxytest.WaitListening(t, port, time.Second)
}

func (a *apacheRun) scheme() string {
	if a.tls {
		return "https"
	}
	return "http"
}

// total is the number of requests every stub has seen.
func (a *apacheRun) total() int64 {
	var n int64
	for _, s := range a.setup.Stubs {
		n += s.Requests.Load()
	}
	return n
}

// send is proxytest.Do with request headers and a body.
func (a *apacheRun) send(t *testing.T, method, host string, port int, path string, header map[string]string, body []byte) proxytest.Answer {
	t.Helper()
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	ans, err := proxytest.Send(a.client, proxytest.Request{Method: method, Scheme: a.scheme(), Host: host, Port: port, Target: path, Header: h, Body: body})
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	return ans
}

func (a *apacheRun) expectBackend(t *testing.T, ans proxytest.Answer, backend, uri, xff, proto string) {
	t.Helper()
	if ans.Status != 200 || ans.Seen == nil {
		t.Errorf("%s: want %s, got %d %.200q", uri, backend, ans.Status, ans.Body)
		return
	}
	s := ans.Seen
	if s.Backend != backend || s.URI != uri {
		t.Errorf("%s: reached %s as %q, want %s as the same bytes", uri, s.Backend, s.URI, backend)
	}
	if xff != "" && s.XForwardedFor != xff {
		t.Errorf("%s: X-Forwarded-For %q, want %q", uri, s.XForwardedFor, xff)
	}
	if proto != "" && s.XForwardedProto != proto {
		t.Errorf("%s: X-Forwarded-Proto %q, want %q", uri, s.XForwardedProto, proto)
	}
}

// expectNoBackend sends a request that no stub may see; status 0 accepts
// any answer httpd gives itself.
func (a *apacheRun) expectNoBackend(t *testing.T, method, host string, port int, path string, status int) {
	t.Helper()
	before := a.total()
	ans := a.send(t, method, host, port, path, nil, nil)
	if ans.Seen != nil || a.total() != before {
		t.Errorf("%s %s:%d%s reached a backend: %d %.200q", method, host, port, path, ans.Status, ans.Body)
		return
	}
	if status != 0 && ans.Status != status {
		t.Errorf("%s %s:%d%s: status %d, want %d", method, host, port, path, ans.Status, status)
	}
	if ans.Status == 200 || bytes.Contains(ans.Body, []byte("MAIN-SERVER-DOCROOT")) {
		t.Errorf("%s %s:%d%s was served by httpd itself: %d %.200q", method, host, port, path, ans.Status, ans.Body)
	}
}

// replayVectors sends every vector to the client port, where it must reach
// Synapse's client listener unless the port also serves federation and
// the path is a federation one; federation vectors go to the federation
// port as well. The stub must see the request target byte for byte.
func (a *apacheRun) replayVectors(t *testing.T, vectors []proxytest.Vector) {
	t.Helper()
	client, fed := a.port(plan.EntrypointClient), a.port(plan.EntrypointFederation)
	proto := a.scheme()
	sent := 0
	for _, v := range vectors {
		isFed := proxytest.IsFederation(v.Path)
		ports := []int{client}
		if isFed && fed != client {
			ports = append(ports, fed)
		}
		for _, port := range ports {
			want := proxytest.ExpectedBackend(v, isFed && port == fed)
			ans := a.send(t, v.Method, apacheHomeserver, port, v.Path, nil, nil)
			a.expectBackend(t, ans, want, v.Path, "127.0.0.1", proto)
			if ans.Seen != nil && (ans.Seen.Method != v.Method || ans.Seen.Host != apacheHomeserver) {
				t.Errorf("%s %s: stub saw %s with Host %q", v.Method, v.Path, ans.Seen.Method, ans.Seen.Host)
			}
			sent++
		}
	}
	t.Logf("%d vectors replayed as %d requests", len(vectors), sent)
}

func (a *apacheRun) checkWellKnown(t *testing.T, host string, port int) {
	t.Helper()
	for _, doc := range []string{"server", "client"} {
		path := "/.well-known/matrix/" + doc
		ans := a.send(t, "GET", host, port, path, nil, nil)
		a.expectBackend(t, ans, apacheStatic, path, "", "")
		a.checkWellKnownHeaders(t, path, ans)
	}
}

func (a *apacheRun) checkWellKnownHeaders(t *testing.T, what string, ans proxytest.Answer) {
	t.Helper()
	want := map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
		"Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
		"Content-Type":                 "application/json",
	}
	if a.hasProbeHeader() {
		want[apacheProbeHeader.Name] = apacheProbeHeader.Value
	}
	for name, value := range want {
		if got := ans.Header.Values(name); len(got) != 1 || got[0] != value {
			t.Errorf("%s: %s %q, want exactly %q", what, name, got, value)
		}
	}
}

func (a *apacheRun) hasProbeHeader() bool {
	for _, r := range a.setup.Plan.Routes {
		if slices.Contains(r.Settings.Headers, apacheProbeHeader) {
			return true
		}
	}
	return false
}

func (a *apacheRun) checkElement(t *testing.T, port int) {
	t.Helper()
	for _, path := range []string{"/", "/config.json", "/i18n/en_EN.json?v=%2F1"} {
		ans := a.send(t, "GET", apacheElement, port, path, nil, nil)
		a.expectBackend(t, ans, apacheElementWeb, path, "127.0.0.1", a.scheme())
	}
}

// checkUnknownHost sends, on every port, requests for a name no section
// has, for none at all (HTTP/1.0 style, by IP) and for a known name on a
// port that does not serve it.
func (a *apacheRun) checkUnknownHost(t *testing.T) {
	t.Helper()
	for _, port := range a.listenPorts() {
		for _, path := range []string{"/_matrix/client/versions", "/_matrix/federation/v1/version", "/.well-known/matrix/server", "/"} {
			a.expectNoBackend(t, "GET", "unknown.example.net", port, path, 404)
			a.expectNoBackend(t, "GET", "127.0.0.1", port, path, 404)
		}
	}
	if client, fed := a.port(plan.EntrypointClient), a.port(plan.EntrypointFederation); client != fed {
		a.expectNoBackend(t, "GET", apacheElement, fed, "/", 404)
	}
}

func (a *apacheRun) checkUnrouted(t *testing.T, port int) {
	t.Helper()
	for _, path := range []string{"/", "/index.html", "/_matrixfoo", "/healthz", "/.well-known/acme-challenge/x"} {
		a.expectNoBackend(t, "GET", apacheHomeserver, port, path, 404)
	}
}

// checkBodySize posts a body over the limit (413, no backend) and one
// under it (it passes whole), on each port that carries Synapse routes.
func (a *apacheRun) checkBodySize(t *testing.T, limit int) {
	t.Helper()
	big, small := bytes.Repeat([]byte("x"), 2*limit), bytes.Repeat([]byte("x"), limit/2)
	type target struct {
		port int
		path string
	}
	targets := []target{
		{a.port(plan.EntrypointClient), "/_matrix/media/v3/upload"},
		{a.port(plan.EntrypointClient), "/_synapse/client/upload"},
		{a.port(plan.EntrypointFederation), "/_matrix/federation/v1/send/1"},
	}
	for _, tg := range targets {
		before := a.total()
		ans := a.send(t, "POST", apacheHomeserver, tg.port, tg.path, map[string]string{"Content-Type": "application/octet-stream"}, big)
		what := fmt.Sprintf("POST %d bytes to %s:%d%s", len(big), apacheHomeserver, tg.port, tg.path)
		if ans.Seen != nil || a.total() != before {
			t.Errorf("%s: reached a backend", what)
		}
		proxytest.CheckTooLarge(t, what, ans)
		ans = a.send(t, "POST", apacheHomeserver, tg.port, tg.path, map[string]string{"Content-Type": "application/octet-stream"}, small)
		if ans.Status != 200 || ans.Seen == nil {
			t.Errorf("POST %d bytes to %s:%d%s: %d, want it to pass", len(small), apacheHomeserver, tg.port, tg.path, ans.Status)
		}
	}
}

// checkRouteTable sends, for every route of the plan (what "matrixgen
// routes --format json" prints), a request under its prefix to its
// hostname and entrypoint, and expects the route's own backend.
func (a *apacheRun) checkRouteTable(t *testing.T) {
	t.Helper()
	ports := map[string]int{}
	for _, e := range a.setup.Plan.Entrypoints {
		ports[e.Name] = e.HostPort
	}
	routes := slices.Clone(a.setup.Plan.Routes)
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Name < routes[j].Name })
	for _, r := range routes {
		path := strings.TrimSuffix(r.PathPrefix, "/") + "/matrixgen-probe"
		ans := a.send(t, "GET", r.Host, ports[r.Entrypoint], path, nil, nil)
		a.expectBackend(t, ans, fmt.Sprintf("%s:%d", r.Service, r.Port), path, "", "")
	}
	t.Logf("%d routes agree with httpd", len(routes))
}

// checkBaseDomain: the website of the base domain keeps its own paths and
// serves the well-known documents through the snippet.
func (a *apacheRun) checkBaseDomain(t *testing.T, port int) {
	t.Helper()
	if a.snippet == nil {
		t.Fatal("the bundle has no base-domain-well-known.conf")
	}
	ans := a.send(t, "GET", apacheBaseDomain, port, "/.well-known/matrix/server", nil, nil)
	a.expectBackend(t, ans, apacheStatic, "/.well-known/matrix/server", "", "")
	a.checkWellKnownHeaders(t, "base domain", ans)
	ans = a.send(t, "GET", apacheBaseDomain, port, "/about", nil, nil)
	a.expectBackend(t, ans, apacheElementWeb, "/about", "", "")
}
