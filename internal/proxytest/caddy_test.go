package proxytest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// These tests run the Caddyfile matrixgen writes in a real Caddy on
// loopback, in front of stub backends. The operator imports
// proxy/caddy/Caddyfile.matrix into a Caddyfile of their own; the tests
// do the same, with global options that keep Caddy off the network: its
// own local CA instead of ACME, its state in a temporary directory, and
// every listener on 127.0.0.1.

const caddyHomeserver = "matrix.example.org"

// caddyExtraVectors add what route-vectors.tsv lacks: percent-encoded
// slashes and reserved characters, dot segments, doubled slashes and query
// strings, all of which must reach Synapse byte for byte.
var caddyExtraVectors = []proxytest.Vector{
	{Method: "GET", Path: "/_matrix/media/v3/download/example.org/abc%2Fdef"},
	{Method: "GET", Path: "/_matrix/media/v3/download/example.org/abc%2fdef%25%2E%2E"},
	{Method: "GET", Path: "/_matrix/client/v3/rooms/%21room%3Aexample.org/state/m.room.member/%40u%3Aexample.org"},
	{Method: "PUT", Path: "/_matrix/client/v3/rooms/!room:example.org/send/m.room.message/txn%2F1%3F"},
	{Method: "GET", Path: "/_matrix/client/v3/user/%40a%2F..%2Fb%3Aexample.org/filter/1"},
	{Method: "GET", Path: "/_matrix//client/v3/sync?since=s1%2F2&timeout=0"},
	{Method: "GET", Path: "/_matrix/client/v3/../v3/sync"},
	{Method: "GET", Path: "/_matrix/federation/v1/query/directory?room_alias=%23a%2Fb%3Aexample.org"},
	{Method: "GET", Path: "/_matrix/key/v2/server?x=%7B%7D"},
	// Dot segments, doubled slashes and encodings after the prefix leave
	// the raw target inside it: these pass the raw target check.
	{Method: "GET", Path: "/_matrix/client/v3/./sync?timeout=0"},
	{Method: "GET", Path: "/_matrix/client/v3/rooms/%21a%3Aexample.org//state//m.room.name/"},
	{Method: "GET", Path: "/_matrix/client/v3/rooms/%21a%3Aexample.org/..%2F..%2Fv3/joined_members"},
	{Method: "GET", Path: "/_matrix/client/v3/profile/%40%C3%A9l%C3%A8ve%3Aexample.org"},
	{Method: "GET", Path: "/_matrix/%63lient/versions"},
	{Method: "GET", Path: "/_matrix/key/v2/server//"},
}

// caddySmuggled are targets that Caddy's view (decoded, dot segments
// resolved, slashes merged, case ignored) puts in one handle block while
// Synapse, which routes on the raw target case-sensitively, would take
// them for another path, or for none. Most dress an admin path as
// /_matrix, or a /_matrix path as admin, or hide an admin path from a
// case-sensitive eye. Each must get 400 from Caddy on the client port and
// reach no backend on any port.
var caddySmuggled = []string{
	// ..%2F: Caddy decodes the slash, then resolves the dot segments.
	"/_synapse/admin/..%2F..%2F_matrix/client/versions",
	"/_synapse/admin/v1/..%2F..%2F..%2F_matrix/client/versions",
	"/_synapse/admin/v1/users/@a:example.org/..%2f..%2f..%2f..%2f..%2f_matrix/client/versions",
	"/_matrix/..%2F_synapse/admin/v1/server_version",
	// %2e%2e: encoded dots.
	"/_synapse/admin/%2e%2e/%2e%2e/_matrix/client/versions",
	"/_synapse/admin/%2E%2E%2F%2E%2E%2F_matrix/client/versions",
	"/_matrix/%2e%2e/_synapse/admin/v1/server_version",
	// Plain dot segments, which Go's client and Caddy leave in the target.
	"/_synapse/admin/../../_matrix/client/versions",
	"/_matrix/client/../../_synapse/admin/v1/server_version",
	"/_matrix/../_synapse/admin/v1/server_version",
	// Doubled slashes.
	"//_synapse/admin/v1/server_version",
	"/_synapse//admin/v1/server_version",
	"//_matrix/client/versions",
	// /./
	"/./_synapse/admin/v1/server_version",
	"/_synapse/./admin/v1/server_version",
	"/_matrix/./../_synapse/admin/v1/server_version",
	// Encoded letters and underscores.
	"/_synapse/%61dmin/v1/server_version",
	"/%5Fsynapse/admin/v1/server_version",
	"/_synapse%2Fadmin/v1/server_version",
	"/%5Fmatrix/client/versions",
	"/_matri%78/client/versions",
	// Case: Caddy's path matcher ignores it, Synapse does not.
	"/_SYNAPSE/Admin/v1/server_version",
	"/_Synapse/admin/v1/server_version",
	"/_synapse/ADMIN/v1/server_version",
	"/_MATRIX/client/versions",
	"/_matrix/../_SYNAPSE/admin/v1/server_version",
	// Other blocks with a path.
	"/_synapse/admin/..%2Fclient/v1/sso",
	"/_matrix/..%2F.well-known/matrix/server",
	"/.WELL-KNOWN/matrix/server",
	"/_synapse/admin/..%2F..%2Fhealth",
}

