package render

import (
	"path"
	"sort"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// vhost is one server block of a webserver: a hostname on a port, and the
// routes it serves, highest priority (longest prefix) first.
type vhost struct {
	Host     string
	Port     int
	TLS      bool
	CertFile string // with TLS and a certificate directory
	KeyFile  string
	Routes   []plan.Route
}

// vhosts groups the route table the way webservers configure it. Routes of
// two roles that share a port (federation on 443) land in one block.
func vhosts(p *plan.Plan) []vhost {
	entrypoints := map[string]plan.Entrypoint{}
	for _, e := range p.Entrypoints {
		entrypoints[e.Name] = e
	}
	type key struct {
		host string
		port int
	}
	byKey := map[key]*vhost{}
	var keys []key
	for _, r := range p.Routes {
		ep := entrypoints[r.Entrypoint]
		k := key{r.Host, ep.HostPort}
		v := byKey[k]
		if v == nil {
			v = &vhost{Host: r.Host, Port: ep.HostPort, TLS: ep.TLS}
			if ep.TLS && p.Proxy.CertificateDir != "" {
				v.CertFile = path.Join(p.Proxy.CertificateDir, r.Host, "fullchain.pem")
				v.KeyFile = path.Join(p.Proxy.CertificateDir, r.Host, "privkey.pem")
			}
			byKey[k] = v
			keys = append(keys, k)
		}
		v.Routes = append(v.Routes, r)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].port != keys[j].port {
			return keys[i].port < keys[j].port
		}
		return keys[i].host < keys[j].host
	})
	out := make([]vhost, 0, len(keys))
	for _, k := range keys {
		out = append(out, *byKey[k]) // routes keep the plan's priority order
	}
	return out
}
