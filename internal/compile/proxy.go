package compile

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// ownProxy tells whether the operator's webserver, outside Docker, is the
// reverse proxy.
func (b *builder) ownProxy() bool { return b.cfg.ReverseProxy.Type != "traefik" }

// publicEntrypoints decides where each role is served. With TLS terminated
// in front (an outside terminator, or Traefik behind one) everything
// arrives as plain HTTP on one port; otherwise clients use 443 and
// federation its own port, which may be 443 too.
func publicEntrypoints(b *builder) []plan.Entrypoint {
	c := b.cfg
	fedPort := c.Homeserver.Federation.Port
	switch {
	case !b.ownProxy() && c.Traefik.BehindProxy.Enabled:
		port := c.Traefik.BehindProxy.Port
		addr := c.ReverseProxy.BindAddress
		return []plan.Entrypoint{
			{Name: plan.EntrypointClient, HostAddress: addr, HostPort: port},
			{Name: plan.EntrypointFederation, HostAddress: addr, HostPort: port},
		}
	case b.ownProxy() && c.ReverseProxy.TLS.Mode == "terminated":
		return []plan.Entrypoint{
			{Name: plan.EntrypointClient, HostPort: 80},
			{Name: plan.EntrypointFederation, HostPort: 80},
		}
	}
	return []plan.Entrypoint{
		{Name: plan.EntrypointClient, HostPort: 443, TLS: true},
		{Name: plan.EntrypointFederation, HostPort: fedPort, TLS: true},
	}
}

// poolRejoinSeconds: a second is long enough for a proxy not to hammer a
// server that is down, and short enough that a pool's servers can restart
// one after the other without the proxy counting them all out.
const poolRejoinSeconds = 1

func (b *builder) setupProxy() {
	b.plan.Entrypoints = publicEntrypoints(b)
	rp := b.cfg.ReverseProxy
	if b.ownProxy() {
		b.plan.Proxy = plan.Proxy{Type: rp.Type, CertificateDir: rp.TLS.CertificateDir, PoolRejoinSeconds: poolRejoinSeconds}
		if rp.TLS.Mode == "terminated" {
			b.plan.Proxy.TrustedProxies = rp.TLS.TrustedProxies
		}
	}
	b.plan.Proxy.TooLarge.Body = tooLargeBody
}

// tooLargeBody is the proxies' answer to an upload over a route's limit,
// in the shape of Synapse's own: clients show its error text, and read
// the errcode to tell a too large file from a broken connection.
const tooLargeBody = `{"errcode":"M_TOO_LARGE","error":"The upload is larger than this server accepts"}`

// dropProxyNetwork takes the proxy's Docker network away when the proxy is
// the operator's webserver: that reaches the containers through the ports
// they publish on the bind address, and no container is on the network to
// be reached there. A container left with no network of its own (Element,
// the static files) serves only public content and runs on Docker's
// default bridge, where its published port works as on any other.
func (b *builder) dropProxyNetwork() {
	nets := b.cfg.Host.Networks
	if !b.ownProxy() || nets.Proxy == nets.Homeserver {
		return
	}
	isProxy := func(n string) bool { return n == nets.Proxy }
	for i := range b.plan.Services {
		s := &b.plan.Services[i]
		s.Networks = slices.DeleteFunc(slices.Clone(s.Networks), isProxy)
	}
	b.plan.Networks = slices.DeleteFunc(b.plan.Networks, isProxy)
	delete(b.plan.Subnets, nets.Proxy)
}

// resolveUpstreams gives every route the address its proxy connects to.
// For a webserver on the host, the container publishes the port on the
// bind address; inside Docker, Traefik reaches the container by name.
func (b *builder) resolveUpstreams() {
	services := map[string]*plan.Service{}
	for i := range b.plan.Services {
		services[b.plan.Services[i].Unit] = &b.plan.Services[i]
	}
	published := map[string]bool{}
	resolve := func(route string, be *plan.Backend) {
		s := services[be.Service]
		if s == nil {
			panic("route " + route + " to unknown service " + be.Service)
		}
		if !b.ownProxy() {
			be.Upstream = fmt.Sprintf("%s:%d", s.Address, be.Port)
			return
		}
		listen := hostListen(s, be.Port)
		addr := b.cfg.ReverseProxy.BindAddress
		be.Upstream = fmt.Sprintf("%s:%d", hostAddress(addr), listen.HostPort)
		if key := be.Upstream; !published[key] {
			published[key] = true
			s.Publish = append(s.Publish, plan.Publish{HostAddress: addr, HostPort: listen.HostPort, ContainerPort: be.Port, Protocol: "tcp",
				Origin: cmp.Or(listen.Origin, s.Origin)})
		}
	}
	if tl := &b.plan.Proxy.TooLarge; tl.Backend.Service != "" {
		resolve("too-large document", &tl.Backend)
	}
	for i := range b.plan.Routes {
		r := &b.plan.Routes[i]
		first := plan.Backend{Service: r.Service, Port: r.Port}
		resolve(r.Name, &first)
		r.Upstream = first.Upstream
		for j := range r.Backends {
			resolve(r.Name, &r.Backends[j])
		}
	}
}

func hostListen(s *plan.Service, port int) plan.Listen {
	for _, l := range s.Listens {
		if l.Port == port && l.HostPort != 0 {
			return l
		}
	}
	panic(fmt.Sprintf("%s routes to port %d but declares no host port for it", s.Unit, port))
}

// hostAddress brackets IPv6 addresses for use before ":port".
func hostAddress(addr string) string {
	for _, c := range addr {
		if c == ':' {
			return "[" + addr + "]"
		}
	}
	return addr
}
