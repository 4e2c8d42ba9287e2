package validate

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

// masChecks check MAS against the rest of the config, when MAS is on.
var masChecks = onlyWhen(func(c *config.Config) bool { return c.MAS.Enabled },
	masReplacesSynapseSSO,
	masHostnameOrPath,
	masHostnameFree,
	masPathFree,
	masHostPortFree,
	masProvidersDistinct,
	masProvidersEndpoints,
)

// masReplacesSynapseSSO: Synapse refuses to start with SSO of its own
// while it delegates logins; the providers move to MAS.
func masReplacesSynapseSSO(c *config.Config, ix *index) diag.List {
	if len(c.Synapse.SSO.OIDCProviders) == 0 {
		return nil
	}
	return problem(ix, "synapse.sso.oidc_providers",
		"Synapse delegates logins to MAS (mas.enabled), and refuses SSO of its own beside it: move each provider to mas.upstream_oauth2.providers, with synapse_idp_id: oidc-<idp_id> so that syn2mas keeps its users' links")
}

// masHostnameOrPath: with a hostname of its own MAS is served at its
// root, so a path written beside it would be silently unused.
func masHostnameOrPath(c *config.Config, ix *index) diag.List {
	if _, wrote := ix.nodes["mas.path"]; wrote && c.MAS.OwnHostname() {
		return problem(ix, "mas.path", "MAS is served at the root of mas.hostname %s; remove path, or remove hostname to serve it under path on %s",
			c.MAS.Hostname, c.Hostnames.Homeserver)
	}
	return nil
}

// masHostnameFree: MAS serves every path of its own hostname.
func masHostnameFree(c *config.Config, ix *index) diag.List {
	host := c.MAS.Hostname
	if host == "" {
		return nil
	}
	for _, t := range []struct {
		host, what string
		used       bool
	}{
		{c.Hostnames.Homeserver, "the homeserver's (hostnames.homeserver); to serve MAS there, remove hostname and set path", true},
		{c.Hostnames.Element, "Element's (hostnames.element)", c.Element.Enabled},
		{c.Ketesa.Hostname, "Ketesa's (ketesa.hostname)", c.Ketesa.Enabled},
		{c.Domain, "the base domain, where /.well-known/matrix is served (well_known.serve_base_domain)", servesBaseDomain(c)},
	} {
		if t.used && host == t.host {
			return problem(ix, "mas.hostname", "MAS needs a hostname of its own; %s is %s", host, t.what)
		}
	}
	return nil
}

// masPathFree: under a path on the homeserver's hostname MAS must not
// share a path with what else is served there.
func masPathFree(c *config.Config, ix *index) diag.List {
	if c.MAS.OwnHostname() {
		return nil
	}
	used := homeserverPublicPaths(c)
	if c.Ketesa.Enabled && !c.Ketesa.OwnHostname() {
		used = append(used, publicPath{c.Ketesa.Path, "Ketesa (ketesa.path)"})
	}
	ours := c.MAS.Path + "/"
	for _, u := range used {
		theirs := strings.TrimSuffix(u.path, "/") + "/"
		if strings.HasPrefix(ours, theirs) || strings.HasPrefix(theirs, ours) {
			return problem(ix, "mas.path", "%s overlaps %s, where %s is served on %s; choose another path",
				c.MAS.Path, u.path, u.what, c.Hostnames.Homeserver)
		}
	}
	return nil
}

// masHostPortFree: with the operator's own webserver every service
// publishes its port on the bind address, where two cannot share one.
func masHostPortFree(c *config.Config, ix *index) diag.List {
	port := c.MAS.HostPort
	if reserved.IsWorkerPort(port) {
		return problem(ix, "mas.host_port", "port %d is in %s, where Synapse's workers publish theirs; choose another", port, reserved.WorkerRange())
	}
	taken := reserved.FixedHostPorts()
	if c.Ketesa.Enabled {
		taken[c.Ketesa.HostPort] = "Ketesa (ketesa.host_port)"
	}
	for _, e := range bridgesAndBots(c) {
		if e.hostPort != 0 && taken[e.hostPort] == "" {
			taken[e.hostPort] = e.path
		}
	}
	if prev := taken[port]; prev != "" {
		return problem(ix, "mas.host_port", "port %d is already published for %s; choose another", port, prev)
	}
	return nil
}

// masProvidersDistinct: a provider's name names its secret file and its
// id its users' links in MAS's database; two alike would share them.
func masProvidersDistinct(c *config.Config, ix *index) diag.List {
	var out diag.List
	names, ids := map[string]int{}, map[string]int{}
	for i, p := range c.MAS.UpstreamOAuth2.Providers {
		at := fmt.Sprintf("mas.upstream_oauth2.providers.%d", i)
		if j, dup := names[p.Name]; dup {
			out = append(out, problem(ix, at+".name", "provider %d is named %s too; each needs a name of its own", j, p.Name)...)
		}
		if j, dup := ids[p.ID]; dup {
			out = append(out, problem(ix, at+".id", "provider %d has id %s too; each needs a ULID of its own", j, p.ID)...)
		}
		names[p.Name], ids[p.ID] = i, i
	}
	return out
}

// masProvidersEndpoints: with discovery MAS needs the issuer to find the
// endpoints; without it, the endpoints themselves.
func masProvidersEndpoints(c *config.Config, ix *index) diag.List {
	var out diag.List
	for i, p := range c.MAS.UpstreamOAuth2.Providers {
		at := fmt.Sprintf("mas.upstream_oauth2.providers.%d", i)
		if p.DiscoveryMode != "disabled" {
			if p.Issuer == "" {
				out = append(out, problem(ix, at, "required option issuer is missing: MAS discovers the provider's endpoints from it (or set discovery_mode: disabled and give the endpoints)")...)
			}
			continue
		}
		for _, e := range []struct{ name, value string }{
			{"authorization_endpoint", p.AuthorizationEndpoint}, {"token_endpoint", p.TokenEndpoint}, {"jwks_uri", p.JWKSURI},
		} {
			if e.value == "" {
				out = append(out, problem(ix, at, "required option %s is missing: discovery_mode is disabled, so MAS has no other way to learn it", e.name)...)
			}
		}
	}
	return out
}