func TestCaddyRoutingTLS(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, caddyCase{config: `
domain: example.org
reverse_proxy:
  type: caddy
  admin_api: {enabled: true, allow: ["127.0.0.1/32"]}
`})
	c.replayVectors(t)
	c.checkFederationPortIsFederationOnly(t)
	c.checkWellKnown(t, caddyHomeserver, c.clientPort)
	c.checkWellKnown(t, "example.org", c.clientPort)
	c.checkElement(t)
	c.checkUnknownHost(t)
	c.checkForwardedHeadersDropped(t)
	c.checkRouteTable(t)
	c.checkSmuggled(t)
}

// TestCaddySlowUpload: an upload within the limit that takes over a minute
// to arrive, at a steady rate, reaches Synapse whole. Caddy sets no
// timeout on reading a body by default, and streams it to Synapse.
func TestCaddySlowUpload(t *testing.T) {
	proxytest.SkipSlow(t)
	t.Parallel()
	c := startCaddy(t, caddyCase{config: `
domain: example.org
reverse_proxy: {type: caddy}
synapse: {max_upload_size_mb: 1}
`})
	proxytest.CheckSlowUpload(t, c.scheme, caddyHomeserver, c.clientPort)
}

func TestCaddyRoutingTerminated(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, caddyCase{config: `
domain: example.org
reverse_proxy:
  type: caddy
  tls: {mode: terminated}
  admin_api: {enabled: true, allow: ["127.0.0.1/32"]}
synapse:
  max_upload_size_mb: 1
`})
	c.replayVectors(t)
	c.checkWellKnown(t, caddyHomeserver, c.clientPort)
	c.checkWellKnown(t, "example.org", c.clientPort)
	c.checkElement(t)
	c.checkUnknownHost(t)
	c.checkBodySize(t, 1<<20)
	c.checkTerminatorAddress(t)
	c.checkRouteTable(t)
	c.checkSmuggled(t)
}

// With federation on 443, federation paths share the client site.
func TestCaddyFederationOnClientPort(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, caddyCase{config: `
domain: example.org
reverse_proxy:
  type: caddy
  admin_api: {enabled: true, allow: ["127.0.0.1/32"]}
homeserver:
  federation: {port: 443}
`})
	if c.fedPort != c.clientPort {
		t.Fatalf("federation on 443 has its own port %d", c.fedPort)
	}
	c.replayVectors(t)
	c.checkRouteTable(t)
	c.checkSmuggled(t)
}

func TestCaddyAdminAllowlist(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, caddyCase{config: `
domain: example.org
reverse_proxy:
  type: caddy
  admin_api: {enabled: true, allow: ["10.0.0.0/8"]}
`})
	synapse := c.setup.Stubs["matrix-synapse:8008"]
	before := synapse.Requests.Load()
	for _, path := range []string{
		"/_synapse/admin/v1/users/@a:example.org",
		"/_synapse/admin",
		"/_synapse/admin/v1/server_version?x=..%2F..%2F_matrix",
		"/_synapse/admin/v1/%2e%2e/v1/server_version",
		"/_synapse/admin//v1/server_version",
	} {
		a := c.do(t, "GET", caddyHomeserver, c.clientPort, path, nil, nil)
		if a.Status != http.StatusForbidden || a.Seen != nil {
			t.Errorf("GET %s from 127.0.0.1 outside the allowlist: %d %s, want 403", path, a.Status, a.Body)
		}
		if a.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s: a refused client got CORS headers", path)
		}
	}
	if n := synapse.Requests.Load(); n != before {
		t.Errorf("Synapse got %d requests from refused clients", n-before)
	}
	// Spellings that Caddy takes for another block, or for the admin
	// block while Synapse would not, never reach Synapse either.
	c.checkSmuggled(t)
	if n := synapse.Requests.Load(); n != before {
		t.Errorf("Synapse got %d smuggled requests from outside the allowlist", n-before)
	}
	// The rest of the API stays open.
	if a := c.do(t, "GET", caddyHomeserver, c.clientPort, "/_matrix/client/versions", nil, nil); a.Seen == nil || a.Seen.Backend != "matrix-synapse:8008" {
		t.Errorf("client API behind an admin allowlist: %d %s", a.Status, a.Body)
	}
}

