//go:build e2e

package proxytest_test

import (
	"fmt"
	"testing"

	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// TestTraefikMAS is TestMASRouting with Traefik in front, in the bundle's
// own configuration (its name makes `make e2e-traefik` run it).
func TestTraefikMAS(t *testing.T) {
	bin := traefikBinary(t)
	start := func(t *testing.T, config string) ketesaGet {
		r := startTraefik(t, bin, proxytest.Compile(t, config))
		return func(t *testing.T, host, path string) proxytest.Answer {
			return proxytest.Do(t, r.client, "GET", r.scheme, host, r.clientPort, path)
		}
	}
	t.Run("path", func(t *testing.T) {
		checkMASPath(t, start(t, "domain: example.org\ntraefik: {acme_email: admin@example.org}\n"+masWorkersConfig+"mas: {enabled: true}\n"))
	})
	t.Run("hostname", func(t *testing.T) {
		checkMASHostname(t, start(t, fmt.Sprintf("domain: example.org\ntraefik: {acme_email: admin@example.org}\nmas: {enabled: true, hostname: %s}\n", masOwnHost)))
	})
}
