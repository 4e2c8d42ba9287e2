package proxytest_test

import (
	"fmt"
	"testing"
)

const (
	grafanaStub    = "matrix-grafana:3000"
	grafanaPath    = "/stats/grafana"
	grafanaOwnHost = "stats.example.org"
)

// TestGrafanaRouting sends requests for Grafana through each real
// webserver: under a path of the homeserver's hostname with the prefix
// stripped (Grafana's root_url names the path), on a hostname of its own
// every path; and no metrics endpoint is reachable through the proxy.
func TestGrafanaRouting(t *testing.T) {
	for _, proxy := range ketesaWebservers {
		t.Run(proxy+"/path", func(t *testing.T) {
			checkGrafanaPath(t, startKetesaProxy(t, proxy, fmt.Sprintf(`domain: example.org
reverse_proxy: {type: %s}
monitoring: {enabled: true, grafana: {path: %s}}
`, proxy, grafanaPath), true, nil))
		})
		t.Run(proxy+"/hostname", func(t *testing.T) {
			checkGrafanaHostname(t, startKetesaProxy(t, proxy, fmt.Sprintf(`domain: example.org
reverse_proxy: {type: %s}
monitoring: {enabled: true, grafana: {hostname: %s}}
`, proxy, grafanaOwnHost), true, nil))
		})
	}
}

func checkGrafanaPath(t *testing.T, get ketesaGet) {
	t.Helper()
	for path, stripped := range map[string]string{
		grafanaPath + "/":                      "/",
		grafanaPath + "/login":                 "/login",
		grafanaPath + "/api/health":            "/api/health",
		grafanaPath + "/d/matrixgen-synapse?x": "/d/matrixgen-synapse?x",
	} {
		expectKetesaBackend(t, get(t, ketesaHS, path), ketesaHS, path, grafanaStub, stripped)
	}
	expectSlashRedirect(t, get(t, ketesaHS, grafanaPath), ketesaHS, grafanaPath, grafanaPath+"/", "")
	for _, path := range []string{"/stats/", "/grafana/", "/_synapse/metrics", "/metrics", "/-/ready", "/api/v1/query"} {
		expectNotKetesa(t, get(t, ketesaHS, path), ketesaHS, path)
	}
}

func checkGrafanaHostname(t *testing.T, get ketesaGet) {
	t.Helper()
	for _, path := range []string{"/", "/login", "/api/health", grafanaPath + "/"} {
		expectKetesaBackend(t, get(t, grafanaOwnHost, path), grafanaOwnHost, path, grafanaStub, path)
	}
	expectNotKetesa(t, get(t, ketesaHS, "/grafana/"), ketesaHS, "/grafana/")
	expectNotKetesa(t, get(t, ketesaHS, "/_synapse/metrics"), ketesaHS, "/_synapse/metrics")
}
