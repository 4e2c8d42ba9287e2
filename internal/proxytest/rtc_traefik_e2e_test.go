//go:build e2e

package proxytest_test

import (
	"fmt"
	"testing"

	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// TestTraefikRTC is TestRTCRouting with Traefik in front, in the bundle's
// own configuration (its name makes `make e2e-traefik` run it).
func TestTraefikRTC(t *testing.T) {
	r := startTraefik(t, traefikBinary(t), proxytest.Compile(t, fmt.Sprintf(rtcConfig, "traefik")))
	checkRTCRoutes(t, webSocketProxy{
		setup: r.setup, scheme: r.scheme, port: r.clientPort,
		get: func(t *testing.T, host, path string) proxytest.Answer {
			return proxytest.Do(t, r.client, "GET", r.scheme, host, r.clientPort, path)
		},
	})
}
