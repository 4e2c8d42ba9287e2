// Package compile turns a validated Config into a Plan. Each component is one
// file that adds its services, routes, files, secrets and databases; the
// facts several components share (paths, the database server, networks) are
// decided once here, so that switching one of them repoints every component.
package compile

import (
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// component adds one part of the deployment to the plan.
type component struct {
	name    string
	enabled func(*config.Config) bool
	add     func(*builder)
}

// components run in this order; a component may read what earlier ones
// added (the reverse proxy reads nothing: routes are rendered later).
var components = []component{
	{"postgres", func(c *config.Config) bool { return c.Postgres.Mode == "bundled" && needsPostgres(c) }, addPostgres},
	{"valkey", hasWorkers, addValkey},
	// Before Synapse, which wants it started first.
	{"matrix-authentication-service", func(c *config.Config) bool { return c.MAS.Enabled }, addMAS},
	{"synapse", isSynapse, addSynapse},
	// Another homeserver program instead (homeserver.implementation).
	{"homeserver", otherHomeserver, addOtherHomeserver},
	{"traefik", func(c *config.Config) bool { return c.ReverseProxy.Type == "traefik" }, addTraefik},
	{"static-files", func(c *config.Config) bool { return c.WellKnown.Server || c.WellKnown.Client }, addStaticFiles},
	{"element", func(c *config.Config) bool { return c.Element.Enabled }, addElement},
	{"exim-relay", func(c *config.Config) bool { return c.Mailer.Enabled }, addMailer},
	{"coturn", func(c *config.Config) bool { return c.Coturn.Enabled }, addCoturn},
	{"rtc", func(c *config.Config) bool { return c.RTC.Enabled }, addRTC},
	{"bridges", hasBridges, addBridges},
	{"bots", hasBots, addBots},
	// After the bridges, whose users it protects.
	{"ketesa", func(c *config.Config) bool { return c.Ketesa.Enabled }, addKetesa},
	// Last: workers read every file and secret the main process does,
	// including those of the components above.
	{"synapse-workers", hasWorkers, addSynapseWorkers},
	{"backup", func(c *config.Config) bool { return c.Backup.Enabled }, addBackup},
	{"postgres-vacuum", func(c *config.Config) bool {
		return c.Maintenance.PostgresVacuum.Enabled && c.Postgres.Mode == "bundled"
	}, addPostgresVacuum},
	// After every component that adds a service: Prometheus scrapes their
	// metrics listeners.
	{"monitoring", func(c *config.Config) bool { return c.Monitoring.Enabled }, addMonitoring},
	// After every component that routes to Synapse's processes.
	{"internal-client-api", internalClientAPI, addInternalClientAPI},
	// After every component that asks for a database.
	{"external-postgres", func(c *config.Config) bool { return c.Postgres.Mode == "external" }, addExternalPostgresNote},
	// After every component that adds a service.
	{"cluster", always, addCluster},
}

func always(*config.Config) bool { return true }

// Compile builds the plan. Problems found here are conflicts between
// components (two files at one path, two routes with one match), reported
// against the config as a whole.
func Compile(cfg *config.Config) (*plan.Plan, diag.List) {
	b := newBuilder(cfg)
	b.setupProxy()
	for _, c := range components {
		if c.enabled(cfg) {
			c.add(b)
		}
	}
	b.finish()
	problems := checkPlan(b.plan)
	problems = append(problems, checkClusterServices(cfg, b.plan)...)
	return b.plan, problems
}

// builder is what components see: the config, and helpers that keep the
// plan consistent.
type builder struct {
	cfg  *config.Config
	plan *plan.Plan
	// external are the databases the operator creates on an external server.
	external []plan.Database
	// appserviceUsers are the patterns of the users the appservices own
	// exclusively, as their registrations give them.
	appserviceUsers []string
}

func newBuilder(cfg *config.Config) *builder {
	h := cfg.Host
	return &builder{cfg: cfg, plan: &plan.Plan{
		Host: plan.Host{
			Domain: cfg.Domain, DataDir: h.DataDir, User: h.User, Group: h.Group,
			UID: h.UID, GID: h.GID, SecretsDir: path.Join(h.DataDir, "secrets"), InstallDocker: h.InstallDocker,
		},
		Networks: []string{h.Networks.Homeserver, h.Networks.Proxy},
		Subnets:  networkSubnets(h.Networks),
	}}
}

// networkSubnets gives each network its addresses. With one name for both
// roles there is one network, which has the homeserver's.
func networkSubnets(n config.Networks) map[string]plan.Subnets {
	subnets := func(role string, a config.NetworkAddress) plan.Subnets {
		s := plan.Subnets{Role: role, IPv4: a.Subnet, Gateway4: a.Gateway}
		if n.IPv6 {
			s.IPv6, s.Gateway6 = a.IPv6Subnet, a.IPv6Gateway
		}
		return s
	}
	return map[string]plan.Subnets{
		n.Proxy:      subnets("proxy", n.Addresses.Proxy),
		n.Homeserver: subnets("homeserver", n.Addresses.Homeserver),
	}
}

// dataPath is a path under the host's data directory.
func (b *builder) dataPath(parts ...string) string {
	return path.Join(append([]string{b.cfg.Host.DataDir}, parts...)...)
}

func (b *builder) service(s plan.Service) {
	if s.Address == "" && !s.HostNetwork {
		s.Address = containerHostname(s.Unit)
	}
	if s.StopTimeout == 0 {
		s.StopTimeout = 30
	}
	b.plan.Services = append(b.plan.Services, s)
}

// containerHostname is the name other containers reach unit by. Unit names
// follow matrix-docker-ansible-deploy, and some carry a Synapse stream name
// with underscores (stream-writer-device_lists-0), which Docker resolves but
// a hostname may not hold: Twisted refuses it (IDNA), so Synapse could not
// reach that worker. Hyphens stand in for them; the unit's container gets
// the name as a network alias.
func containerHostname(unit string) string { return strings.ReplaceAll(unit, "_", "-") }

// validHostname is what every program accepts as a host name: letters,
// digits and hyphens in dot-separated labels, lower case as Docker keeps
// names.
var validHostname = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// checkHost reports a host name a proxy or a program would be given that
// not every program accepts; IP addresses are not names and pass.
func checkHost(out *diag.List, what, host string) {
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil || validHostname.MatchString(host) {
		return
	}
	out.Add(diag.Diagnostic{Summary: fmt.Sprintf("%s: host name %q holds characters other than a-z, 0-9, - and .", what, host)})
}

// dir asks install.sh for a directory owned by the matrix user.
func (b *builder) dir(p string, mode fs.FileMode) {
	b.plan.Dirs = append(b.plan.Dirs, plan.Dir{Path: p, Mode: mode})
}

func (b *builder) file(f plan.File) {
	if f.Mode == 0 {
		f.Mode = 0o644
	}
	if len(f.Secrets) > 0 {
		f.Mode = 0o600 // once filled, it holds a secret
	}
	b.plan.Files = append(b.plan.Files, f)
}

// secret declares a secret; declaring one twice adds readers.
func (b *builder) secret(name, description string, readers ...string) plan.SecretRef {
	for i := range b.plan.Secrets {
		if b.plan.Secrets[i].Name == name {
			b.plan.Secrets[i].Readers = append(b.plan.Secrets[i].Readers, readers...)
			return plan.SecretRef(name)
		}
	}
	b.plan.Secrets = append(b.plan.Secrets, plan.Secret{
		Name: name, Kind: plan.RandomToken, Length: 48, Description: description, Readers: readers,
	})
	return plan.SecretRef(name)
}

// providedSecret declares a secret the operator supplies (a password of an
// outside service); install.sh stops and says where to put it.
func (b *builder) providedSecret(name, description string, readers ...string) plan.SecretRef {
	ref := b.secret(name, description, readers...)
	for i := range b.plan.Secrets {
		if b.plan.Secrets[i].Name == name {
			b.plan.Secrets[i].Kind = plan.Provided
		}
	}
	return ref
}

// secretMount is where a container finds a secret file.
func secretMount(name string) string { return "/run/secrets/" + name }

func (b *builder) secretFileMount(name string) plan.Mount {
	return plan.Mount{Source: path.Join(b.plan.Host.SecretsDir, name), Target: secretMount(name), ReadOnly: true}
}

func (b *builder) route(r plan.Route) {
	if r.StripPrefix && (r.PathRegex != "" || !strings.HasSuffix(r.PathPrefix, "/")) {
		// Every proxy strips a prefix ending in "/" alike; other shapes
		// they would strip differently.
		panic("route " + r.Name + " strips a prefix that does not end in '/'")
	}
	if r.Priority == 0 {
		// Longest prefix first, the order every proxy we render agrees on.
		r.Priority = 100 + len(r.PathPrefix)
	}
	b.plan.Routes = append(b.plan.Routes, r)
}

func (b *builder) health(unit string, timeout int, command ...string) {
	b.plan.Health = append(b.plan.Health, plan.HealthCheck{Unit: unit, Command: command, Timeout: timeout})
}

// finish sorts what order does not matter for, so that output never
// depends on the order components ran in.
func (b *builder) finish() {
	b.dropProxyNetwork()
	b.resolveUpstreams()
	b.publishBothFamilies()
	p := b.plan
	sort.Slice(p.Secrets, func(i, j int) bool { return p.Secrets[i].Name < p.Secrets[j].Name })
	for i := range p.Secrets {
		p.Secrets[i].Readers = sortedUnique(p.Secrets[i].Readers)
	}
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Path < p.Files[j].Path })
	sort.Slice(p.Dirs, func(i, j int) bool { return p.Dirs[i].Path < p.Dirs[j].Path })
	sort.Slice(p.Jobs, func(i, j int) bool { return p.Jobs[i].Unit < p.Jobs[j].Unit })
	sort.SliceStable(p.Routes, func(i, j int) bool {
		if p.Routes[i].Priority != p.Routes[j].Priority {
			return p.Routes[i].Priority > p.Routes[j].Priority
		}
		return p.Routes[i].Name < p.Routes[j].Name
	})
	p.Networks = sortedUnique(p.Networks)
}

