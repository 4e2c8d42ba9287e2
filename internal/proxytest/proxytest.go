// Package proxytest supports routing tests: stub backends on loopback that
// answer with their own name and the request they saw, the request vectors
// of ../shared/routes, and a Plan rewired so that a real proxy started by a
// test listens on free loopback ports in front of the stubs.
package proxytest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// Vector is one request of route-vectors.tsv.
type Vector struct {
	Method, Path, Group, Status, Note string
	// Matched lists every group whose patterns match the path.
	Matched []string
}

// Vectors reads ../shared/routes/route-vectors.tsv from the repository root.
func Vectors(t testing.TB) []Vector {
	t.Helper()
	f, err := os.Open(filepath.Join(RepoRoot(t), "..", "shared", "routes", "route-vectors.tsv"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("route vectors: %v", err)
		}
		t.Skipf("route vectors not found beside the repository: %v", err)
	}
	defer f.Close()
	var out []Vector
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		cols := strings.Split(sc.Text(), "\t")
		if first || len(cols) < 5 {
			continue
		}
		v := Vector{Method: cols[0], Path: cols[1], Group: cols[2], Status: cols[4]}
		if cols[3] != "-" {
			v.Matched = strings.Split(cols[3], "|")
		}
		if len(cols) > 5 {
			v.Note = cols[5]
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no route vectors")
	}
	return out
}

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Seen is what a stub backend reports about the request it got.
type Seen struct {
	Backend         string `json:"backend"`
	Method          string `json:"method"`
	Host            string `json:"host"`
	URI             string `json:"uri"` // the request target exactly as received
	XForwardedFor   string `json:"x_forwarded_for"`
	XForwardedProto string `json:"x_forwarded_proto"`
	XForwardedHost  string `json:"x_forwarded_host"`
	BodyBytes       int64  `json:"body_bytes"` // how much of the request's body arrived
}

// Stub is a backend that answers every request with a Seen as JSON, and
// a WebSocket handshake with a WebSocket that echoes what it gets.
type Stub struct {
	Name     string
	Addr     string // 127.0.0.1:port
	Requests atomic.Int64

	mu        sync.Mutex
	server    *http.Server
	tunnels   []net.Conn // hijacked for WebSockets
	stopped   bool
	documents map[string]document // by path: files the real backend serves
}

// document is a file a stub serves as the backend it stands for would.
type document struct {
	status      int
	contentType string
	body        []byte
}

// Serve makes the stub answer GET path with body, as the static file
// server it stands for does, instead of with what it saw.
func (s *Stub) Serve(path, contentType string, body []byte) {
	s.ServeStatus(path, http.StatusOK, contentType, body)
}

// ServeStatus makes the stub answer GET path with status and body, as a
// backend that lacks the file or fails does.
func (s *Stub) ServeStatus(path string, status int, contentType string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.documents == nil {
		s.documents = map[string]document{}
	}
	s.documents[path] = document{status, contentType, body}
}

func (s *Stub) document(path string) (document, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.documents[path]
	return d, ok
}

// StartStub starts a stub on a free loopback port; it stops with the test.
func StartStub(t testing.TB, name string) *Stub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Stub{Name: name, Addr: ln.Addr().String()}
	s.serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.currentServer().Shutdown(ctx)
		s.closeTunnels() // Shutdown leaves hijacked connections alone
	})
	return s
}

// Stop closes the stub's port, as a backend that restarts does: new
// connections are refused until Restart.
func (s *Stub) Stop() { _ = s.currentServer().Close() }

// Restart opens the stub's port again, on the same address.
func (s *Stub) Restart(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	s.serve(ln)
}

func (s *Stub) serve(ln net.Listener) {
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(s.answer)}
	s.mu.Lock()
	s.server = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (s *Stub) currentServer() *http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.server
}