// A peer that is not one of reverse_proxy.tls.trusted_proxies is not
// believed about the client.
func TestCaddyUntrustedPeer(t *testing.T) {
	t.Parallel()
	c := startCaddy(t, caddyCase{config: `
domain: example.org
reverse_proxy:
  type: caddy
  tls: {mode: terminated, trusted_proxies: ["192.0.2.0/24"]}
  admin_api: {enabled: true, allow: ["10.0.0.0/8"]}
`})
	c.checkForwardedHeadersDropped(t)
	synapse := c.setup.Stubs["matrix-synapse:8008"]
	before := synapse.Requests.Load()
	for _, xff := range [][]string{{"10.0.0.5"}, {"10.0.0.5", "10.0.0.6"}} {
		h := http.Header{"X-Forwarded-For": xff}
		if a := c.do(t, "GET", caddyHomeserver, c.clientPort, "/_synapse/admin/v1/server_version", h, nil); a.Status != http.StatusForbidden {
			t.Errorf("X-Forwarded-For %q from an untrusted peer: %d %s, want 403", xff, a.Status, a.Body)
		}
	}
	if synapse.Requests.Load() != before {
		t.Error("a spoofed X-Forwarded-For opened the admin API")
	}
}

// TestCaddyExamples checks that every example, switched to Caddy,
// validates in the real Caddy without a warning, as an operator would
// import it (no test options other than where Caddy keeps its state).
func TestCaddyExamples(t *testing.T) {
	t.Parallel()
	bin := caddyBinary(t)
	examples, err := filepath.Glob(filepath.Join(proxytest.RepoRoot(t), "examples", "*.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, path := range examples {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			p := compileAsCaddy(t, path)
			tree, err := render.Render(p)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			files := writeCaddyTree(t, dir, tree)
			top := "{\n\tadmin off\n}\n\nimport " + files[caddySites] + "\n"
			if snippet := files[caddySnippet]; snippet != "" {
				top += "\n" + p.Host.Domain + " {\n\timport " + snippet + "\n}\n"
			}
			config := writeCaddyFile(t, dir, "Caddyfile", top)
			caddyValidate(t, bin, dir, config, files)
		})
	}
}

func compileAsCaddy(t *testing.T, path string) *plan.Plan {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("\nreverse_proxy:")) {
		data = append(data, "\nreverse_proxy: {type: caddy}\n"...)
	}
	cfg, problems := validate.Load(filepath.Base(path), data)
	if len(problems) > 0 {
		var b strings.Builder
		diag.Print(&b, problems, "")
		t.Fatalf("%s with Caddy is invalid:\n%s", path, b.String())
	}
	if cfg.ReverseProxy.Type != "caddy" {
		t.Skipf("%s sets reverse_proxy.type %q", path, cfg.ReverseProxy.Type)
	}
	p, problems := compile.Compile(cfg)
	if len(problems) > 0 {
		t.Fatalf("%s with Caddy does not compile: %v", path, problems)
	}
	return p
}

// TestCaddyRefusesUnfollowablePriority: Caddy tries longer paths first,
// so a plan that ranks a shorter overlapping prefix higher cannot be
// rendered faithfully and must fail rather than route differently.
func TestCaddyRefusesUnfollowablePriority(t *testing.T) {
	t.Parallel()
	setup := proxytest.Compile(t, "domain: example.org\nreverse_proxy: {type: caddy}\nhomeserver: {federation: {port: 443}}\n")
	for i := range setup.Plan.Routes {
		if r := &setup.Plan.Routes[i]; r.PathPrefix == "/_matrix" {
			r.Priority = 1000
		}
	}
	sort.SliceStable(setup.Plan.Routes, func(i, j int) bool { return setup.Plan.Routes[i].Priority > setup.Plan.Routes[j].Priority })
	if _, err := render.Render(setup.Plan); err == nil || !strings.Contains(err.Error(), "Caddy tries the longer path first") {
		t.Fatalf("render with /_matrix above /_matrix/federation: %v", err)
	}
}