func sortedUnique(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	uniq := out[:0]
	for i, v := range out {
		if i == 0 || v != out[i-1] {
			uniq = append(uniq, v)
		}
	}
	return uniq
}

// checkPlan finds conflicts between components: each would be a bug in
// matrixgen or an impossible combination of options.
func checkPlan(p *plan.Plan) diag.List {
	var out diag.List
	seen := map[string]string{}
	claim := func(kind, key, who string) {
		if prev, dup := seen[kind+" "+key]; dup {
			out.Add(diag.Diagnostic{Summary: fmt.Sprintf("%s %s is claimed by both %s and %s", kind, key, prev, who)})
			return
		}
		seen[kind+" "+key] = who
	}
	for _, s := range p.Services {
		claim("unit", s.Unit, s.Unit)
		if s.Address != "" {
			claim("address", s.Address, s.Unit)
			checkHost(&out, s.Unit, s.Address)
		}
		for _, pub := range s.Publish {
			claim("port", fmt.Sprintf("%s:%d/%s", pub.HostAddress, pub.HostPort, pub.Protocol), s.Unit)
		}
	}
	for _, f := range p.Files {
		claim("file", f.Path, fmt.Sprint(f.Restarts))
	}
	for _, r := range p.ServedRoutes() {
		claim("route", r.Where(), r.Name)
		for _, be := range r.Servers() {
			host, _, err := net.SplitHostPort(be.Upstream)
			if err != nil {
				out.Add(diag.Diagnostic{Summary: fmt.Sprintf("route %s: upstream %q: %v", r.Name, be.Upstream, err)})
				continue
			}
			checkHost(&out, "route "+r.Name, host)
		}
	}
	return out
}
