package compile

import (
	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	traefikUnit     = "matrix-traefik"
	certResolver    = "default"
	traefikPingPort = 8082
	// traefikBufferDir is where Traefik's buffering middleware (the upload
	// limit, render/traefik.go) keeps bodies larger than it holds in
	// memory: a host directory, because an upload may be as large as
	// homeserver.max_upload_size_mb (up to 10 GiB) and the container's /tmp
	// is a 64 MiB tmpfs, which is memory. Go puts temporary files in
	// $TMPDIR. Traefik unlinks a request's file as soon as it has opened
	// it and a response's when it has been sent.
	traefikBufferDir = "/buffer"
)

// Traefik's entrypoints cut off a request that has not fully arrived
// respondingTimeouts.readTimeout after it began, headers and body
// together; over HTTP/1.1 Go's server also cancels a request still being
// answered then. Traefik v3's default of 60 s fails a 50 MB upload on any
// uplink slower than about 7 Mbit/s, where nginx, Caddy and Apache only
// give up on a client that stops sending (docs/reverse-proxy.md, Slow
// uploads). Traefik has no timeout between reads, so the deadline is
// long enough for the largest upload Synapse accepts at
// slowUploadBytesPerSecond, and never shorter than it takes an upload of
// readTimeoutFloorMB: the deadline is static configuration, which Traefik
// reads only when it starts, so a deadline that followed every change of
// the upload limit would restart Traefik, and drop every client's
// connection, for a change that Synapse and the dynamic configuration
// take without it. A client trickling its headers can hold a connection
// as long; that costs Traefik a goroutine and a few KiB, not a process
// as it would Apache.
const (
	slowUploadBytesPerSecond = 32 << 10 // 256 kbit/s: a slow ADSL or mobile uplink
	readTimeoutFloorMB       = 1024
	// idleTimeoutSeconds is Traefik's default, pinned: a client keeps its
	// connection open between /sync polls.
	idleTimeoutSeconds = 180
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
	b.dir(b.dataPath("traefik", "buffer"), 0o700)

	listeners := traefikListeners(b)
	b.plan.Proxy = plan.Proxy{Type: "traefik", ConfigDir: configDir + "/dynamic", Unit: traefikUnit, CertResolver: certResolver,
		TooLarge: b.plan.Proxy.TooLarge, PoolRejoinSeconds: poolRejoinSeconds}
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
			udp.Protocol, udp.Origin = "udp", "traefik.http3"
			publish = append(publish, udp)
		}
	}
	b.file(plan.File{Path: b.dataPath(traefikStaticFile), Format: plan.YAML,
		Value: deepMerge(traefikStatic(b, listeners), t.Extra), Restarts: []string{traefikUnit}})
	b.service(plan.Service{
		Unit:        traefikUnit,
		Description: "Traefik reverse proxy",
		Image:       t.Image,
		Command:     []string{"--configFile=/config/traefik.yml"},
		Env:         []plan.EnvVar{{Name: "TMPDIR", Value: traefikBufferDir}},
		Mounts: []plan.Mount{
			{Source: configDir, Target: "/config", ReadOnly: true},
			{Source: b.dataPath("traefik", "ssl"), Target: "/ssl"},
			{Source: b.dataPath("traefik", "buffer"), Target: traefikBufferDir},
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
	tcp := func(addr string, host, container int, origin plan.Origin) plan.Publish {
		return plan.Publish{HostAddress: addr, HostPort: host, ContainerPort: container, Protocol: "tcp", Origin: origin}
	}
	if t.BehindProxy.Enabled {
		setProxyNames(b, map[int]string{t.BehindProxy.Port: "web"})
		return append([]traefikListener{{name: "web", trustForwards: t.BehindProxy.TrustedIPs,
			publish: tcp(b.cfg.ReverseProxy.BindAddress, t.BehindProxy.Port, 8080, "traefik.behind_proxy.port")}}, internalListener(b)...)
	}
	listeners := []traefikListener{
		{name: "web", publish: tcp("", 80, 8081, "")},
		{name: "web-secure", publish: tcp("", 443, 8443, ""), tls: true, http3: t.HTTP3},
	}
	if t.RedirectHTTP {
		// To the published port, not to the entrypoint: Traefik would take
		// the entrypoint's own port (8443, inside the container), where
		// nothing listens on the host. Port 443 leaves the URL without one.
		listeners[0].redirectTo = portAddress(listeners[1].publish.HostPort)
	}
	names := map[int]string{443: "web-secure"}
	if fed := b.cfg.Homeserver.Federation; fed.Enabled && fed.Port != 443 {
		listeners = append(listeners, traefikListener{name: "matrix-federation", publish: tcp("", fed.Port, 8448, "homeserver.federation.port"), tls: true})
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
			ep["forwardedHeaders"] = obj{"trustedIPs": plan.AnyList(l.trustForwards)}
		}
		ep["transport"] = obj{"respondingTimeouts": respondingTimeouts(b.cfg.Homeserver.MaxUploadSizeMB)}
		eps[l.name] = ep
	}
	static := obj{
		"global":      obj{"checkNewVersion": false, "sendAnonymousUsage": false},
		"entryPoints": eps,
		"providers":   obj{"file": obj{"directory": "/config/dynamic", "watch": true}},
		"ping":        obj{"entryPoint": "ping"},
		// journald keeps colour codes as escape sequences.
		"log": obj{"level": "WARN", "noColor": true},
	}
	if b.cfg.Monitoring.Enabled {
		// On the ping entrypoint, which is published nowhere: Prometheus
		// reaches it on the proxy network.
		static["metrics"] = obj{"prometheus": obj{"entryPoint": "ping", "addEntryPointsLabels": true, "addServicesLabels": true}}
	}
	if !t.BehindProxy.Enabled {
		acme := obj{
			"storage":       "/ssl/acme.json",
			"httpChallenge": obj{"entryPoint": "web"},
		}
		if t.ACMEStaging {
			acme["caServer"] = "https://acme-staging-v02.api.letsencrypt.org/directory"
		}
		static["certificatesResolvers"] = obj{certResolver: obj{"acme": acme}}
	}
	return applyMappings(static, traefikStaticFile, b.cfg)
}

// respondingTimeouts lets an upload of maxUploadMB arrive at
// slowUploadBytesPerSecond (see above). writeTimeout runs from the end of
// the request's headers to the end of the answer; it stays off (Traefik's
// default, pinned), as in nginx, Caddy and Apache, which time out only a
// client that stops reading: a long-poll and a large download to a slow
// client take as long as they take.
func respondingTimeouts(maxUploadMB int) obj {
	seconds := (max(readTimeoutFloorMB, maxUploadMB)<<20 + slowUploadBytesPerSecond - 1) / slowUploadBytesPerSecond
	return obj{
		"readTimeout":  itoa(seconds) + "s",
		"writeTimeout": "0s",
		"idleTimeout":  itoa(idleTimeoutSeconds) + "s",
	}
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