// answer serves a document, or says what the stub saw.
func (s *Stub) answer(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.document(r.URL.Path); ok && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", d.contentType)
		w.WriteHeader(d.status)
		_, _ = w.Write(d.body)
		return
	}
	s.Requests.Add(1)
	seen := Seen{
		Backend: s.Name, Method: r.Method, Host: r.Host, URI: r.RequestURI,
		XForwardedFor: r.Header.Get("X-Forwarded-For"), XForwardedProto: r.Header.Get("X-Forwarded-Proto"),
		XForwardedHost: r.Header.Get("X-Forwarded-Host"),
	}
	if hasToken(r.Header, "Upgrade", "websocket") {
		s.serveWebSocket(w, r, seen)
		return
	}
	seen.BodyBytes, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(seen)
}

// FreePort returns a loopback TCP port that was free a moment ago, one
// this process has not handed out before. The ports come from below the
// kernel's ephemeral range, so that a stub listening on port 0 in a
// parallel test cannot be given one that a proxy is about to bind; each
// process starts at a place of its own in that range, so that parallel
// test binaries rarely meet.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	if nextPort == 0 {
		nextPort = firstPort + os.Getpid()%(lastPort-firstPort)
	}
	for range lastPort - firstPort {
		port := nextPort
		nextPort++
		if nextPort >= lastPort {
			nextPort = firstPort
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // another program's
		}
		ln.Close()
		return port
	}
	t.Fatalf("no free loopback port in %d-%d", firstPort, lastPort)
	return 0
}

// The range FreePort hands out: below Linux's default ephemeral range
// (32768-60999), above the ports services are usually configured on.
const firstPort, lastPort = 20000, 32000

var (
	portsMu  sync.Mutex
	nextPort int
)

// Setup is a compiled config rewired for a test: stubs stand in for every
// upstream, and every public port is a free loopback port.
type Setup struct {
	Plan  *plan.Plan
	Stubs map[string]*Stub // by "<unit>:<container port>", the stub's name
	// Ports maps each public port of the config (443, 8448, 80) to the
	// loopback port the proxy must listen on instead.
	Ports map[int]int
}

// Compile validates and compiles config YAML, then rewires the plan.
func Compile(t testing.TB, configYAML string) *Setup {
	t.Helper()
	cfg, problems := validate.Load("test.yaml", []byte(configYAML))
	if len(problems) > 0 {
		var b strings.Builder
		diag.Print(&b, problems, "")
		t.Fatalf("test config is invalid:\n%s", b.String())
	}
	p, problems := compile.Compile(cfg)
	if len(problems) > 0 {
		t.Fatalf("test config does not compile: %v", problems)
	}
	s := &Setup{Plan: p, Stubs: map[string]*Stub{}, Ports: map[int]int{}}
	stub := func(service string, port int) string {
		name := fmt.Sprintf("%s:%d", service, port)
		if s.Stubs[name] == nil {
			s.Stubs[name] = StartStub(t, name)
		}
		return s.Stubs[name].Addr
	}
	for i := range p.Routes {
		r := &p.Routes[i]
		r.Upstream = stub(r.Service, r.Port)
		for j := range r.Backends {
			r.Backends[j].Upstream = stub(r.Backends[j].Service, r.Backends[j].Port)
		}
	}
	if tl := &p.Proxy.TooLarge; tl.Path != "" {
		tl.Backend.Upstream = stub(tl.Backend.Service, tl.Backend.Port)
		s.Stubs[fmt.Sprintf("%s:%d", tl.Backend.Service, tl.Backend.Port)].Serve(tl.Path, tooLargeContentType, []byte(tl.Body+"\n"))
	}
	for i := range p.Entrypoints {
		e := &p.Entrypoints[i]
		if s.Ports[e.HostPort] == 0 {
			s.Ports[e.HostPort] = FreePort(t)
		}
		e.HostAddress, e.HostPort = "127.0.0.1", s.Ports[e.HostPort]
	}
	return s
}

// tooLargeContentType is what static-web-server sends for the bundle's
// too-large document, a .json file.
const tooLargeContentType = "application/json"

