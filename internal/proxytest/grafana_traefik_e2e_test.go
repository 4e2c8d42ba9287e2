//go:build e2e

package proxytest_test

import (
	"fmt"
	"testing"

	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// TestTraefikGrafana is TestGrafanaRouting with Traefik in front, in the
// bundle's own configuration (its name makes `make e2e-traefik` run it).
func TestTraefikGrafana(t *testing.T) {
	bin := traefikBinary(t)
	start := func(t *testing.T, config string) ketesaGet {
		r := startTraefik(t, bin, proxytest.Compile(t, config))
		return func(t *testing.T, host, path string) proxytest.Answer {
			return proxytest.Do(t, r.client, "GET", r.scheme, host, r.clientPort, path)
		}
	}
	t.Run("path", func(t *testing.T) {
		checkGrafanaPath(t, start(t, fmt.Sprintf(`domain: example.org
traefik: {acme_email: admin@example.org}
monitoring: {enabled: true, grafana: {path: %s}}
`, grafanaPath)))
	})
	t.Run("hostname", func(t *testing.T) {
		checkGrafanaHostname(t, start(t, fmt.Sprintf(`domain: example.org
traefik: {acme_email: admin@example.org}
monitoring: {enabled: true, grafana: {hostname: %s}}
`, grafanaOwnHost)))
	})
}
