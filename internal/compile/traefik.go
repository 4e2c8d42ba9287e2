package compile

import (
	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	traefikUnit          = "matrix-traefik"
	entrypointHTTP       = "web"
	entrypointHTTPS      = "web-secure"
	entrypointFederation = "matrix-federation"
	certResolver         = "default"
	traefikPingPort      = 8082
)

// federationEntrypoint is where federation routes are served: their own
// port, or the client port when federation_port is 443.
func federationEntrypoint(b *builder) string {
	if b.cfg.Traefik.FederationPort == 443 {
		return entrypointHTTPS
	}
	return entrypointFederation
}

func addTraefik(b *builder) {
	t := b.cfg.Traefik
	configDir := b.dataPath("traefik", "config")
	b.dir(b.dataPath("traefik"), 0o750)
	b.dir(configDir, 0o750)
	b.dir(configDir+"/dynamic", 0o750)
	b.dir(b.dataPath("traefik", "ssl"), 0o700)

	// Traefik listens on unprivileged ports inside the container, so it needs
	// no capability; Docker publishes the public ports onto them.
	entrypoints := []plan.Entrypoint{
		{Name: entrypointHTTP, HostPort: 80, ContainerPort: 8081},
		{Name: entrypointHTTPS, HostPort: 443, ContainerPort: 8443, TLS: true, HTTP3: t.HTTP3},
	}
	if t.RedirectHTTP {
		entrypoints[0].RedirectTo = entrypointHTTPS
	}
	if b.cfg.Synapse.Federation.Enabled && t.FederationPort != 443 {
		entrypoints = append(entrypoints, plan.Entrypoint{Name: entrypointFederation, HostPort: t.FederationPort, ContainerPort: 8448, TLS: true})
	}
	b.plan.Entrypoints = entrypoints
	b.plan.Proxy = plan.Proxy{Type: "traefik", ConfigDir: configDir + "/dynamic", Unit: traefikUnit, CertResolver: certResolver}

	var publish []plan.Publish
	for _, e := range entrypoints {
		publish = append(publish, plan.Publish{HostPort: e.HostPort, ContainerPort: e.ContainerPort, Protocol: "tcp"})
		if e.HTTP3 {
			publish = append(publish, plan.Publish{HostPort: e.HostPort, ContainerPort: e.ContainerPort, Protocol: "udp"})
		}
	}
	b.file(plan.File{Path: configDir + "/traefik.yml", Format: plan.YAML,
		Value: deepMerge(traefikStatic(b, entrypoints), t.Extra), Restarts: []string{traefikUnit}})
	b.service(plan.Service{
		Unit:        traefikUnit,
		Description: "Traefik reverse proxy",
		Image:       t.Image,
		Command:     []string{"--configFile=/config/traefik.yml"},
		Mounts: []plan.Mount{
			{Source: configDir, Target: "/config", ReadOnly: true},
			{Source: b.dataPath("traefik", "ssl"), Target: "/ssl"},
		},
		Tmpfs:    []string{"/tmp"},
		Networks: []string{b.cfg.Host.Networks.Proxy},
		Publish:  publish,
		Listens:  []plan.Listen{{Name: "ping", Port: traefikPingPort}},
	})
	b.health(traefikUnit, 60, "docker", "exec", traefikUnit, "traefik", "healthcheck", "--configFile=/config/traefik.yml")
}

func traefikStatic(b *builder, entrypoints []plan.Entrypoint) obj {
	t := b.cfg.Traefik
	eps := obj{"ping": obj{"address": ":8082"}}
	for _, e := range entrypoints {
		ep := obj{"address": portAddress(e.ContainerPort)}
		if e.RedirectTo != "" {
			ep["http"] = obj{"redirections": obj{"entryPoint": obj{"to": e.RedirectTo, "scheme": "https", "permanent": true}}}
		}
		if e.TLS {
			ep["http"] = obj{"tls": obj{"certResolver": certResolver}}
		}
		if e.HTTP3 {
			ep["http3"] = obj{"advertisedPort": e.HostPort}
		}
		eps[e.Name] = ep
	}
	acme := obj{
		"email":         t.ACMEEmail,
		"storage":       "/ssl/acme.json",
		"httpChallenge": obj{"entryPoint": entrypointHTTP},
	}
	if t.ACMEStaging {
		acme["caServer"] = "https://acme-staging-v02.api.letsencrypt.org/directory"
	}
	return obj{
		"global":                obj{"checkNewVersion": false, "sendAnonymousUsage": false},
		"entryPoints":           eps,
		"providers":             obj{"file": obj{"directory": "/config/dynamic", "watch": true}},
		"certificatesResolvers": obj{certResolver: obj{"acme": acme}},
		"ping":                  obj{"entryPoint": "ping"},
		"log":                   obj{"level": "WARN"},
	}
}

func portAddress(port int) string {
	return ":" + itoa(port)
}
