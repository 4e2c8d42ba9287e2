package validate

import (
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

// monitoringChecks check where Grafana is served against the rest of the
// config, as Ketesa's are checked; only when monitoring is on.
func monitoringChecks(c *config.Config, ix *index) diag.List {
	if !c.Monitoring.Enabled {
		return nil
	}
	g := c.Monitoring.Grafana
	if out := grafanaHostPortFree(c, ix); out != nil {
		return out
	}
	if _, wrote := ix.nodes["monitoring.grafana.path"]; wrote && g.OwnHostname() {
		return problem(ix, "monitoring.grafana.path",
			"Grafana is served at the root of monitoring.grafana.hostname %s; remove path, or remove hostname to serve it under path on %s",
			g.Hostname, c.Hostnames.Homeserver)
	}
	if g.OwnHostname() {
		taken := []struct {
			host, what string
			used       bool
		}{
			{c.Hostnames.Homeserver, "the homeserver's (hostnames.homeserver); to serve Grafana there, remove hostname and set path", true},
			{c.Hostnames.Element, "Element's (hostnames.element)", c.Element.Enabled},
			{c.Ketesa.Hostname, "Ketesa's (ketesa.hostname)", c.Ketesa.Enabled},
			{c.Domain, "the base domain, where /.well-known/matrix is served (well_known.serve_base_domain)", servesBaseDomain(c)},
		}
		for _, t := range taken {
			if t.used && g.Hostname == t.host {
				return problem(ix, "monitoring.grafana.hostname", "Grafana needs a hostname of its own; %s is %s", g.Hostname, t.what)
			}
		}
		return nil
	}
	ours := g.Path + "/"
	used := homeserverPublicPaths(c)
	if c.Ketesa.Enabled && !c.Ketesa.OwnHostname() {
		used = append(used, publicPath{c.Ketesa.Path, "Ketesa (ketesa.path)"})
	}
	for _, u := range used {
		theirs := strings.TrimSuffix(u.path, "/") + "/"
		if strings.HasPrefix(ours, theirs) || strings.HasPrefix(theirs, ours) {
			return problem(ix, "monitoring.grafana.path", "%s overlaps %s, where %s is served on %s; choose another path",
				g.Path, u.path, u.what, c.Hostnames.Homeserver)
		}
	}
	return nil
}

// grafanaHostPortFree: with the operator's own webserver Grafana publishes
// its port on the bind address, beside every other service's.
func grafanaHostPortFree(c *config.Config, ix *index) diag.List {
	port := c.Monitoring.Grafana.HostPort
	if reserved.IsWorkerPort(port) {
		return problem(ix, "monitoring.grafana.host_port", "port %d is in %s, where Synapse's workers publish theirs; choose another", port, reserved.WorkerRange())
	}
	taken := reserved.FixedHostPorts()
	for _, e := range bridgesAndBots(c) {
		if e.hostPort != 0 && taken[e.hostPort] == "" {
			taken[e.hostPort] = e.path
		}
	}
	if c.Ketesa.Enabled && taken[c.Ketesa.HostPort] == "" {
		taken[c.Ketesa.HostPort] = "Ketesa (ketesa.host_port)"
	}
	if prev := taken[port]; prev != "" {
		return problem(ix, "monitoring.grafana.host_port", "port %d is already published for %s; choose another", port, prev)
	}
	return nil
}
