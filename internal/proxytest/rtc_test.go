package proxytest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// rtcConfig turns MatrixRTC on: LiveKit's signalling and the JWT service
// under their paths on the homeserver's hostname.
const rtcConfig = `domain: example.org
traefik: {acme_email: admin@example.org}
reverse_proxy: {type: %s}
rtc: {enabled: true}
`

const (
	rtcHS         = "matrix.example.org"
	rtcLiveKit    = "matrix-livekit-server:7880"
	rtcJWTService = "matrix-livekit-jwt-service:8080"
)

// rtcProxies start each webserver with TLS in front of the stubs of
// rtcConfig.
var rtcProxies = []struct {
	name  string
	start func(t *testing.T) webSocketProxy
}{
	{"nginx", func(t *testing.T) webSocketProxy {
		config := fmt.Sprintf(rtcConfig, "nginx")
		setup := proxytest.Compile(t, config)
		setup.Certificates(t)
		n := startNginx(t, nginxBinary(t), setup, nginxCase{name: "rtc", config: config, tls: true})
		return webSocketProxy{setup: setup, scheme: n.scheme, port: n.clientPort, get: func(t *testing.T, host, path string) proxytest.Answer {
			return proxytest.Do(t, n.client, "GET", n.scheme, host, n.clientPort, path)
		}}
	}},
	{"caddy", func(t *testing.T) webSocketProxy {
		c := startCaddy(t, caddyCase{config: fmt.Sprintf(rtcConfig, "caddy")})
		return webSocketProxy{setup: c.setup, scheme: c.scheme, port: c.clientPort, get: func(t *testing.T, host, path string) proxytest.Answer {
			return c.do(t, "GET", host, c.clientPort, path, nil, nil)
		}}
	}},
	{"apache", func(t *testing.T) webSocketProxy {
		setup := proxytest.Compile(t, fmt.Sprintf(rtcConfig, "apache"))
		setup.Certificates(t)
		a := startApache(t, setup)
		port := a.port(plan.EntrypointClient)
		return webSocketProxy{setup: setup, scheme: a.scheme(), port: port, get: func(t *testing.T, host, path string) proxytest.Answer {
			return a.send(t, "GET", host, port, path, nil, nil)
		}}
	}},
}

// TestRTCRouting sends what a MatrixRTC client sends through each real
// webserver: the token request to the JWT service and the WebSocket that
// carries LiveKit's signalling, each with its prefix stripped.
func TestRTCRouting(t *testing.T) {
	for _, proxy := range rtcProxies {
		t.Run(proxy.name, func(t *testing.T) { checkRTCRoutes(t, proxy.start(t)) })
	}
}

// rtcRequests are requests clients make, with the path each backend must
// see.
var rtcRequests = []struct{ path, backend, target string }{
	{"/livekit-jwt-service/sfu/get", rtcJWTService, "/sfu/get"},
	{"/livekit-jwt-service/get_token", rtcJWTService, "/get_token"},
	{"/livekit-jwt-service/healthz", rtcJWTService, "/healthz"},
	{"/livekit-server/", rtcLiveKit, "/"},
	{"/livekit-server/rtc/validate?access_token=a.b.c", rtcLiveKit, "/rtc/validate?access_token=a.b.c"},
	{"/livekit-server/twirp/livekit.RoomService/CreateRoom", rtcLiveKit, "/twirp/livekit.RoomService/CreateRoom"},
	{"/_matrix/client/v3/rooms/!a%3Aexample.org/state", "matrix-synapse:8008", "/_matrix/client/v3/rooms/!a%3Aexample.org/state"},
	{"/.well-known/matrix/client", "matrix-static-files:8080", "/.well-known/matrix/client"},
}

func checkRTCRoutes(t *testing.T, p webSocketProxy) {
	t.Run("requests", func(t *testing.T) {
		for _, r := range rtcRequests {
			expectKetesaBackend(t, p.get(t, rtcHS, r.path), rtcHS, r.path, r.backend, r.target)
		}
		for _, prefix := range []string{"/livekit-server", "/livekit-jwt-service"} {
			expectSlashRedirect(t, p.get(t, rtcHS, prefix), rtcHS, prefix, prefix+"/", "")
			expectNotKetesa(t, p.get(t, rtcHS, prefix+"x/rtc"), rtcHS, prefix+"x/rtc")
		}
	})
	t.Run("signalling", func(t *testing.T) {
		// The LiveKit client SDK opens <url>/rtc with its token in the
		// query; LiveKit sees /rtc.
		const path = "/livekit-server/rtc?access_token=a.b.c&auto_subscribe=1&sdk=js"
		h := proxytest.WebSocket(t, p.scheme, rtcHS, p.port, path)
		if h.Status != http.StatusSwitchingProtocols {
			t.Fatalf("handshake for %s: %d (%.200q); want 101 from %s", path, h.Status, h.Body, rtcLiveKit)
		}
		if got, want := h.Header.Get("Sec-WebSocket-Accept"), proxytest.WebSocketAccept(h.Key); got != want {
			t.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
		}
		if s := h.Seen; s == nil || s.Backend != rtcLiveKit || s.URI != "/rtc?access_token=a.b.c&auto_subscribe=1&sdk=js" || s.Host != rtcHS {
			t.Fatalf("handshake reached %+v; want %s to see /rtc with the query for %s", s, rtcLiveKit, rtcHS)
		}
		frame := proxytest.ClientFrame(t, bytes.Repeat([]byte("signal\x00"), 4096))
		if got := h.Echo(t, frame); !bytes.Equal(got, frame) {
			t.Errorf("a %d-byte frame came back as %d bytes", len(frame), len(got))
		}
	})
}
