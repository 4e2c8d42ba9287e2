package proxytest_test

import (
	"fmt"
	"testing"

	"github.com/matrixgen/matrixgen/internal/proxytest"
)

const (
	masStub    = "matrix-authentication-service:8080"
	masHS      = "matrix.example.org"
	masOwnHost = "auth.example.org"
)

// masCompat are the client API paths MAS's compatibility layer takes from
// Synapse, whatever the API version, with what follows them.
var masCompat = []string{
	"/_matrix/client/v3/login", "/_matrix/client/r0/login", "/_matrix/client/unstable/login",
	"/_matrix/client/api/v1/login", "/_matrix/client/v3/login/sso/redirect?redirectUrl=https%3A%2F%2Fapp",
	"/_matrix/client/v3/login/sso/redirect/oidc-keycloak", "/_matrix/client/v3/logout",
	"/_matrix/client/v3/logout/all", "/_matrix/client/v3/refresh", "/_matrix/client/r0/refresh",
}

// masNotCompat look like the compatibility layer's paths and are not.
var masNotCompat = []string{
	"/_matrix/client/v3/loginx", "/_matrix/client/v3/logouts", "/_matrix/client/v3/sync",
	"/_matrix/client/v3/register", "/_matrix/client/versions", "/_matrix/client/v3/x/login",
}

// masWorkersConfig turns on workers whose client_reader takes /login in
// Synapse's documentation: MAS's route has to win over it.
const masWorkersConfig = "synapse: {workers: {preset: specialized-workers}}\n"

// TestMASRouting sends requests for MAS's pages and for the compatibility
// layer through each real webserver: MAS under its path (not stripped:
// MAS serves the prefix itself) or on a hostname of its own, and the
// compatibility layer above the workers' routes for the same paths.
func TestMASRouting(t *testing.T) {
	for _, proxy := range ketesaWebservers {
		t.Run(proxy+"/path", func(t *testing.T) {
			checkMASPath(t, startKetesaProxy(t, proxy, fmt.Sprintf("domain: example.org\nreverse_proxy: {type: %s}\n%smas: {enabled: true}\n", proxy, masWorkersConfig), true, nil))
		})
		t.Run(proxy+"/hostname", func(t *testing.T) {
			checkMASHostname(t, startKetesaProxy(t, proxy, fmt.Sprintf("domain: example.org\nreverse_proxy: {type: %s}\nmas: {enabled: true, hostname: %s}\n", proxy, masOwnHost), true, nil))
		})
	}
}

func checkMASPath(t *testing.T, get ketesaGet) {
	t.Helper()
	for _, path := range append([]string{
		"/auth/", "/auth/login", "/auth/.well-known/openid-configuration", "/auth/oauth2/token",
		"/auth/assets/app-Dx3f.js", "/auth/account/?action=sessions_list", "/auth/graphql",
	}, masCompat...) {
		expectKetesaBackend(t, get(t, masHS, path), masHS, path, masStub, path)
	}
	for _, path := range append([]string{"/authx/", "/.well-known/openid-configuration"}, masNotCompat...) {
		expectNotMAS(t, get(t, masHS, path), masHS, path)
	}
}

func checkMASHostname(t *testing.T, get ketesaGet) {
	t.Helper()
	for _, path := range []string{"/", "/login", "/.well-known/openid-configuration", "/oauth2/token", "/assets/app.js"} {
		expectKetesaBackend(t, get(t, masOwnHost, path), masOwnHost, path, masStub, path)
	}
	for _, path := range masCompat {
		expectKetesaBackend(t, get(t, masHS, path), masHS, path, masStub, path)
	}
	for _, path := range append([]string{"/auth/"}, masNotCompat...) {
		expectNotMAS(t, get(t, masHS, path), masHS, path)
	}
}

// expectNotMAS: the request reached another backend, or none.
func expectNotMAS(t *testing.T, a proxytest.Answer, host, path string) {
	t.Helper()
	if a.Seen != nil && a.Seen.Backend == masStub {
		t.Errorf("GET %s%s reached MAS as %q", host, path, a.Seen.URI)
	}
}
