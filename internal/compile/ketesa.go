package compile

import (
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	ketesaUnit = "matrix-ketesa"
	ketesaPort = 8080
	// ketesaRoot is the image's web root (a link to its user's home), where
	// the app reads config.json beside index.html.
	ketesaRoot = "/var/public"
)

// addKetesa serves Ketesa, a static web app: it runs in the admin's
// browser, which calls Synapse's admin API on the homeserver's hostname
// itself (addSynapseRoutes routes /_synapse/admin while Ketesa is on).
//
// The image's static-web-server writes nothing at run time, so a read-only
// root needs no tmpfs; it runs as the matrix user, reading the app files
// the image left world-readable.
func addKetesa(b *builder) {
	k := b.cfg.Ketesa
	dir := b.dataPath("ketesa")
	configDir := dir + "/config"
	b.dir(dir, 0o750)
	b.dir(configDir, 0o750)
	b.file(plan.File{Path: configDir + "/config.json", Format: plan.JSON, Value: ketesaConfig(b), Restarts: []string{ketesaUnit}})
	b.service(plan.Service{
		Unit:        ketesaUnit,
		Description: "Ketesa, the Synapse admin UI",
		Image:       k.Image,
		// Set here rather than left to the image, whose defaults follow
		// static-web-server's and have moved between its releases.
		Env: []plan.EnvVar{
			{Name: "SERVER_PORT", Value: itoa(ketesaPort)},
			{Name: "SERVER_ROOT", Value: ketesaRoot},
		},
		Mounts:   []plan.Mount{{Source: configDir + "/config.json", Target: ketesaRoot + "/config.json", ReadOnly: true}},
		Networks: []string{b.cfg.Host.Networks.Proxy},
		Listens:  []plan.Listen{{Name: "http", Port: ketesaPort, HostPort: k.HostPort, Origin: "ketesa.host_port"}},
	})
	b.route(ketesaRoute(b.cfg))
}

// ketesaRoute serves Ketesa at the root of its own hostname, or under its
// path on the homeserver's. The app loads its files by relative URLs, so
// under a path it works once the prefix is stripped, from "<path>/" only;
// "<path>" without the slash redirects there, as every route that strips
// its prefix does (plan.Route.StripPrefix).
func ketesaRoute(c *config.Config) plan.Route {
	r := plan.Route{Name: "ketesa", Entrypoint: plan.EntrypointClient, Service: ketesaUnit, Port: ketesaPort}
	if c.Ketesa.OwnHostname() {
		r.Host, r.PathPrefix = c.Ketesa.Hostname, "/"
		return r
	}
	r.Host, r.PathPrefix, r.StripPrefix = c.Hostnames.Homeserver, c.Ketesa.Path+"/", true
	return r
}

// ketesaConfig is Ketesa's config.json: logins only to this homeserver,
// and the users the bridges own protected from edits that would break the
// bridges (deactivation, password resets, …): every user their
// registrations claim exclusively (JavaScript reads these regular
// expressions as Go does).
func ketesaConfig(b *builder) obj {
	var patterns []string
	for _, re := range b.appserviceUsers {
		// Heisenbridge's is unanchored (it reads its prefix back from
		// it); Ketesa matches anywhere in the user ID.
		patterns = append(patterns, "^"+strings.TrimSuffix(strings.TrimPrefix(re, "^"), "$")+"$")
	}
	managed := []any{}
	for _, re := range sortedUnique(patterns) {
		managed = append(managed, re)
	}
	cfg := obj{
		"restrictBaseUrl": "https://" + b.cfg.Hostnames.Homeserver,
		"asManagedUsers":  managed,
	}
	return deepMerge(cfg, b.cfg.Ketesa.Extra)
}