// Certificates writes a self-signed certificate for every route hostname in
// certbot's layout (<dir>/<host>/fullchain.pem, privkey.pem) and points the
// plan at it.
func (s *Setup) Certificates(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	hosts := map[string]bool{}
	for _, r := range s.Plan.Routes {
		hosts[r.Host] = true
	}
	for host := range hosts {
		certPEM, keyPEM := selfSigned(t, host)
		sub := filepath.Join(dir, host)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{"fullchain.pem": certPEM, "privkey.pem": keyPEM} {
			if err := os.WriteFile(filepath.Join(sub, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Plan.Proxy.CertificateDir = dir
	return dir
}

func selfSigned(t testing.TB, host string) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// Answer is a proxy's response to one request.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
	Seen   *Seen // set when a stub answered
}

// Client sends requests for any hostname to the proxy on 127.0.0.1,
// with the hostname in Host and SNI, and never follows redirects.
func Client() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // self-signed test certificates
			DisableKeepAlives: true,
			// With "Expect: 100-continue" a refused upload gets its answer
			// before the body is sent, instead of a broken pipe mid-body.
			ExpectContinueTimeout: 5 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Do sends method to scheme://host:port path (path as raw request target).
func Do(t testing.TB, c *http.Client, method, scheme, host string, port int, path string) Answer {
	t.Helper()
	a, err := Send(c, Request{Method: method, Scheme: scheme, Host: host, Port: port, Target: path})
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	return a
}

// Request is one request a test sends to a proxy on 127.0.0.1.
type Request struct {
	Method, Scheme, Host string
	Port                 int
	Target               string      // the request target, sent exactly as written
	Header               http.Header // added to the client's own
	Body                 []byte      // nil for none
}

// Send sends r with c, a Client; the error is the client's, when nothing
// answered.
func Send(c *http.Client, r Request) (Answer, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequest(r.Method, fmt.Sprintf("%s://%s:%d/", r.Scheme, r.Host, r.Port), body)
	if err != nil {
		return Answer{}, err
	}
	if err := SetTarget(req, r.Target); err != nil {
		return Answer{}, err
	}
	req.Host = r.Host
	maps.Copy(req.Header, r.Header)
	resp, err := c.Do(req)
	if err != nil {
		return Answer{}, err
	}
	return answer(resp), nil
}

// SetTarget makes req send path as its request target exactly as written,
// with no client-side normalisation.
func SetTarget(req *http.Request, path string) error {
	req.URL.Opaque = path
	if !strings.HasPrefix(path, "//") {
		return nil
	}
	// Go sends an Opaque of "//x" in absolute form, "http://x", whose
	// host "x" a proxy takes for the request's. An escaped path is sent
	// as written, provided that it decodes to Path.
	rawPath, query, _ := strings.Cut(path, "?")
	decoded, err := url.PathUnescape(rawPath)
	if err != nil {
		return err
	}
	req.URL.Opaque, req.URL.Path, req.URL.RawPath, req.URL.RawQuery = "", decoded, rawPath, query
	if got := req.URL.RequestURI(); got != path {
		return fmt.Errorf("Go would send %q, not %q", got, path)
	}
	return nil
}

// ReadAnswer reads and closes resp, a stub's answer through a proxy or the
// proxy's own.
func ReadAnswer(resp *http.Response) Answer { return answer(resp) }

func answer(resp *http.Response) Answer {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := Answer{Status: resp.StatusCode, Header: resp.Header, Body: body}
	var seen Seen
	if json.Unmarshal(body, &seen) == nil && seen.Backend != "" {
		a.Seen = &seen
	}
	return a
}

// CheckTooLarge requires the answer to an upload over the limit to be the
// Matrix error that Synapse itself would send: 413, JSON, M_TOO_LARGE.
func CheckTooLarge(t testing.TB, what string, a Answer) {
	t.Helper()
	mediaType, _, _ := mime.ParseMediaType(a.Header.Get("Content-Type"))
	var matrixErr struct {
		Errcode string `json:"errcode"`
		Error   string `json:"error"`
	}
	_ = json.Unmarshal(a.Body, &matrixErr)
	if a.Status != http.StatusRequestEntityTooLarge || mediaType != "application/json" || len(a.Header.Values("Content-Type")) != 1 || matrixErr.Errcode != "M_TOO_LARGE" || matrixErr.Error == "" {
		t.Errorf("%s: %d, Content-Type %q, body %q; want 413 application/json with errcode M_TOO_LARGE and an error text",
			what, a.Status, a.Header.Get("Content-Type"), a.Body)
	}
}

// WaitListening waits until something accepts on 127.0.0.1:port.
func WaitListening(t testing.TB, port int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on 127.0.0.1:%d after %s", port, within)
}

// ExpectedBackend is where a deployment without workers sends a vector:
// federation and key requests to Synapse's federation listener when they
// arrive on the federation entrypoint, everything else to the client listener.
func ExpectedBackend(v Vector, onFederationPort bool) string {
	if onFederationPort {
		return "matrix-synapse:8048"
	}
	return "matrix-synapse:8008"
}

// IsFederation tells whether a path belongs on the federation entrypoint.
func IsFederation(path string) bool {
	return strings.HasPrefix(path, "/_matrix/federation/") || strings.HasPrefix(path, "/_matrix/key/")
}

// A slow but steady upload: SlowUploadBytes at SlowUploadRate, which takes
// a little longer than the 60 s after which Traefik's default read timeout
// cut a request off (issue 21). Every proxy must pass it whole.
const (
	SlowUploadRate  = 8 << 10 // bytes per second
	SlowUploadBytes = 66 * SlowUploadRate
)

// SkipSlow skips a test that sends a slow upload under -short.
func SkipSlow(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: a slow upload takes %ds", SlowUploadBytes/SlowUploadRate)
	}
}

// CheckSlowUpload sends the slow upload to Synapse's media endpoint
// through the proxy on 127.0.0.1:port, with its length declared, and
// fails unless the client API stub gets all of it and the client gets its
// answer.
func CheckSlowUpload(t testing.TB, scheme, host string, port int) {
	t.Helper()
	c := Client()
	c.Timeout = 3 * SlowUploadBytes / SlowUploadRate * time.Second
	req, err := http.NewRequest("POST", fmt.Sprintf("%s://%s:%d/_matrix/media/v3/upload?filename=slow", scheme, host, port), &pacedBody{size: SlowUploadBytes, rate: SlowUploadRate})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = SlowUploadBytes
	req.Host = host
	start := time.Now()
	resp, err := c.Do(req)
	took := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		t.Fatalf("slow upload of %d bytes at %d B/s: %v after %s", SlowUploadBytes, SlowUploadRate, err, took)
	}
	a := answer(resp)
	if a.Status != http.StatusOK || a.Seen == nil || a.Seen.Backend != "matrix-synapse:8008" || a.Seen.BodyBytes != SlowUploadBytes {
		t.Fatalf("slow upload of %d bytes at %d B/s: %d after %s, backend saw %+v; want all of it at matrix-synapse:8008", SlowUploadBytes, SlowUploadRate, a.Status, took, a.Seen)
	}
	t.Logf("%d bytes at %d B/s arrived whole in %s", SlowUploadBytes, SlowUploadRate, took)
}

// pacedBody is a request body of size bytes that is never read faster
// than rate bytes per second, in pieces of at most a tenth of a second's
// worth.
type pacedBody struct {
	size, rate, sent int
	start            time.Time
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if b.sent == b.size {
		return 0, io.EOF
	}
	if b.start.IsZero() {
		b.start = time.Now()
	}
	n := min(len(p), b.rate/10, b.size-b.sent)
	due := b.start.Add(time.Duration(b.sent+n) * time.Second / time.Duration(b.rate))
	time.Sleep(time.Until(due))
	for i := range p[:n] {
		p[i] = 'm'
	}
	b.sent += n
	return n, nil
}
