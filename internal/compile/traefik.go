package compile

import (
	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	traefikUnit     = "matrix-traefik"
	certResolver    = "default"
	traefikPingPort = 8082
)

// traefikListener is one of Traefik's entrypoints. Traefik listens on
// unprivileged ports inside the container, so it needs no capability;
// Docker publishes the public ports onto them.
type traefikListener struct {
	name          string
	publish       plan.Publish
	tls, http3    bool
	redirectTo    string
	trustForwards []string
	internal      bool // for containers on the homeserver network; published nowhere
}

func addTraefik(b *builder) {
	t := b.cfg.Traefik
	configDir := b.dataPath("traefik", "config")
	b.dir(b.dataPath("traefik"), 0o750)
	b.dir(configDir, 0o750)
	b.dir(configDir+"/dynamic", 0o750)
	b.dir(b.dataPath("traefik", "ssl"), 0o700)

	listeners := traefikListeners(b)
	b.plan.Proxy = plan.Proxy{Type: "traefik", ConfigDir: configDir + "/dynamic", Unit: traefikUnit, CertResolver: certResolver}
	if t.BehindProxy.Enabled {
		b.plan.Proxy.TrustedProxies = t.BehindProxy.TrustedIPs
	}
	var publish []plan.Publish
	networks := []string{b.cfg.Host.Networks.Proxy}
	for _, l := range listeners {
		if l.internal {
			networks = append(networks, b.cfg.Host.Networks.Homeserver)
			continue
		}
		publish = append(publish, l.publish)
		if l.http3 {
			udp := l.publish
			udp.Protocol = "udp"
			publish = append(publish, udp)
		}
	}
	b.file(plan.File{Path: configDir + "/traefik.yml", Format: plan.YAML,
		Value: deepMerge(traefikStatic(b, listeners), t.Extra), Restarts: []string{traefikUnit}})
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
		Networks: networks,
		Publish:  publish,
		Listens:  []plan.Listen{{Name: "ping", Port: traefikPingPort}},
	})
	b.health(traefikUnit, 60, "docker", "exec", traefikUnit, "traefik", "healthcheck", "--configFile=/config/traefik.yml")
}

// traefikListeners maps the public entrypoints onto Traefik's own, and
// names each role's listener in the plan for the dynamic config.
func traefikListeners(b *builder) []traefikListener {
	t := b.cfg.Traefik
	tcp := func(addr string, host, container int) plan.Publish {
		return plan.Publish{HostAddress: addr, HostPort: host, ContainerPort: container, Protocol: "tcp"}
	}
	if t.BehindProxy.Enabled {
		setProxyNames(b, map[int]string{t.BehindProxy.Port: "web"})
		return append([]traefikListener{{name: "web", trustForwards: t.BehindProxy.TrustedIPs,
			publish: tcp(b.cfg.ReverseProxy.BindAddress, t.BehindProxy.Port, 8080)}}, internalListener(b)...)
	}
	listeners := []traefikListener{
		{name: "web", publish: tcp("", 80, 8081)},
		{name: "web-secure", publish: tcp("", 443, 8443), tls: true, http3: t.HTTP3},
	}
	if t.RedirectHTTP {
		listeners[0].redirectTo = "web-secure"
	}
	names := map[int]string{443: "web-secure"}
	if fed := b.cfg.Synapse.Federation; fed.Enabled && fed.Port != 443 {
		listeners = append(listeners, traefikListener{name: "matrix-federation", publish: tcp("", fed.Port, 8448), tls: true})
		names[fed.Port] = "matrix-federation"
	}
	setProxyNames(b, names)
	return append(listeners, internalListener(b)...)
}

// internalListener is the internal client API entrypoint
// (internal_api.go), when bridges or bots need it.
func internalListener(b *builder) []traefikListener {
	if !internalClientAPI(b.cfg) {
		return nil
	}
	b.plan.Entrypoints = append(b.plan.Entrypoints, plan.Entrypoint{Name: plan.EntrypointInternal, ProxyName: internalAPIListener, ProxyPort: internalAPIPort})
	return []traefikListener{{name: internalAPIListener, internal: true, publish: plan.Publish{ContainerPort: internalAPIPort}}}
}

func setProxyNames(b *builder, byPort map[int]string) {
	for i := range b.plan.Entrypoints {
		b.plan.Entrypoints[i].ProxyName = byPort[b.plan.Entrypoints[i].HostPort]
	}
}

func traefikStatic(b *builder, listeners []traefikListener) obj {
	t := b.cfg.Traefik
	eps := obj{"ping": obj{"address": portAddress(traefikPingPort)}}
	for _, l := range listeners {
		ep := obj{"address": portAddress(l.publish.ContainerPort)}
		if l.redirectTo != "" {
			ep["http"] = obj{"redirections": obj{"entryPoint": obj{"to": l.redirectTo, "scheme": "https", "permanent": true}}}
		} else {
			ep["http"] = matrixPaths()
		}
		if l.tls {
			ep["http"].(obj)["tls"] = obj{"certResolver": certResolver}
		}
		if l.http3 {
			ep["http3"] = obj{"advertisedPort": l.publish.HostPort}
		}
		if len(l.trustForwards) > 0 {
			ep["forwardedHeaders"] = obj{"trustedIPs": toAnyList(l.trustForwards)}
		}
		eps[l.name] = ep
	}
	static := obj{
		"global":      obj{"checkNewVersion": false, "sendAnonymousUsage": false},
		"entryPoints": eps,
		"providers":   obj{"file": obj{"directory": "/config/dynamic", "watch": true}},
		"ping":        obj{"entryPoint": "ping"},
		"log":         obj{"level": "WARN"},
	}
	if !t.BehindProxy.Enabled {
		acme := obj{
			"email":         t.ACMEEmail,
			"storage":       "/ssl/acme.json",
			"httpChallenge": obj{"entryPoint": "web"},
		}
		if t.ACMEStaging {
			acme["caServer"] = "https://acme-staging-v02.api.letsencrypt.org/directory"
		}
		static["certificatesResolvers"] = obj{certResolver: obj{"acme": acme}}
	}
	return static
}

// matrixPaths keeps what Matrix puts in paths and queries intact: IDs and
// aliases carry encoded "/", "#", "?", "%" and ";" in path segments, and
// Synapse reads ";" in a query literally. Traefik's defaults for encoded
// characters have changed between releases, so they are pinned here.
func matrixPaths() obj {
	return obj{
		"encodeQuerySemicolons": true,
		"encodedCharacters": obj{
			"allowEncodedSlash":        true,
			"allowEncodedHash":         true,
			"allowEncodedQuestionMark": true,
			"allowEncodedPercent":      true,
			"allowEncodedSemicolon":    true,
		},
	}
}

func portAddress(port int) string {
	return ":" + itoa(port)
}