// TestCaddyRefusesHostileValues: values that reach the Caddyfile from the
// plan fail the render instead of becoming placeholders or directives.
func TestCaddyRefusesHostileValues(t *testing.T) {
	t.Parallel()
	for name, tweak := range map[string]func(*plan.Plan){
		"placeholder header": func(p *plan.Plan) {
			p.Routes[0].Settings.Headers = []plan.EnvVar{{Name: "X-A", Value: "{http.request.uri}"}}
		},
		"newline header": func(p *plan.Plan) {
			p.Routes[0].Settings.Headers = []plan.EnvVar{{Name: "X-A", Value: "a\n}\nimport /etc/passwd"}}
		},
		"delete header": func(p *plan.Plan) { p.Routes[0].Settings.Headers = []plan.EnvVar{{Name: "-Server"}} },
		"host":          func(p *plan.Plan) { p.Routes[0].Host = "{$HOST}" },
		"prefix":        func(p *plan.Plan) { p.Routes[0].PathPrefix = "/a {" },
		"upstream":      func(p *plan.Plan) { p.Routes[0].Upstream = "{http.request.host}:80" },
		"cidr":          func(p *plan.Plan) { p.Routes[0].Settings.AllowIPs = []string{"10.0.0.0/8 {x}"} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			setup := proxytest.Compile(t, "domain: example.org\nreverse_proxy: {type: caddy}\n")
			tweak(setup.Plan)
			if _, err := render.Render(setup.Plan); err == nil {
				t.Fatal("rendered a hostile value")
			}
		})
	}
}

// The bundle paths of the Caddy files.
const (
	caddySites   = "proxy/caddy/Caddyfile.matrix"
	caddySnippet = "proxy/caddy/base-domain-well-known.caddy"
)

type caddyCase struct {
	config string
	tweak  func(*plan.Plan)
}

// caddyRun is a Caddy started for one test.
type caddyRun struct {
	dir        string // Caddy's files: its configuration and, under data/caddy, its state
	config     string // the test's matrix.yaml
	setup      *proxytest.Setup
	baseSite   bool // the test serves the base domain with the generated snippet
	client     *http.Client
	scheme     string // what the client speaks to Caddy
	clientPort int
	fedPort    int
}

func caddyBinary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("caddy")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("caddy not found; CI must run this test (apt-get install caddy)")
	}
	t.Skip("caddy not found; install it with: apt-get install caddy")
	return ""
}

// caddyEnv keeps Caddy's certificates, keys and autosaved config inside
// dir: the tests must not touch the host's Caddy.
func caddyEnv(dir string) []string {
	env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return env
}

func startCaddy(t *testing.T, tc caddyCase) *caddyRun {
	t.Helper()
	bin := caddyBinary(t)
	setup := proxytest.Compile(t, tc.config)
	if tc.tweak != nil {
		tc.tweak(setup.Plan)
	}
	c := &caddyRun{config: tc.config, setup: setup, client: proxytest.Client(), scheme: "http"}
	for _, e := range setup.Plan.Entrypoints {
		switch e.Name {
		case plan.EntrypointClient:
			c.clientPort = e.HostPort
			if e.TLS {
				c.scheme = "https"
			}
		case plan.EntrypointFederation:
			c.fedPort = e.HostPort
		}
	}
	tree, err := render.Render(setup.Plan)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c.dir = dir
	files := writeCaddyTree(t, dir, tree)
	config := writeCaddyFile(t, dir, "Caddyfile", c.topLevel(t, files))
	caddyValidate(t, bin, dir, config, files)
	// Caddy 2.6 cleans its certificate storage at start, concurrently with
	// issuing, and on a loaded machine the cleaning can delete a certificate
	// being written; Caddy then waits for the next maintenance run. A
	// restart on fresh storage issues them again.
	for attempt := 1; ; attempt++ {
		stop := runCaddy(t, bin, dir, config)
		ports := map[int]bool{c.clientPort: true, c.fedPort: true}
		for port := range ports {
			proxytest.WaitListening(t, port, 15*time.Second)
		}
		if c.waitCertificates(t, 20*time.Second) {
			return c
		}
		if attempt == 3 {
			t.Fatal("Caddy issued no certificates in three starts")
		}
		stop()
		if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
			t.Fatal(err)
		}
	}
}

// topLevel is the test's own Caddyfile: global options that keep Caddy
// off the network and on loopback, the generated sites, and a site for the
// base domain standing in for the operator's website.
func (c *caddyRun) topLevel(t *testing.T, files map[string]string) string {
	var b strings.Builder
	b.WriteString("{\n\tadmin off\n\tdefault_bind 127.0.0.1\n")
	fmt.Fprintf(&b, "\thttp_port %d\n", proxytest.FreePort(t))
	if c.scheme == "https" {
		// Certificates from Caddy's own CA, issued at start without ACME;
		// its root stays out of the system trust store.
		fmt.Fprintf(&b, "\thttps_port %d\n\tlocal_certs\n\tskip_install_trust\n", c.clientPort)
	}
	b.WriteString("}\n\nimport " + files[caddySites] + "\n")
	if snippet := files[caddySnippet]; snippet != "" {
		c.baseSite = true
		addr := fmt.Sprintf("example.org:%d", c.clientPort)
		if c.scheme == "http" {
			addr = "http://" + addr
		}
		fmt.Fprintf(&b, "\n%s {\n\tbind 127.0.0.1\n\timport %s\n\thandle {\n\t\trespond \"operator's site\"\n\t}\n}\n", addr, snippet)
	}
	return b.String()
}

