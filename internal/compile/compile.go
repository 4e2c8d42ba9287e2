// Package compile turns a validated Config into a Plan. Each component is one
// file that adds its services, routes, files, secrets and databases; the
// facts several components share (paths, the database server, networks) are
// decided once here, so that switching one of them repoints every component.
package compile

import (
	"cmp"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// component adds one part of the deployment to the plan. What it adds
// carries origin, the config section it comes from, unless the component
// names a closer option itself.
type component struct {
	name    string
	origin  plan.Origin
	enabled func(*config.Config) bool
	add     func(*builder)
}

// components run in this order; a component may read what earlier ones
// added (the reverse proxy reads nothing: routes are rendered later).
var components = []component{
	{"postgres", "postgres", func(c *config.Config) bool { return c.Postgres.Mode == "bundled" && needsPostgres(c) }, addPostgres},
	{"valkey", "valkey", hasWorkers, addValkey},
	// Before Synapse, which wants it started first.
	{"matrix-authentication-service", "mas", func(c *config.Config) bool { return c.MAS.Enabled }, addMAS},
	{"synapse", "synapse", isSynapse, addSynapse},
	// Another homeserver program instead (homeserver.implementation).
	{"homeserver", "homeserver.implementation", otherHomeserver, addOtherHomeserver},
	{"traefik", "traefik", func(c *config.Config) bool { return c.ReverseProxy.Type == "traefik" }, addTraefik},
	{"static-files", "well_known", func(c *config.Config) bool { return c.WellKnown.Server || c.WellKnown.Client }, addStaticFiles},
	{"element", "element", func(c *config.Config) bool { return c.Element.Enabled }, addElement},
	{"exim-relay", "mailer", func(c *config.Config) bool { return c.Mailer.Enabled }, addMailer},
	{"coturn", "coturn", func(c *config.Config) bool { return c.Coturn.Enabled }, addCoturn},
	{"rtc", "rtc", func(c *config.Config) bool { return c.RTC.Enabled }, addRTC},
	// Each entry's parts carry bridges.<name> (bots.<name>).
	{"bridges", "bridges", hasBridges, addBridges},
	{"bots", "bots", hasBots, addBots},
	// After the bridges, whose users it protects.
	{"ketesa", "ketesa", func(c *config.Config) bool { return c.Ketesa.Enabled }, addKetesa},
	// Last: workers read every file and secret the main process does,
	// including those of the components above.
	{"synapse-workers", "synapse.workers", hasWorkers, addSynapseWorkers},
	{"backup", "backup", func(c *config.Config) bool { return c.Backup.Enabled }, addBackup},
	{"postgres-vacuum", "maintenance.postgres_vacuum", func(c *config.Config) bool {
		return c.Maintenance.PostgresVacuum.Enabled && c.Postgres.Mode == "bundled"
	}, addPostgresVacuum},
	{"state-compressor", "maintenance.state_compressor", func(c *config.Config) bool {
		return c.Maintenance.StateCompressor.Enabled && c.IsSynapse()
	}, addStateCompressor},
	// After every component that adds a service: Prometheus scrapes their
	// metrics listeners.
	{"monitoring", "monitoring", func(c *config.Config) bool { return c.Monitoring.Enabled }, addMonitoring},
	// After every component that routes to Synapse's processes.
	{"internal-client-api", "reverse_proxy.type", internalClientAPI, addInternalClientAPI},
	// After every component that asks for a database.
	{"external-postgres", "postgres", func(c *config.Config) bool { return c.Postgres.Mode == "external" }, addExternalPostgresNote},
	// After every component that adds a service.
	{"cluster", "kubernetes", always, addCluster},
	// After every component that adds a route.
	{"self-check", "hostnames.homeserver", always, addMatrixProbes},
}

func always(*config.Config) bool { return true }

// Compile builds the plan. Problems found here are conflicts between
// components (two files at one path, two routes with one match), reported
// against the config as a whole.
func Compile(cfg *config.Config) (*plan.Plan, diag.List) {
	b := newBuilder(cfg)
	b.origin = "reverse_proxy"
	b.setupProxy()
	for _, c := range components {
		if c.enabled(cfg) {
			b.origin = c.origin
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
	// origin is the config path of the component adding to the plan now,
	// the Origin of what it adds without naming one.
	origin plan.Origin
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
	s.Origin = b.originOr(s.Origin)
	for _, ports := range [][]plan.Publish{s.Publish, s.HostBinds} {
		for i := range ports {
			ports[i].Origin = cmp.Or(ports[i].Origin, s.Origin)
		}
	}
	b.plan.Services = append(b.plan.Services, s)
}

// originOr is o, or the current component's origin when o is empty.
func (b *builder) originOr(o plan.Origin) plan.Origin { return cmp.Or(o, b.origin) }

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
func checkHost(out *diag.List, origin plan.Origin, what, host string) {
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil || validHostname.MatchString(host) {
		return
	}
	out.Add(diag.Diagnostic{Path: string(origin), Summary: fmt.Sprintf("%s: host name %q holds characters other than a-z, 0-9, - and .", what, host)})
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
	f.Origin = b.originOr(f.Origin)
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
		Name: name, Kind: plan.RandomToken, Length: 48, Description: description, Readers: readers, Origin: b.origin,
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
	r.Origin = b.originOr(r.Origin)
	b.plan.Routes = append(b.plan.Routes, r)
}

func (b *builder) probe(p plan.Probe) { b.plan.Probes = append(b.plan.Probes, p) }

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
	// Stable: of two files at one path, checkPlan reports the later.
	sort.SliceStable(p.Files, func(i, j int) bool { return p.Files[i].Path < p.Files[j].Path })
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

// checkPlan finds what two parts of the plan claim at once (a unit, a
// container address, a host port, a file, a route) and names that no
// program accepts. Every part carries its origin, so a conflict is
// reported at the later part's option, which the pipeline places in the
// user's file, and names the earlier part's.
func checkPlan(p *plan.Plan) diag.List {
	var out diag.List
	seen := map[string]claimant{}
	claim := func(kind, key string, who claimant) {
		if prev, dup := seen[kind+" "+key]; dup {
			out.Add(diag.Diagnostic{Path: string(who.origin),
				Summary: fmt.Sprintf("%s %s is claimed by both %s and %s", kind, key, prev, who)})
			return
		}
		seen[kind+" "+key] = who
	}
	var ports []portClaim
	for _, s := range p.Services {
		claim("unit", s.Unit, claimant{s.Unit, s.Origin})
		if s.Address != "" {
			claim("address", s.Address, claimant{s.Unit, s.Origin})
			checkHost(&out, s.Origin, s.Unit, s.Address)
		}
		for _, pubs := range [][]plan.Publish{s.Publish, s.HostBinds} {
			for _, pub := range pubs {
				ports = append(ports, portClaim{pub, claimant{s.Unit, pub.Origin}})
			}
		}
	}
	out = append(out, portConflicts(ports)...)
	for _, f := range p.Files {
		claim("file", f.Path, claimant{fmt.Sprint(f.Restarts), f.Origin})
	}
	for _, r := range p.ServedRoutes() {
		claim("route", r.Where(), claimant{r.Name, r.Origin})
		for _, be := range r.Servers() {
			host, _, err := net.SplitHostPort(be.Upstream)
			if err != nil {
				out.Add(diag.Diagnostic{Path: string(r.Origin), Summary: fmt.Sprintf("route %s: upstream %q: %v", r.Name, be.Upstream, err)})
				continue
			}
			checkHost(&out, r.Origin, "route "+r.Name, host)
		}
	}
	return out
}

// claimant is what claims a name, a port or a path in the plan, and the
// option it came from.
type claimant struct {
	what   string
	origin plan.Origin
}

func (c claimant) String() string {
	if c.origin == "" {
		return c.what
	}
	return fmt.Sprintf("%s (%s)", c.what, c.origin)
}

type portClaim struct {
	plan.Publish
	by claimant
}

func (c portClaim) last() int { return max(c.HostPort, c.LastHostPort) }

func (c portClaim) String() string {
	if c.LastHostPort > c.HostPort {
		return fmt.Sprintf("%d-%d/%s", c.HostPort, c.LastHostPort, c.Protocol)
	}
	return fmt.Sprintf("%d/%s", c.HostPort, c.Protocol)
}

// portConflicts reports each host port claim that overlaps an earlier
// one: the same protocol, ports in common and an address in common. The
// same service publishing a port on one address twice is one claim.
// Single ports are looked up by number; only the few ranges (coturn's
// relay ports) are held against every earlier claim.
func portConflicts(claims []portClaim) diag.List {
	type port struct {
		protocol string
		number   int
	}
	var out diag.List
	byPort := map[port][]portClaim{}
	var ranges []portClaim
	for i, c := range claims {
		key := port{c.Protocol, c.HostPort}
		isRange := c.LastHostPort > c.HostPort
		earlier := claims[:i]
		if !isRange {
			earlier = slices.Concat(byPort[key], ranges)
		}
		if prev, found := firstOverlap(earlier, c); found {
			out.Add(diag.Diagnostic{Path: string(c.by.origin),
				Summary: fmt.Sprintf("port %s is taken already by %s", c, prev.by)})
		}
		if isRange {
			ranges = append(ranges, c)
		} else {
			byPort[key] = append(byPort[key], c)
		}
	}
	return out
}

// firstOverlap finds the first of earlier that c overlaps, repetitions
// of c itself aside.
func firstOverlap(earlier []portClaim, c portClaim) (portClaim, bool) {
	for _, prev := range earlier {
		if prev != c && prev.Protocol == c.Protocol && prev.HostPort <= c.last() && c.HostPort <= prev.last() &&
			sharedAddress(prev.HostAddress, c.HostAddress) {
			return prev, true
		}
	}
	return portClaim{}, false
}

// sharedAddress tells whether listening on a and on b takes a port on
// one address twice: "" is every address of both families, and a
// family's wildcard is every address of that family.
func sharedAddress(a, b string) bool {
	family := func(addr string) string {
		if strings.Contains(addr, ":") {
			return "6"
		}
		return "4"
	}
	wildcard := map[string]bool{"0.0.0.0": true, "::": true}
	switch {
	case a == b || a == "" || b == "":
		return true
	case family(a) != family(b):
		return false
	}
	return wildcard[a] || wildcard[b]
}
