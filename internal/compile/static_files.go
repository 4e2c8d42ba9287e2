package compile

import (
	"maps"
	"slices"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

const (
	staticFilesUnit     = "matrix-static-files"
	staticFilesHostPort = reserved.WellKnownPort
)

// addStaticFiles serves /.well-known/matrix/* from a small static web
// server, on the homeserver's hostname and optionally the base domain.
func addStaticFiles(b *builder) {
	public := b.dataPath("static-files", "public")
	wellKnown := public + "/.well-known/matrix"
	b.dir(b.dataPath("static-files"), 0o750)
	b.dir(public, 0o750)
	b.dir(public+"/.well-known", 0o750)
	b.dir(wellKnown, 0o750)
	for name, doc := range wellKnownDocuments(b) {
		b.file(plan.File{Path: wellKnown + "/" + name, Format: plan.JSON, Value: doc})
	}
	addTooLargeDocument(b, public)
	b.service(plan.Service{
		Unit:        staticFilesUnit,
		Description: "Static files (/.well-known/matrix)",
		Image:       "docker.io/joseluisq/static-web-server:2.38.1",
		Env: []plan.EnvVar{
			{Name: "SERVER_PORT", Value: "8080"},
			{Name: "SERVER_ROOT", Value: "/public"},
			{Name: "SERVER_LOG_LEVEL", Value: "warn"},
			{Name: "SERVER_IGNORE_HIDDEN_FILES", Value: "false"},
			{Name: "SERVER_DIRECTORY_LISTING", Value: "false"},
		},
		Mounts:   []plan.Mount{{Source: public, Target: "/public", ReadOnly: true}},
		Networks: []string{b.cfg.Host.Networks.Proxy},
		Listens:  []plan.Listen{{Name: "http", Port: 8080, HostPort: staticFilesHostPort}},
	})
	hosts := []string{b.cfg.Hostnames.Homeserver}
	if b.cfg.WellKnown.ServeBaseDomain && b.cfg.Domain != b.cfg.Hostnames.Homeserver {
		hosts = append(hosts, b.cfg.Domain)
	}
	for _, host := range hosts {
		for _, name := range slices.Sorted(maps.Keys(wellKnownDocuments(b))) {
			b.probe(plan.Probe{
				Name: "well-known " + name + " on " + host, Host: host, Entrypoint: plan.EntrypointClient,
				Path: "/.well-known/matrix/" + name, ContentType: "application/json", CORS: true,
			})
		}
		b.route(plan.Route{
			Name: "well-known-" + host, Host: host, PathPrefix: "/.well-known/matrix",
			Entrypoint: plan.EntrypointClient, Service: staticFilesUnit, Port: 8080,
			Settings: plan.RouteSettings{
				CORS:    true,
				Headers: []plan.EnvVar{{Name: "Content-Type", Value: "application/json"}},
			},
		})
	}
}

// addTooLargeDocument ships the answer to an upload over the limit as a
// file, for Traefik, which can only answer with another service's page.
// It lies outside /.well-known/matrix, the only path routed here, so
// clients cannot fetch it; static-web-server types it by its extension.
func addTooLargeDocument(b *builder, public string) {
	const dir, name = "/errors", "/too-large.json"
	tl := &b.plan.Proxy.TooLarge
	b.dir(public+dir, 0o750)
	b.file(plan.File{Path: public + dir + name, Content: []byte(tl.Body + "\n")})
	tl.Path = dir + name
	tl.Backend = plan.Backend{Service: staticFilesUnit, Port: 8080}
}

// wellKnownDocuments are the files clients and servers fetch to find the
// homeserver (server and client delegation, MSC1929 support contacts).
func wellKnownDocuments(b *builder) map[string]any {
	c := b.cfg
	docs := map[string]any{}
	if c.WellKnown.Server && c.Homeserver.Federation.Enabled {
		docs["server"] = obj{"m.server": c.Hostnames.Homeserver + ":" + itoa(c.Homeserver.Federation.Port)}
	}
	if c.WellKnown.Client {
		client := obj{"m.homeserver": obj{"base_url": "https://" + c.Hostnames.Homeserver}}
		if c.MAS.Enabled {
			// Clients that predate Synapse's auth_metadata endpoint find
			// MAS here (MSC2965's first form).
			client["org.matrix.msc2965.authentication"] = obj{
				"issuer": masPublicBase(c), "account": masPublicBase(c) + "account",
			}
		}
		if c.RTC.Enabled {
			client["org.matrix.msc4143.rtc_foci"] = rtcFoci(b)
		}
		docs["client"] = deepMerge(client, c.WellKnown.ClientExtra)
	}
	if s := c.WellKnown.Support; s.Page != "" || len(s.Contacts) > 0 {
		support := obj{}
		if s.Page != "" {
			support["support_page"] = s.Page
		}
		var contacts []any
		for _, ct := range s.Contacts {
			entry := obj{"role": ct.Role}
			if ct.MatrixID != "" {
				entry["matrix_id"] = ct.MatrixID
			}
			if ct.EmailAddress != "" {
				entry["email_address"] = ct.EmailAddress
			}
			contacts = append(contacts, entry)
		}
		if len(contacts) > 0 {
			support["contacts"] = contacts
		}
		docs["support"] = support
	}
	return docs
}