// writeCaddyTree writes the bundle's Caddy files under dir and returns
// their absolute paths by bundle path.
func writeCaddyTree(t testing.TB, dir string, tree render.Tree) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, p := range tree.Paths() {
		if !strings.HasPrefix(p, "proxy/caddy/") {
			continue
		}
		if !tree[p].BundleOnly {
			t.Errorf("%s would be installed on the host; it is for the operator to import", p)
		}
		files[p] = writeCaddyFile(t, dir, p, string(tree[p].Data))
	}
	if files[caddySites] == "" {
		t.Fatalf("the bundle has no %s", caddySites)
	}
	return files
}

func writeCaddyFile(t testing.TB, dir, rel, data string) string {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// caddyValidate runs caddy validate, which must pass without a warning,
// and caddy fmt on every generated file, which must leave it unchanged:
// Caddy checks the formatting of the top-level file only, and an imported
// file that fmt would change is one an operator's `caddy fmt --overwrite`
// would rewrite.
func caddyValidate(t testing.TB, bin, dir, config string, files map[string]string) {
	t.Helper()
	out, err := caddyCommand(bin, dir, "validate", "--config", config, "--adapter", "caddyfile")
	if err != nil {
		t.Fatalf("caddy validate: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
			t.Errorf("caddy validate warns: %s", line)
		}
	}
	for rel, path := range files {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "fmt", path)
		cmd.Dir, cmd.Env = dir, caddyEnv(dir)
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("caddy fmt %s: %v", rel, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("caddy fmt changes %s:\n%s", rel, got)
		}
	}
}

func caddyCommand(bin, dir string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, caddyEnv(dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// caddyLog collects Caddy's output for a failing test.
type caddyLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *caddyLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *caddyLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runCaddy starts Caddy; it stops with the test, or after ten minutes if
// the test hangs.
func runCaddy(t *testing.T, bin, dir, config string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "run", "--config", config, "--adapter", "caddyfile")
	cmd.Dir, cmd.Env = dir, caddyEnv(dir)
	logs := &caddyLog{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("caddy's log:\n%s", logs.String())
		}
	})
	return func() {
		cancel()
		<-done
	}
}

// waitCertificates waits until Caddy has issued the local certificates it
// starts issuing when it starts, and tells whether it did in time.
func (c *caddyRun) waitCertificates(t *testing.T, within time.Duration) bool {
	t.Helper()
	if c.scheme != "https" {
		return true
	}
	deadline := time.Now().Add(within)
	for {
		ready := true
		for _, host := range c.hosts() {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", c.clientPort),
				&tls.Config{ServerName: host, InsecureSkipVerify: true}) // the tests' own CA
			if err != nil {
				ready = false
				break
			}
			conn.Close()
		}
		if ready {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *caddyRun) hosts() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range c.setup.Plan.Routes {
		if !seen[r.Host] {
			seen[r.Host] = true
			out = append(out, r.Host)
		}
	}
	if c.baseSite {
		out = append(out, c.setup.Plan.Host.Domain)
	}
	return out
}

// do sends one request; unlike proxytest.Do it carries headers and a body.
func (c *caddyRun) do(t *testing.T, method, host string, port int, path string, header http.Header, body []byte) proxytest.Answer {
	t.Helper()
	a, err := c.try(method, host, port, path, header, body)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	return a
}

func (c *caddyRun) try(method, host string, port int, path string, header http.Header, body []byte) (proxytest.Answer, error) {
	return proxytest.Send(c.client, proxytest.Request{Method: method, Scheme: c.scheme, Host: host, Port: port, Target: path, Header: header, Body: body})
}

// requests counts what every stub has answered.
func (c *caddyRun) requests() int64 {
	var n int64
	for _, s := range c.setup.Stubs {
		n += s.Requests.Load()
	}
	return n
}

