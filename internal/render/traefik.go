package render

import (
	"fmt"
	"sort"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// traefikDynamic renders the route table as Traefik file-provider config.
// Every router gets an explicit priority: Traefik's default (the rule's
// length) is an order nobody sees in the file.
//
// A pool of backends becomes one service with several servers. Traefik's
// file provider balances by weighted round robin only (its sticky cookie
// does not help API clients, which send no cookies): it cannot hash on
// the access token or the room ID, nor count connections. So pools are
// round robin, and a pool whose routes must keep one room on one server
// (Balance.Strict: pagination) gets only its first server. Servers leave
// a pool while their /health fails.
func traefikDynamic(p *plan.Plan) map[string]any {
	entrypoints := map[string]plan.Entrypoint{}
	for _, e := range p.Entrypoints {
		entrypoints[e.Name] = e
	}
	routers, services, middlewares := map[string]any{}, map[string]any{}, map[string]any{}
	for _, r := range p.Routes {
		ep := entrypoints[r.Entrypoint]
		svcName, svc := traefikService(r)
		router := map[string]any{
			"rule":        traefikRule(r),
			"entryPoints": []any{ep.ProxyName},
			"service":     svcName,
			"priority":    r.Priority,
		}
		if ep.TLS {
			router["tls"] = map[string]any{"certResolver": p.Proxy.CertResolver}
		}
		var chain []any
		for suffix, mw := range routeMiddlewares(r, p.Proxy.TrustedProxies) {
			middlewares[r.Name+"-"+suffix] = mw
			chain = append(chain, r.Name+"-"+suffix)
		}
		if len(chain) > 0 {
			sort.Slice(chain, func(i, j int) bool { return chain[i].(string) < chain[j].(string) })
			router["middlewares"] = chain
		}
		routers[r.Name] = router
		services[svcName] = svc
	}
	http := map[string]any{"routers": routers, "services": services}
	if len(middlewares) > 0 {
		http["middlewares"] = middlewares
	}
	return map[string]any{"http": http}
}

// traefikService is the route's backend as a Traefik service: one server,
// or a pool's.
func traefikService(r plan.Route) (string, map[string]any) {
	if len(r.Backends) == 0 {
		return fmt.Sprintf("%s-%d", r.Service, r.Port), map[string]any{"loadBalancer": map[string]any{
			"servers":        []any{map[string]any{"url": "http://" + r.Upstream}},
			"passHostHeader": true,
		}}
	}
	backends := r.Backends
	if r.Balance.Strict && r.Balance.By != plan.BalanceLeastConn {
		backends = backends[:1]
	}
	var servers []any
	for _, be := range backends {
		servers = append(servers, map[string]any{"url": "http://" + be.Upstream})
	}
	return r.Pool, map[string]any{"loadBalancer": map[string]any{
		"servers":        servers,
		"passHostHeader": true,
		"healthCheck":    map[string]any{"path": "/health", "interval": "10s", "timeout": "3s"},
	}}
}

// traefikRule builds the matcher. Hostnames and prefixes come from the
// schema's hostname pattern or from matrixgen itself: neither can hold a
// backtick, and the path regexes are matrixgen's own.
func traefikRule(r plan.Route) string {
	var matchers []string
	if r.Host != "" {
		matchers = append(matchers, fmt.Sprintf("Host(`%s`)", r.Host))
	}
	switch {
	case r.PathRegex != "":
		matchers = append(matchers, fmt.Sprintf("PathRegexp(`%s`)", r.PathRegex))
	case r.PathPrefix != "/" || r.Host == "":
		matchers = append(matchers, fmt.Sprintf("PathPrefix(`%s`)", r.PathPrefix))
	}
	return strings.Join(matchers, " && ")
}

// routeMiddlewares returns the route's middlewares by name suffix; the
// router applies them in name order ("allow" sorts before "body", so a
// refused client is refused before it sends its upload, and before
// "headers", so it gets no CORS headers; "strip" comes last).
//
// Behind trusted proxies, the allow list must judge the client they name
// in X-Forwarded-For: by default ipAllowList judges the connection's
// address, which is the terminator's, so with a terminator on loopback and
// the default allow list everyone would pass. excludedIPs takes the
// rightmost address that is not a trusted proxy, as nginx's
// real_ip_recursive and Apache's RemoteIPInternalProxy do; where there is
// none (no X-Forwarded-For, or only trusted proxies in it) the request is
// refused, where those two would judge the leftmost address.
func routeMiddlewares(r plan.Route, trustedProxies []string) map[string]any {
	out := map[string]any{}
	if r.StripPrefix {
		// Without the trailing "/": Traefik keeps the path's leading one.
		out["strip"] = map[string]any{"stripPrefix": map[string]any{"prefixes": []any{strings.TrimSuffix(r.PathPrefix, "/")}}}
	}
	if len(r.Settings.AllowIPs) > 0 {
		allow := map[string]any{"sourceRange": toAny(r.Settings.AllowIPs)}
		if len(trustedProxies) > 0 {
			allow["ipStrategy"] = map[string]any{"excludedIPs": toAny(trustedProxies)}
		}
		out["allow"] = map[string]any{"ipAllowList": allow}
	}
	if n := r.Settings.MaxBodyBytes; n > 0 {
		out["body"] = map[string]any{"buffering": traefikBodyLimit(n)}
	}
	if len(r.Settings.Headers) == 0 && !r.Settings.CORS {
		return out
	}
	headers := map[string]any{}
	custom := map[string]any{}
	for _, h := range r.Settings.Headers {
		custom[h.Name] = h.Value
	}
	if len(custom) > 0 {
		headers["customResponseHeaders"] = custom
	}
	if r.Settings.CORS {
		headers["accessControlAllowOriginList"] = []any{"*"}
		headers["accessControlAllowMethods"] = toAny(corsMethods)
		headers["accessControlAllowHeaders"] = toAny(corsHeaders)
	}
	out["headers"] = map[string]any{"headers": headers}
	return out
}

// traefikBufferMemBytes is how much of one request's body, and of one
// response's, Traefik's buffering middleware holds in memory; the rest
// goes to a file in Traefik's buffer directory on the host's disk
// (compile/traefik.go). Every Matrix API request and most answers fit in
// it; media does not. So memory grows by at most 2 MiB per request in
// flight (Traefik's default, pinned), whatever synapse.max_upload_size_mb
// allows, and a file is only written for media.
const traefikBufferMemBytes = 1 << 20

// traefikBodyLimit is the upload limit as Traefik's buffering middleware,
// its only means of one: it reads the whole body before forwarding it,
// and answers 413 to a body over the limit, whether the client declared
// its length or sent it in chunks. It buffers the answer too, which it
// cannot be told not to do; answers have no limit.
func traefikBodyLimit(maxBytes int64) map[string]any {
	return map[string]any{
		"maxRequestBodyBytes":  maxBytes,
		"memRequestBodyBytes":  traefikBufferMemBytes,
		"memResponseBodyBytes": traefikBufferMemBytes,
	}
}

// The CORS policy of the well-known files, the same for every proxy.
var (
	corsMethods = []string{"GET", "HEAD", "OPTIONS"}
	corsHeaders = []string{"X-Requested-With", "Content-Type", "Authorization"}
)

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// routeTable is a readable listing of the routes for the header comment.
func routeTable(p *plan.Plan) string {
	var b strings.Builder
	for _, r := range p.Routes {
		match := r.PathPrefix
		if r.PathRegex != "" {
			match = " ~ " + r.PathRegex
		}
		backend := fmt.Sprintf("%s (%s)", r.Service, r.Upstream)
		if len(r.Backends) > 0 {
			backend = fmt.Sprintf("%s (%d servers, %s)", r.Pool, len(r.Backends), r.Balance.By)
		}
		fmt.Fprintf(&b, "# %-4d %-11s %s%s -> %s\n", r.Priority, r.Entrypoint, r.Host, match, backend)
	}
	return b.String()
}
