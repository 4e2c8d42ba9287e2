package validate

import (
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

// ketesaRules check where Ketesa is served against the rest of the
// config. They run as one rule of semanticRules, and only when Ketesa is on.
var ketesaRules = []rule{
	ketesaHostnameOrPath,
	ketesaHostnameFree,
	ketesaPathFree,
	ketesaHostPortFree,
}

func ketesaChecks(c *config.Config, ix *index) diag.List {
	if !c.Ketesa.Enabled {
		return nil
	}
	var out diag.List
	for _, r := range ketesaRules {
		out = append(out, r(c, ix)...)
	}
	return out
}

// ketesaHostnameOrPath: with a hostname of its own Ketesa is served at
// that host's root, so a path written beside it would be silently unused.
func ketesaHostnameOrPath(c *config.Config, ix *index) diag.List {
	if _, wrote := ix.nodes["ketesa.path"]; wrote && c.Ketesa.OwnHostname() {
		return problem(ix, "ketesa.path",
			"Ketesa is served at the root of ketesa.hostname %s; remove path, or remove hostname to serve it under path on %s",
			c.Ketesa.Hostname, c.Hostnames.Homeserver)
	}
	return nil
}

// ketesaHostnameFree: Ketesa serves every path of its hostname, so it
// cannot share one with a component that serves paths there too.
func ketesaHostnameFree(c *config.Config, ix *index) diag.List {
	host := c.Ketesa.Hostname
	if host == "" {
		return nil
	}
	taken := []struct {
		host, what string
		used       bool
	}{
		{c.Hostnames.Homeserver, "the homeserver's (hostnames.homeserver); to serve Ketesa there, remove hostname and set path", true},
		{c.Hostnames.Element, "Element's (hostnames.element)", c.Element.Enabled},
		{c.Domain, "the base domain, where /.well-known/matrix is served (well_known.serve_base_domain)", servesBaseDomain(c)},
	}
	for _, t := range taken {
		if t.used && host == t.host {
			return problem(ix, "ketesa.hostname", "Ketesa needs a hostname of its own; %s is %s", host, t.what)
		}
	}
	return nil
}

func servesBaseDomain(c *config.Config) bool {
	w := c.WellKnown
	return w.ServeBaseDomain && (w.Server || w.Client) && c.Domain != c.Hostnames.Homeserver
}

// ketesaPathFree: under a path on the homeserver's hostname Ketesa must
// not share a path with what else is served there. The schema keeps it off
// Synapse's /_matrix and /_synapse and off /.well-known; what remains are
// Synapse's health check and the public paths of bridges and bots.
func ketesaPathFree(c *config.Config, ix *index) diag.List {
	if c.Ketesa.OwnHostname() {
		return nil
	}
	ours := c.Ketesa.Path + "/"
	for _, used := range homeserverPublicPaths(c) {
		theirs := strings.TrimSuffix(used.path, "/") + "/"
		if strings.HasPrefix(ours, theirs) || strings.HasPrefix(theirs, ours) {
			return problem(ix, "ketesa.path", "%s overlaps %s, where %s is served on %s; choose another path",
				c.Ketesa.Path, used.path, used.what, c.Hostnames.Homeserver)
		}
	}
	return nil
}

type publicPath struct{ path, what string }

// homeserverPublicPaths are the paths outside /_matrix, /_synapse and
// /.well-known that the homeserver's hostname serves.
func homeserverPublicPaths(c *config.Config) []publicPath {
	out := []publicPath{{"/health", "Synapse's health check"}}
	if c.RTC.Enabled {
		out = append(out, publicPath{reserved.LiveKitPath, "the LiveKit server (rtc)"},
			publicPath{reserved.JWTServicePath, "the LiveKit JWT service (rtc)"})
	}
	for _, name := range c.Bridges.Enabled() {
		if p := reserved.BridgePublicPath(c.Bridges[name].Type); p != "" {
			out = append(out, publicPath{p, "bridges." + name})
		}
	}
	for _, name := range c.Bots.Enabled() {
		if p := reserved.BotPublicPath(c.Bots[name].Type); p != "" {
			out = append(out, publicPath{p, "bots." + name})
		}
	}
	return out
}

// ketesaHostPortFree: with the operator's own webserver every service
// publishes its port on the bind address, where two cannot share one.
func ketesaHostPortFree(c *config.Config, ix *index) diag.List {
	port := c.Ketesa.HostPort
	if reserved.IsWorkerPort(port) {
		return problem(ix, "ketesa.host_port", "port %d is in %s, where Synapse's workers publish theirs; choose another", port, reserved.WorkerRange())
	}
	taken := reserved.FixedHostPorts()
	for _, e := range bridgesAndBots(c) {
		if e.hostPort != 0 && taken[e.hostPort] == "" {
			taken[e.hostPort] = e.path
		}
	}
	if prev := taken[port]; prev != "" {
		return problem(ix, "ketesa.host_port", "port %d is already published for %s; choose another", port, prev)
	}
	return nil
}
