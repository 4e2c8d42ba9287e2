package proxytest_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
	"github.com/matrixgen/matrixgen/internal/render"
)

// webSocketConfig has maubot, whose management UI reads its live log
// through a WebSocket on its route of the homeserver's hostname.
const webSocketConfig = `domain: example.org
reverse_proxy: {type: %s}
bots:
  maubot:
    type: maubot
`

// webSocketLogPath is the log view's endpoint below maubot's prefix.
const webSocketLogPath = "/v1/logs"

// webSocketProxy is a running proxy in front of the stubs of a config
// with maubot.
type webSocketProxy struct {
	setup       *proxytest.Setup
	scheme      string
	port        int // the client entrypoint's
	get         func(t *testing.T, host, path string) proxytest.Answer
	upgradesAll bool // the proxy passes an upgrade on every route, unasked
}

// webSocketProxies start each webserver with TLS, as most operators run it.
var webSocketProxies = []struct {
	name  string
	start func(t *testing.T) webSocketProxy
}{
	{"nginx", func(t *testing.T) webSocketProxy {
		config := fmt.Sprintf(webSocketConfig, "nginx")
		setup := proxytest.Compile(t, config)
		setup.Certificates(t)
		n := startNginx(t, nginxBinary(t), setup, nginxCase{name: "websocket", config: config, tls: true})
		return webSocketProxy{setup: setup, scheme: n.scheme, port: n.clientPort, get: func(t *testing.T, host, path string) proxytest.Answer {
			return proxytest.Do(t, n.client, "GET", n.scheme, host, n.clientPort, path)
		}}
	}},
	{"caddy", func(t *testing.T) webSocketProxy {
		c := startCaddy(t, caddyCase{config: fmt.Sprintf(webSocketConfig, "caddy")})
		return webSocketProxy{setup: c.setup, scheme: c.scheme, port: c.clientPort, upgradesAll: true, get: func(t *testing.T, host, path string) proxytest.Answer {
			return c.do(t, "GET", host, c.clientPort, path, nil, nil)
		}}
	}},
	{"apache", func(t *testing.T) webSocketProxy {
		setup := proxytest.Compile(t, fmt.Sprintf(webSocketConfig, "apache"))
		setup.Certificates(t)
		a := startApache(t, setup)
		port := a.port(plan.EntrypointClient)
		return webSocketProxy{setup: setup, scheme: a.scheme(), port: port, get: func(t *testing.T, host, path string) proxytest.Answer {
			return a.send(t, "GET", host, port, path, nil, nil)
		}}
	}},
}

// TestWebSocketRouting sends a WebSocket handshake through each real
// webserver to maubot's route, which the route table marks as carrying
// WebSockets, and data through the tunnel both ways.
func TestWebSocketRouting(t *testing.T) {
	for _, proxy := range webSocketProxies {
		t.Run(proxy.name, func(t *testing.T) {
			checkWebSocketRoutes(t, proxy.start(t))
		})
	}
}

func checkWebSocketRoutes(t *testing.T, p webSocketProxy) {
	ws := webSocketRoute(t, p.setup.Plan)
	plain := plainClientRoute(t, p.setup.Plan)
	t.Run("upgrade", func(t *testing.T) { checkWebSocketTunnel(t, p, ws) })
	t.Run("plain-request", func(t *testing.T) {
		// Without an upgrade the WebSocket route is an ordinary one.
		expectStub(t, p.get(t, ws.Host, ws.PathPrefix+"/v1/features"), ws, ws.PathPrefix+"/v1/features")
		expectStub(t, p.get(t, plain.Host, plain.PathPrefix+"/client/versions"), plain, plain.PathPrefix+"/client/versions")
	})
	t.Run("other-route", func(t *testing.T) { checkOtherRoute(t, p, plain) })
}