// replayVectors sends every request vector, and the extra ones, to the
// homeserver's hostname: client paths on the client port, federation
// paths on the federation port, and on the client port too when the two
// are one.
func (c *caddyRun) replayVectors(t *testing.T) {
	t.Helper()
	vectors := append(proxytest.Vectors(t), caddyExtraVectors...)
	sent := 0
	for _, v := range vectors {
		fed := proxytest.IsFederation(v.Path)
		port := c.clientPort
		if fed {
			port = c.fedPort
		}
		want := proxytest.ExpectedBackend(v, fed)
		a := c.do(t, v.Method, caddyHomeserver, port, v.Path, nil, nil)
		sent++
		switch {
		case a.Seen == nil:
			t.Errorf("%s %s on %d: no backend answered (%d %q)", v.Method, v.Path, port, a.Status, a.Body)
			continue
		case a.Seen.Backend != want:
			t.Errorf("%s %s on %d reached %s, want %s", v.Method, v.Path, port, a.Seen.Backend, want)
		}
		if a.Seen.URI != v.Path || a.Seen.Method != v.Method {
			t.Errorf("%s %s arrived as %s %s", v.Method, v.Path, a.Seen.Method, a.Seen.URI)
		}
		if a.Seen.Host != caddyHomeserver {
			t.Errorf("%s: Host %q reached the backend, want %q", v.Path, a.Seen.Host, caddyHomeserver)
		}
		if a.Seen.XForwardedFor != "127.0.0.1" || a.Seen.XForwardedProto != c.scheme || a.Seen.XForwardedHost != caddyHomeserver {
			t.Errorf("%s: X-Forwarded-For %q, -Proto %q, -Host %q; want 127.0.0.1, %s, %s",
				v.Path, a.Seen.XForwardedFor, a.Seen.XForwardedProto, a.Seen.XForwardedHost, c.scheme, caddyHomeserver)
		}
	}
	t.Logf("replayed %d vectors (%d from route-vectors.tsv)", sent, len(vectors)-len(caddyExtraVectors))
}

// checkSmuggled sends every caddySmuggled target and the extra ones to
// both ports, with and without a body, which Caddy must refuse before
// anything reaches a backend: 400 on the client port, where a block takes
// each of them.
func (c *caddyRun) checkSmuggled(t *testing.T, extra ...string) {
	t.Helper()
	ports := []int{c.clientPort}
	if c.fedPort != c.clientPort {
		ports = append(ports, c.fedPort)
	}
	before := c.requests()
	for _, path := range append(append([]string{}, caddySmuggled...), extra...) {
		for _, port := range ports {
			for _, method := range []string{"GET", "POST"} {
				var body []byte
				if method == "POST" {
					body = []byte("{}")
				}
				a := c.do(t, method, caddyHomeserver, port, path, nil, body)
				switch {
				case a.Seen != nil:
					t.Errorf("%s %s on %d reached %s as %q", method, path, port, a.Seen.Backend, a.Seen.URI)
				case port == c.clientPort && a.Status != http.StatusBadRequest:
					t.Errorf("%s %s on the client port: %d %q, want 400", method, path, a.Status, a.Body)
				case a.Status < 400:
					t.Errorf("%s %s on %d: %d %q, want a refusal", method, path, port, a.Status, a.Body)
				}
				if a.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("%s %s on %d: a refused request got CORS headers", method, path, port)
				}
			}
		}
	}
	if n := c.requests() - before; n != 0 {
		t.Errorf("smuggled targets reached backends %d times", n)
	}
}

// checkFederationPortIsFederationOnly: on a federation port of its own,
// client paths reach no backend.
func (c *caddyRun) checkFederationPortIsFederationOnly(t *testing.T) {
	t.Helper()
	before := c.requests()
	for _, path := range []string{"/_matrix/client/versions", "/_synapse/admin/v1/server_version", "/.well-known/matrix/server", "/"} {
		if a := c.do(t, "GET", caddyHomeserver, c.fedPort, path, nil, nil); a.Seen != nil || a.Status != http.StatusNotFound {
			t.Errorf("GET %s on the federation port: %d %s, want 404 from Caddy", path, a.Status, a.Body)
		}
	}
	if n := c.requests() - before; n != 0 {
		t.Errorf("client paths on the federation port reached %d backends", n)
	}
}

func (c *caddyRun) checkWellKnown(t *testing.T, host string, port int) {
	t.Helper()
	for _, doc := range []string{"server", "client"} {
		a := c.do(t, "GET", host, port, "/.well-known/matrix/"+doc, nil, nil)
		if a.Seen == nil || a.Seen.Backend != "matrix-static-files:8080" {
			t.Errorf("%s/.well-known/matrix/%s: %d %s, want the static files", host, doc, a.Status, a.Body)
			continue
		}
		if got := a.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "*" {
			t.Errorf("%s/.well-known/matrix/%s: Access-Control-Allow-Origin %q", host, doc, got)
		}
		if got := a.Header.Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
			t.Errorf("%s/.well-known/matrix/%s: Content-Type %q, want application/json once", host, doc, got)
		}
	}
	// A preflight is answered by Caddy itself.
	stub := c.setup.Stubs["matrix-static-files:8080"]
	before := stub.Requests.Load()
	h := http.Header{"Origin": {"https://app.example.net"}, "Access-Control-Request-Method": {"GET"}}
	a := c.do(t, "OPTIONS", host, port, "/.well-known/matrix/client", h, nil)
	if a.Status != http.StatusNoContent || a.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(a.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight on %s: %d %v", host, a.Status, a.Header)
	}
	if stub.Requests.Load() != before {
		t.Errorf("preflight on %s reached the static files", host)
	}
	if host != caddyHomeserver {
		// The operator's own site keeps every other path.
		if a := c.do(t, "GET", host, port, "/index.html", nil, nil); a.Seen != nil || string(a.Body) != "operator's site" {
			t.Errorf("%s/index.html: %d %q, want the operator's site", host, a.Status, a.Body)
		}
	}
}

