package compile

import (
	"regexp"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// matrixProbes are the requests of the Matrix APIs every homeserver
// answers without a login, each on the entrypoint its API is served on:
// what a client asks first, and what another server asks first.
var matrixProbes = []plan.Probe{
	{Name: "client API versions", Entrypoint: plan.EntrypointClient, Path: "/_matrix/client/versions", ContentType: "application/json", Contains: `"versions"`},
	{Name: "federation API version", Entrypoint: plan.EntrypointFederation, Path: "/_matrix/federation/v1/version", ContentType: "application/json", Contains: `"server"`},
}

// addMatrixProbes has the self-check ask the homeserver's hostname for
// each Matrix API the route table serves there. It reads the routes
// rather than the options, so that an API without a public route
// (federation off) is not asked for.
func addMatrixProbes(b *builder) {
	host := b.cfg.Hostnames.Homeserver
	for _, p := range matrixProbes {
		if routed(b.plan.Routes, host, p.Entrypoint, p.Path) {
			p.Host = host
			p.Name += " on " + host
			b.probe(p)
		}
	}
}

// routed tells whether a route of host on entrypoint takes path.
func routed(routes []plan.Route, host, entrypoint, path string) bool {
	for _, r := range routes {
		if r.Host != host || r.Entrypoint != entrypoint {
			continue
		}
		if m := r.Match(); m.Regex {
			if re, err := regexp.Compile(m.Value); err == nil && re.MatchString(path) {
				return true
			}
		} else if strings.HasPrefix(path, m.Value) {
			return true
		}
	}
	return false
}