// webSocketRoute is the one route of p marked as carrying WebSockets:
// maubot's.
func webSocketRoute(t *testing.T, p *plan.Plan) plan.Route {
	t.Helper()
	var found []plan.Route
	for _, r := range p.Routes {
		if r.Settings.WebSocket {
			found = append(found, r)
		}
	}
	if len(found) != 1 || found[0].PathPrefix != "/_matrix/maubot" {
		t.Fatalf("routes carrying WebSockets: %+v; want maubot's alone", found)
	}
	return found[0]
}

// plainClientRoute is Synapse's /_matrix route, which carries no
// WebSockets.
func plainClientRoute(t *testing.T, p *plan.Plan) plan.Route {
	t.Helper()
	for _, r := range p.Routes {
		if r.PathPrefix == "/_matrix" && r.Entrypoint == plan.EntrypointClient {
			if r.Settings.WebSocket {
				t.Fatalf("route %s carries WebSockets", r.Name)
			}
			return r
		}
	}
	t.Fatal("no /_matrix route on the client entrypoint")
	return plan.Route{}
}

func stubName(r plan.Route) string { return fmt.Sprintf("%s:%d", r.Service, r.Port) }

// expectStub: the route's stub answered the plain request for path.
func expectStub(t *testing.T, a proxytest.Answer, r plan.Route, path string) {
	t.Helper()
	switch s := a.Seen; {
	case s == nil:
		t.Errorf("GET %s%s: %d from the proxy, want %s", r.Host, path, a.Status, stubName(r))
	case s.Backend != stubName(r) || s.URI != path || s.Host != r.Host:
		t.Errorf("GET %s%s: %s saw %q for %q; want %s", r.Host, path, s.Backend, s.URI, s.Host, stubName(r))
	}
}

// checkWebSocketTunnel: the handshake reaches maubot's stub with its
// target and hostname, the client gets 101 with the accept key RFC 6455
// computes from its own key, and bytes written afterwards come back
// unchanged, a frame that fits in one packet and one that does not.
func checkWebSocketTunnel(t *testing.T, p webSocketProxy, r plan.Route) {
	path := r.PathPrefix + webSocketLogPath + "?t=%2F1"
	h := proxytest.WebSocket(t, p.scheme, r.Host, p.port, path)
	if !expectUpgraded(t, h, r, path) {
		return
	}
	for _, size := range []int{11, 200 << 10} {
		payload := bytes.Repeat([]byte("log line \x00\xff\r\n"), size/len("log line \x00\xff\r\n")+1)[:size]
		frame := proxytest.ClientFrame(t, payload)
		if got := h.Echo(t, frame); !bytes.Equal(got, frame) {
			t.Errorf("a %d-byte frame came back as %d bytes, %s", len(frame), len(got), firstDifference(frame, got))
		}
	}
}

// expectUpgraded checks a handshake that the route's stub must accept
// through the proxy.
func expectUpgraded(t *testing.T, h *proxytest.Handshake, r plan.Route, path string) bool {
	t.Helper()
	if h.Status != http.StatusSwitchingProtocols {
		from := "the proxy"
		if h.Seen != nil {
			from = h.Seen.Backend + ", which got no upgrade"
		}
		t.Errorf("handshake for %s%s: %d from %s (%.200q); want 101 from %s", r.Host, path, h.Status, from, h.Body, stubName(r))
		return false
	}
	ok := true
	if got, want := h.Header.Get("Sec-WebSocket-Accept"), proxytest.WebSocketAccept(h.Key); got != want {
		t.Errorf("Sec-WebSocket-Accept %q for key %q, want %q", got, h.Key, want)
		ok = false
	}
	if !strings.EqualFold(h.Header.Get("Upgrade"), "websocket") {
		t.Errorf("101 with Upgrade %q, want websocket", h.Header.Get("Upgrade"))
		ok = false
	}
	switch s := h.Seen; {
	case s == nil:
		t.Errorf("101 without %s: not a stub's", proxytest.SeenHeader)
		ok = false
	case s.Backend != stubName(r) || s.URI != path || s.Host != r.Host:
		t.Errorf("handshake reached %s as %q for %q; want %s to see %q for %s", s.Backend, s.URI, s.Host, stubName(r), path, r.Host)
		ok = false
	}
	return ok
}

