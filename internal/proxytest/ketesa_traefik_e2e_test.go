//go:build e2e

package proxytest_test

import (
	"fmt"
	"testing"

	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// TestTraefikKetesa is TestKetesaRouting with Traefik in front, in the
// bundle's own configuration (its name makes `make e2e-traefik` run it).
func TestTraefikKetesa(t *testing.T) {
	bin := traefikBinary(t)
	start := func(t *testing.T, config string) ketesaGet {
		r := startTraefik(t, bin, proxytest.Compile(t, config))
		return func(t *testing.T, host, path string) proxytest.Answer {
			return proxytest.Do(t, r.client, "GET", r.scheme, host, r.clientPort, path)
		}
	}
	t.Run("path", func(t *testing.T) {
		checkKetesaPath(t, start(t, fmt.Sprintf(`domain: example.org
traefik: {acme_email: admin@example.org}
ketesa: {enabled: true, path: %s}
`, ketesaPath)))
	})
	t.Run("root route", func(t *testing.T) {
		setup := proxytest.Compile(t, fmt.Sprintf(`domain: example.org
traefik: {acme_email: admin@example.org}
ketesa: {enabled: true, path: %s}
`, ketesaPath))
		addRootRoute(t, setup.Plan)
		r := startTraefik(t, bin, setup)
		get := func(t *testing.T, host, path string) proxytest.Answer {
			return proxytest.Do(t, r.client, "GET", r.scheme, host, r.clientPort, path)
		}
		expectSlashRedirect(t, get(t, ketesaHS, ketesaPath), ketesaHS, ketesaPath, ketesaPath+"/", "")
		expectKetesaBackend(t, get(t, ketesaHS, "/admin/"), ketesaHS, "/admin/", ketesaSynapse, "/admin/")
	})
	t.Run("hostname", func(t *testing.T) {
		checkKetesaHostname(t, start(t, fmt.Sprintf(`domain: example.org
traefik: {acme_email: admin@example.org}
reverse_proxy:
  admin_api: {allow: ["192.0.2.0/24"]}
ketesa: {enabled: true, hostname: %s}
`, ketesaOwnHost)))
	})
}