func (c *caddyRun) checkElement(t *testing.T) {
	t.Helper()
	for _, path := range []string{"/", "/config.json", "/i18n/de%2Dde.json?x=%21"} {
		a := c.do(t, "GET", "element.example.org", c.clientPort, path, nil, nil)
		if a.Seen == nil || a.Seen.Backend != "matrix-client-element:8080" || a.Seen.URI != path {
			t.Errorf("element.example.org%s: %d %s, want Element", path, a.Status, a.Body)
		}
	}
}

// checkUnknownHost: a hostname that is not in the route table reaches no
// backend, on either port (with TLS, Caddy has no certificate for it).
func (c *caddyRun) checkUnknownHost(t *testing.T) {
	t.Helper()
	before := c.requests()
	for _, port := range []int{c.clientPort, c.fedPort} {
		for _, host := range []string{"unknown.example.org", "127.0.0.1", "example.org.evil.test"} {
			a, err := c.try("GET", host, port, "/_matrix/client/versions", nil, nil)
			if err == nil && a.Seen != nil {
				t.Errorf("Host %s on %d reached %s", host, port, a.Seen.Backend)
			}
		}
	}
	if n := c.requests() - before; n != 0 {
		t.Errorf("unknown hostnames reached %d backends", n)
	}
}

// checkBodySize: a body over max_upload_size_mb is refused before it
// reaches Synapse; one under it passes.
func (c *caddyRun) checkBodySize(t *testing.T, limit int) {
	t.Helper()
	synapse := c.setup.Stubs["matrix-synapse:8008"]
	before := synapse.Requests.Load()
	// Caddy answers 413 as soon as it reads the declared length; expecting
	// 100-continue keeps the client from writing into a closed connection.
	expect := http.Header{"Expect": {"100-continue"}}
	a := c.do(t, "POST", caddyHomeserver, c.clientPort, "/_matrix/media/v3/upload", expect, bytes.Repeat([]byte("x"), 2*limit))
	proxytest.CheckTooLarge(t, fmt.Sprintf("POST of %d bytes with a limit of %d", 2*limit, limit), a)
	if n := synapse.Requests.Load() - before; n != 0 {
		t.Errorf("an oversized body reached Synapse")
	}
	a = c.do(t, "POST", caddyHomeserver, c.clientPort, "/_matrix/media/v3/upload", nil, bytes.Repeat([]byte("x"), limit/2))
	if a.Seen == nil || a.Seen.Backend != "matrix-synapse:8008" {
		t.Errorf("POST of %d bytes with a limit of %d: %d %s, want Synapse", limit/2, limit, a.Status, a.Body)
	}
}

// checkTerminatorAddress: 127.0.0.1, where the test's requests come from,
// stands for the TLS terminator (the default trusted_proxies). What it
// appends to X-Forwarded-For is the client; whatever the client itself
// put before that counts for nothing, in one header line or several.
func (c *caddyRun) checkTerminatorAddress(t *testing.T) {
	t.Helper()
	synapse := c.setup.Stubs["matrix-synapse:8008"]
	for _, xff := range [][]string{
		{"203.0.113.9"},
		{"127.0.0.1, 203.0.113.9"},
		{"127.0.0.1,203.0.113.9 "},
		{"127.0.0.1", "203.0.113.9"},
		{"::1, 10.0.0.1", "127.0.0.1, 203.0.113.9"},
	} {
		h := http.Header{"X-Forwarded-For": xff, "X-Forwarded-Proto": {"https"}}
		a := c.do(t, "GET", caddyHomeserver, c.clientPort, "/_matrix/client/versions", h, nil)
		if a.Seen == nil {
			t.Fatalf("no backend: %d %s", a.Status, a.Body)
		}
		if a.Seen.XForwardedFor != "203.0.113.9, 127.0.0.1" || a.Seen.XForwardedProto != "https" {
			t.Errorf("the terminator sent X-Forwarded-For %q; Synapse saw X-Forwarded-For %q, -Proto %q", xff, a.Seen.XForwardedFor, a.Seen.XForwardedProto)
		}
		// The admin API allows 127.0.0.1 only: the client is 203.0.113.9.
		before := synapse.Requests.Load()
		if a := c.do(t, "GET", caddyHomeserver, c.clientPort, "/_synapse/admin/v1/server_version", h, nil); a.Status != http.StatusForbidden || synapse.Requests.Load() != before {
			t.Errorf("admin API for X-Forwarded-For %q through the terminator: %d %s, want 403", xff, a.Status, a.Body)
		}
	}
	// A client the terminator reports inside the allow list gets in.
	h := http.Header{"X-Forwarded-For": {"203.0.113.9, 127.0.0.1"}}
	if a := c.do(t, "GET", caddyHomeserver, c.clientPort, "/_synapse/admin/v1/server_version", h, nil); a.Seen == nil {
		t.Errorf("admin API for a client the terminator reports as 127.0.0.1: %d %s", a.Status, a.Body)
	}
}

