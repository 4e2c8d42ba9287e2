package validate

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// A rule that spans several options. Each returns the problems it found;
// rules are data so that adding one is one line in semanticRules.
type rule func(c *config.Config, ix *index) diag.List

// onlyWhen is one rule made of the rules of a part of the config, which
// run only while on says the part is in use.
func onlyWhen(on func(*config.Config) bool, rules ...rule) rule {
	return func(c *config.Config, ix *index) diag.List {
		if !on(c) {
			return nil
		}
		var out diag.List
		for _, r := range rules {
			out = append(out, r(c, ix)...)
		}
		return out
	}
}

var semanticRules = []rule{
	openRegistrationNeedsVerification,
	adminAllowListNotEmpty,
	emailNeeds3PIDMailer,
	externalPostgresNeedsHost,
	distinctHostnames,
	derivedHostnamesFit,
	coturnRelayRange,
	traefikNeedsACMEEmail,
	singleWorkers,
	presenceWriterNeedsPresence,
	federationWorkersNeedFederation,
	bridgeChecks,
	botChecks,
	ketesaChecks,
	masChecks,
	rtcChecks,
	monitoringChecks,
	backupRepositoryGiven,
	vacuumNeedsBundledPostgres,
	stateCompressorNeedsSynapse,
	oneTURNServer,
	oidcProviderChecks,
	synapseReadsSecretFiles,
	networkAddresses,
	homeserverChecks,
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
	r := c.Homeserver.Registration
	if r.Mode == "open" && len(r.Require3PID) == 0 && !r.AllowUnverified {
		return problem(ix, "homeserver.registration.mode",
			"open registration without verification invites spam bots; set homeserver.registration.require_3pid: [email], or allow_unverified: true if you mean it")
	}
	return nil
}

// adminAllowListNotEmpty: a proxy given no network to allow writes no
// allow rule, which opens Synapse's admin API to everyone. Whoever wants
// that says so with the networks of everyone.
func adminAllowListNotEmpty(c *config.Config, ix *index) diag.List {
	if len(c.ReverseProxy.AdminAPI.Allow) == 0 {
		return problem(ix, "reverse_proxy.admin_api.allow",
			"an empty allow list would open Synapse's admin API to everyone; name the networks of your administrators, or write [0.0.0.0/0, \"::/0\"] if you mean everyone")
	}
	return nil
}

func emailNeeds3PIDMailer(c *config.Config, ix *index) diag.List {
	for i, kind := range c.Homeserver.Registration.Require3PID {
		if kind == "email" && !c.Mailer.Enabled {
			return problem(ix, fmt.Sprintf("homeserver.registration.require_3pid.%d", i),
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

// derivedHostnamesFit: the schema checks the hostnames a config sets, not
// the defaults it derives from the domain (matrix.<domain>, …), which
// make a name DNS refuses when the domain is already near its 253
// characters.
func derivedHostnamesFit(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, h := range []struct{ option, value string }{
		{"hostnames.homeserver", c.Hostnames.Homeserver},
		{"hostnames.element", c.Hostnames.Element},
	} {
		if _, set := ix.nodes[h.option]; set || len(h.value) <= maxHostname {
			continue
		}
		out = append(out, problem(ix, "domain", "%s defaults to %s.<domain>, %d characters, more than a hostname may have (%d): set %s or choose a shorter domain",
			h.option, strings.SplitN(h.value, ".", 2)[0], len(h.value), maxHostname, h.option)...)
	}
	return out
}

// maxHostname is the longest name DNS resolves, in characters.
const maxHostname = 253

func coturnRelayRange(c *config.Config, ix *index) diag.List {
	t := c.Coturn
	if t.Enabled && t.RelayMinPort > t.RelayMaxPort {
		return problem(ix, "coturn.relay_min_port", "the relay range is empty: %d is above relay_max_port %d", t.RelayMinPort, t.RelayMaxPort)
	}
	return nil
}

// traefikNeedsACMEEmail: Let's Encrypt requires a contact when Traefik
// gets the certificates itself.
func traefikNeedsACMEEmail(c *config.Config, ix *index) diag.List {
	if c.ReverseProxy.Type == "traefik" && !c.Traefik.BehindProxy.Enabled && c.Traefik.ACMEEmail == "" {
		return problem(ix, "traefik.acme_email", "required option is missing: Traefik gets the TLS certificates from Let's Encrypt, which needs a contact address")
	}
	return nil
}
