//go:build e2e

package proxytest_test

import (
	"testing"

	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// TestTraefikWebSocket is TestWebSocketRouting with Traefik in front, in
// the bundle's own configuration (its name makes `make e2e-traefik` run
// it). Traefik's dynamic config says nothing about WebSockets: Traefik
// passes an upgrade on every route.
func TestTraefikWebSocket(t *testing.T) {
	bin := traefikBinary(t)
	r := startTraefik(t, bin, proxytest.Compile(t, `domain: example.org
traefik: {acme_email: admin@example.org}
bots:
  maubot:
    type: maubot
`))
	checkWebSocketRoutes(t, webSocketProxy{
		setup: r.setup, scheme: r.scheme, port: r.clientPort, upgradesAll: true,
		get: func(t *testing.T, host, path string) proxytest.Answer {
			return proxytest.Do(t, r.client, "GET", r.scheme, host, r.clientPort, path)
		},
	})
}