// checkForwardedHeadersDropped: without a trusted proxy, what a client
// claims in X-Forwarded-* never reaches Synapse.
func (c *caddyRun) checkForwardedHeadersDropped(t *testing.T) {
	t.Helper()
	h := http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.test"}}
	a := c.do(t, "GET", caddyHomeserver, c.clientPort, "/_matrix/client/versions", h, nil)
	if a.Seen == nil {
		t.Fatalf("no backend: %d %s", a.Status, a.Body)
	}
	if a.Seen.XForwardedFor != "127.0.0.1" || a.Seen.XForwardedProto != c.scheme || a.Seen.XForwardedHost != caddyHomeserver {
		t.Errorf("spoofed X-Forwarded-* reached Synapse: %+v", *a.Seen)
	}
}

// checkRouteTable: what `matrixgen routes --format json` prints is the
// plan the test rendered, and for each route a request to its prefix
// reached that route's backend.
func (c *caddyRun) checkRouteTable(t *testing.T) {
	t.Helper()
	printed := matrixgenRoutes(t, c.config)
	routes := c.setup.Plan.Routes
	if len(printed) != len(routes) {
		t.Fatalf("matrixgen routes printed %d routes, the plan has %d", len(printed), len(routes))
	}
	ports := map[string]int{}
	for _, e := range c.setup.Plan.Entrypoints {
		ports[e.Name] = e.HostPort
	}
	for i, r := range routes {
		pr := printed[i]
		if pr.Host != r.Host || pr.Match.Value != r.PathPrefix || pr.Entrypoint != r.Entrypoint || pr.Priority != r.Priority || pr.Backend.Service != r.Service {
			t.Errorf("route %d: matrixgen routes printed %+v, the plan has %s%s -> %s", i, pr, r.Host, r.PathPrefix, r.Service)
			continue
		}
		if c.setup.Ports[pr.Port] != ports[r.Entrypoint] {
			t.Errorf("route %s: printed port %d is not the port of entrypoint %s", r.Name, pr.Port, r.Entrypoint)
		}
		path := r.PathPrefix
		if strings.HasPrefix(path, "/.well-known/") {
			path += "/server"
		}
		a := c.do(t, "GET", r.Host, ports[r.Entrypoint], path, nil, nil)
		if want := fmt.Sprintf("%s:%d", r.Service, r.Port); a.Seen == nil || a.Seen.Backend != want {
			t.Errorf("route %s (%s%s on %s): %d %s, want %s", r.Name, r.Host, r.PathPrefix, r.Entrypoint, a.Status, a.Body, want)
		}
	}
}

// printedRoute is the part of `routes --format json` the test compares.
type printedRoute struct {
	Host       string `json:"host"`
	Match      struct{ Type, Value string }
	Entrypoint string `json:"entrypoint"`
	Port       int    `json:"port"`
	Priority   int    `json:"priority"`
	Backend    struct{ Service, Address string }
}

// matrixgenRoutes builds the real CLI and runs it on the test's config.
func matrixgenRoutes(t *testing.T, config string) []printedRoute {
	t.Helper()
	return printRoutes(t, buildMatrixgen(t), config)
}

// buildMatrixgen builds the real CLI for the test.
func buildMatrixgen(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not found: cannot build matrixgen to compare `routes --format json`")
	}
	bin := filepath.Join(t.TempDir(), "matrixgen")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/matrixgen")
	build.Dir = proxytest.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// printRoutes runs `matrixgen routes --format json` on config.
func printRoutes(t *testing.T, bin, config string) []printedRoute {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "matrix.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "routes", "-c", cfg, "--format", "json").Output()
	if err != nil {
		t.Fatalf("matrixgen routes: %v", err)
	}
	var routes []printedRoute
	if err := json.Unmarshal(out, &routes); err != nil {
		t.Fatalf("matrixgen routes --format json: %v\n%s", err, out)
	}
	return routes
}