// checkOtherRoute: a handshake on a route that does not carry WebSockets
// reaches its backend as before. nginx and Apache forward it as a plain
// request (the upgrade is what the route's flag turns on there); Caddy and
// Traefik upgrade on any route.
func checkOtherRoute(t *testing.T, p webSocketProxy, r plan.Route) {
	path := r.PathPrefix + "/client/versions"
	h := proxytest.WebSocket(t, p.scheme, r.Host, p.port, path)
	if p.upgradesAll {
		if expectUpgraded(t, h, r, path) {
			frame := proxytest.ClientFrame(t, []byte("ping"))
			if got := h.Echo(t, frame); !bytes.Equal(got, frame) {
				t.Errorf("the frame came back as %q", got)
			}
		}
		return
	}
	switch s := h.Seen; {
	case h.Status != http.StatusOK || s == nil:
		t.Errorf("handshake for %s%s: %d (%.200q); want the stub's plain answer", r.Host, path, h.Status, h.Body)
	case s.Backend != stubName(r) || s.URI != path:
		t.Errorf("handshake for %s%s reached %s as %q; want %s", r.Host, path, s.Backend, s.URI, stubName(r))
	}
}

func firstDifference(want, got []byte) string {
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			return fmt.Sprintf("first difference at byte %d: %#x, want %#x", i, got[i], want[i])
		}
	}
	return "a prefix of what was sent"
}

// TestStubWebSocket holds the stub to RFC 6455 without a proxy: the
// accept key of the RFC's own example, a real handshake answered with
// 101, the echo, and a handshake without a key refused.
func TestStubWebSocket(t *testing.T) {
	if got := proxytest.WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("accept key of RFC 6455's example: %q", got)
	}
	stub := proxytest.StartStub(t, "ws:1")
	addr, err := net.ResolveTCPAddr("tcp", stub.Addr)
	if err != nil {
		t.Fatal(err)
	}
	port := addr.Port
	r := plan.Route{Service: "ws", Port: 1, Host: "example.org"}
	h := proxytest.WebSocket(t, "http", "example.org", port, "/x/%2F?y")
	if expectUpgraded(t, h, r, "/x/%2F?y") {
		frame := proxytest.ClientFrame(t, bytes.Repeat([]byte{0, 1, 2}, 30000))
		if got := h.Echo(t, frame); !bytes.Equal(got, frame) {
			t.Errorf("echo: %s", firstDifference(frame, got))
		}
	}
	bad := proxytest.Do(t, proxytest.Client(), "GET", "http", "example.org", port, "/x")
	if bad.Seen == nil || bad.Status != http.StatusOK {
		t.Errorf("plain GET: %d %q", bad.Status, bad.Body)
	}
	req, err := http.NewRequest("GET", "http://"+stub.Addr+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	resp, err := proxytest.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("handshake without Sec-WebSocket-Key: %d, want 400", resp.StatusCode)
	}
}

