package validate

import (
	"fmt"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// A rule that spans several options. Each returns the problems it found;
// rules are data so that adding one is one line in semanticRules.
type rule func(c *config.Config, ix *index) diag.List

var semanticRules = []rule{
	openRegistrationNeedsVerification,
	emailNeeds3PIDMailer,
	externalPostgresNeedsHost,
	distinctHostnames,
	coturnRelayRange,
	noPortClashes,
}

func semanticChecks(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, r := range semanticRules {
		out = append(out, r(c, ix)...)
	}
	return out
}

func problem(ix *index, path, format string, args ...any) diag.List {
	return diag.List{{Path: path, Summary: fmt.Sprintf(format, args...), Subject: ix.at(path)}}
}

func openRegistrationNeedsVerification(c *config.Config, ix *index) diag.List {
	r := c.Synapse.Registration
	if r.Mode == "open" && len(r.Require3PID) == 0 && !r.AllowUnverified {
		return problem(ix, "synapse.registration.mode",
			"open registration without verification invites spam bots; set synapse.registration.require_3pid: [email], or allow_unverified: true if you mean it")
	}
	return nil
}

func emailNeeds3PIDMailer(c *config.Config, ix *index) diag.List {
	for i, kind := range c.Synapse.Registration.Require3PID {
		if kind == "email" && !c.Mailer.Enabled {
			return problem(ix, fmt.Sprintf("synapse.registration.require_3pid.%d", i),
				"e-mail verification needs the mailer; set mailer.enabled: true")
		}
	}
	return nil
}

func externalPostgresNeedsHost(c *config.Config, ix *index) diag.List {
	if c.Postgres.Mode == "external" && c.Postgres.External.Host == "" {
		return problem(ix, "postgres.mode", "postgres.external.host is required when postgres.mode is external")
	}
	return nil
}

func distinctHostnames(c *config.Config, ix *index) diag.List {
	if c.Element.Enabled && c.Hostnames.Element == c.Hostnames.Homeserver {
		return problem(ix, "hostnames.element", "Element needs a hostname of its own; %s is the homeserver's", c.Hostnames.Element)
	}
	return nil
}

func coturnRelayRange(c *config.Config, ix *index) diag.List {
	t := c.Coturn
	if t.Enabled && t.RelayMinPort > t.RelayMaxPort {
		return problem(ix, "coturn.relay_min_port", "the relay range is empty: %d is above relay_max_port %d", t.RelayMinPort, t.RelayMaxPort)
	}
	return nil
}

// noPortClashes checks the ports the host publishes: two listeners on one
// port fail at start, late and far from the config line that caused them.
func noPortClashes(c *config.Config, ix *index) diag.List {
	type claim struct{ path, proto string }
	claims := map[string]claim{"80/tcp": {"(HTTP, Traefik)", "tcp"}, "443/tcp": {"(HTTPS, Traefik)", "tcp"}}
	var out diag.List
	take := func(port int, proto, path string) {
		key := fmt.Sprintf("%d/%s", port, proto)
		if prev, taken := claims[key]; taken && prev.path != path {
			out = append(out, problem(ix, path, "port %s is already used by %s", key, prev.path)...)
			return
		}
		claims[key] = claim{path, proto}
	}
	if c.Synapse.Federation.Enabled && c.Traefik.FederationPort != 443 {
		take(c.Traefik.FederationPort, "tcp", "traefik.federation_port")
	}
	if c.Coturn.Enabled {
		take(c.Coturn.Port, "tcp", "coturn.port")
		take(c.Coturn.Port, "udp", "coturn.port")
		if c.Traefik.HTTP3 && c.Coturn.RelayMinPort <= 443 && 443 <= c.Coturn.RelayMaxPort {
			out = append(out, problem(ix, "coturn.relay_min_port", "the relay range includes UDP 443, which HTTP/3 uses")...)
		}
	}
	return out
}
