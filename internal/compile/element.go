package compile

import (
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

const (
	elementUnit     = "matrix-client-element"
	elementHostPort = reserved.ElementPort
)

func addElement(b *builder) {
	c := b.cfg
	dir := b.dataPath("client-element")
	b.dir(dir, 0o750)
	b.file(plan.File{Path: b.dataPath(elementConfigFile), Format: plan.JSON, Value: elementConfig(b), Restarts: []string{elementUnit}})
	b.service(plan.Service{
		Unit:        elementUnit,
		Description: "Element Web",
		Image:       c.Element.Image,
		Env:         []plan.EnvVar{{Name: "ELEMENT_WEB_PORT", Value: "8080"}},
		Mounts:      []plan.Mount{{Source: dir + "/config.json", Target: "/app/config.json", ReadOnly: true}},
		// The image's entrypoint writes nginx's config from templates at
		// start, so those directories are tmpfs under a read-only root.
		Tmpfs:    []string{"/tmp", "/var/cache/nginx", "/var/run", "/etc/nginx/conf.d"},
		Networks: []string{c.Host.Networks.Proxy},
		Listens:  []plan.Listen{{Name: "http", Port: 8080, HostPort: elementHostPort}},
	})
	b.route(plan.Route{Name: "element", Host: c.Hostnames.Element, PathPrefix: "/",
		Entrypoint: plan.EntrypointClient, Service: elementUnit, Port: 8080})
	b.probe(plan.Probe{Name: "Element's config.json", Host: c.Hostnames.Element, Entrypoint: plan.EntrypointClient,
		Path: "/config.json", ContentType: "application/json"})
}

func elementConfig(b *builder) obj {
	c := b.cfg
	cfg := applyMappings(obj{
		"disable_custom_urls": false,
		"disable_guests":      true,
		"show_labs_settings":  false,
	}, elementConfigFile, c)
	if c.RTC.Enabled {
		cfg = deepMerge(cfg, rtcElementConfig(b))
	}
	return deepMerge(cfg, c.Element.Extra)
}