// TestApacheWebSocketPools: httpd takes a balancer's worker parameters
// from its members, so a pool whose routes carry WebSockets has them on
// every BalancerMember, and a strict route, which goes to its pool's first
// server with a plain ProxyPass, on that line. Every pool of a worker
// example is marked here, and a handshake to each must reach one of its
// servers and echo.
func TestApacheWebSocketPools(t *testing.T) {
	apacheBinary(t)
	examples := workerExamples(t)
	if len(examples) == 0 {
		t.Fatal("no example has workers")
	}
	config := editedYAML(t, examples[0], func(doc map[string]any) {
		doc["domain"] = apacheBaseDomain
		section(doc, "reverse_proxy")["type"] = "apache"
	})
	setup := proxytest.Compile(t, config)
	setup.Certificates(t)
	for i := range setup.Plan.Routes {
		if len(setup.Plan.Routes[i].Backends) > 0 {
			setup.Plan.Routes[i].Settings.WebSocket = true
		}
	}
	a := startApache(t, setup)
	rt := newRouteTable(t, setup.Plan)
	probed := map[string]bool{}
	strict := false
	for _, r := range setup.Plan.Routes {
		if len(r.Backends) == 0 || (probed[r.Pool] && !r.Balance.Strict) {
			continue
		}
		probed[r.Pool] = true
		strict = strict || r.Balance.Strict
		target := strings.TrimSuffix(r.PathPrefix, "/") + "/matrixgen-probe"
		if r.PathRegex != "" {
			target = apacheSample(t, r.PathRegex)
		}
		if got, ok := rt.match(target, apacheDecodedPath(t, target)); !ok || got.Name != r.Name {
			t.Fatalf("probe %s for route %s is routed to %s", target, r.Name, got.Name)
		}
		h := proxytest.WebSocket(t, a.scheme(), rt.host, a.port(r.Entrypoint), target)
		servers := map[string]bool{}
		for i, be := range r.Backends {
			servers[fmt.Sprintf("%s:%d", be.Service, be.Port)] = i == 0 || !r.Balance.Strict
		}
		switch {
		case h.Status != http.StatusSwitchingProtocols || h.Seen == nil:
			t.Errorf("route %s (pool %s): handshake for %s got %d (%.200q), want 101 from a server of the pool", r.Name, r.Pool, target, h.Status, h.Body)
			continue
		case !servers[h.Seen.Backend] || h.Seen.URI != target:
			t.Errorf("route %s (pool %s): handshake reached %s as %q", r.Name, r.Pool, h.Seen.Backend, h.Seen.URI)
		case h.Header.Get("Sec-WebSocket-Accept") != proxytest.WebSocketAccept(h.Key):
			t.Errorf("route %s: Sec-WebSocket-Accept %q for key %q", r.Name, h.Header.Get("Sec-WebSocket-Accept"), h.Key)
		}
		frame := proxytest.ClientFrame(t, []byte(r.Name))
		if got := h.Echo(t, frame); !bytes.Equal(got, frame) {
			t.Errorf("route %s: the frame came back as %q", r.Name, got)
		}
	}
	if len(probed) < 2 || !strict {
		t.Errorf("probed pools %v, a strict route among them: %v; the example should have both kinds", probed, strict)
	}
	members := regexp.MustCompile(`(?m)^\s*BalancerMember .*$`).FindAll(a.conf, -1)
	for _, m := range members {
		if !bytes.HasSuffix(m, []byte(" upgrade=websocket timeout=3600")) {
			t.Errorf("%s: without the WebSocket parameters", bytes.TrimSpace(m))
		}
	}
	if len(members) == 0 {
		t.Error("matrix.conf has no BalancerMember")
	}
}

// TestApacheRefusesHalfWebSocketPool: the WebSocket parameters sit on a
// pool's members, so all routes of the pool carry WebSockets or none.
func TestApacheRefusesHalfWebSocketPool(t *testing.T) {
	examples := workerExamples(t)
	if len(examples) == 0 {
		t.Fatal("no example has workers")
	}
	p := compileEdited(t, examples[0], func(doc map[string]any) {
		section(doc, "reverse_proxy")["type"] = "apache"
	})
	count := map[string]int{}
	marked := ""
	for i, r := range p.Routes {
		if len(r.Backends) == 0 || r.Balance.Strict {
			continue
		}
		count[r.Pool]++
		if count[r.Pool] == 2 && marked == "" {
			p.Routes[i].Settings.WebSocket = true
			marked = r.Pool
		}
	}
	if marked == "" {
		t.Fatalf("no pool has two routes: %v", count)
	}
	_, err := render.Render(p)
	if err == nil || !strings.Contains(err.Error(), "pool "+marked+", but only one carries WebSockets") {
		t.Fatalf("render with one of pool %s's routes carrying WebSockets: %v", marked, err)
	}
}
