package render

import (
	"fmt"
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
		svcName, svc := traefikService(r, p.Proxy.PoolRejoinSeconds)
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
		for _, mw := range routeMiddlewares(r, p.Proxy) {
			middlewares[mw.name] = mw.config
			chain = append(chain, mw.name)
		}
		if len(chain) > 0 {
			router["middlewares"] = chain
		}
		routers[r.Name] = router
		services[svcName] = svc
		if bare, ok := r.BarePrefix(); ok {
			name, redirect, mw := traefikSlashRedirect(r, bare, router)
			routers[name] = redirect
			middlewares[name] = mw
		}
	}
	if name, svc, ok := traefikTooLargeService(p.Proxy.TooLarge); ok && hasBodyLimit(p.Routes) {
		services[name] = svc
	}
	http := map[string]any{"routers": routers, "services": services}
	if len(middlewares) > 0 {
		http["middlewares"] = middlewares
	}
	return map[string]any{"http": http}
}

// traefikService is the route's backend as a Traefik service: one server,
// or a pool's.
func traefikService(r plan.Route, rejoinSeconds int) (string, map[string]any) {
	if len(r.Backends) == 0 {
		return traefikServerService(plan.Backend{Service: r.Service, Port: r.Port, Upstream: r.Upstream})
	}
	var servers []any
	for _, be := range traefikPoolServers(r) {
		servers = append(servers, map[string]any{"url": "http://" + be.Upstream})
	}
	return r.Pool, map[string]any{"loadBalancer": map[string]any{
		"servers":        servers,
		"passHostHeader": true,
		"healthCheck":    traefikPoolHealthCheck(rejoinSeconds),
	}}
}

// traefikPoolServers are the servers Traefik balances a pool's route
// over: all of them, or only the first where the route must keep one
// room on one server and Traefik cannot hash.
func traefikPoolServers(r plan.Route) []plan.Backend {
	if r.Balance.Strict && r.Balance.By != plan.BalanceLeastConn {
		return r.Backends[:1]
	}
	return r.Backends
}

// traefikPoolHealthCheck takes a pool's server out of the rotation when
// its /health fails and puts it back at most rejoinSeconds after it
// answers again: install.sh restarts a pool's servers one at a time and
// waits that long between them, so that Traefik never has them all out.
func traefikPoolHealthCheck(rejoinSeconds int) map[string]any {
	return map[string]any{
		"path":              "/health",
		"interval":          "5s",
		"unhealthyInterval": fmt.Sprintf("%ds", rejoinSeconds),
		"timeout":           "3s",
	}
}

// traefikRetry sends a request that found its server gone (connection
// refused: the server is restarting, and the health check has not seen it
// yet) to the pool's next server. Traefik retries only when the request
// never reached a server, so no request is handled twice. The pauses
// between attempts add up to about a second, the time the health check
// takes to put a restarted server back: a request that arrives just
// after the pool's last server in the rotation stopped waits for it.
func traefikRetry(servers int) map[string]any {
	return map[string]any{"retry": map[string]any{
		"attempts":        servers + 2,
		"initialInterval": "250ms",
	}}
}

// traefikServerService is a service of one server; a route to the same
// backend gets the same name and the same value.
func traefikServerService(be plan.Backend) (string, map[string]any) {
	return fmt.Sprintf("%s-%d", be.Service, be.Port), map[string]any{"loadBalancer": map[string]any{
		"servers":        []any{map[string]any{"url": "http://" + be.Upstream}},
		"passHostHeader": true,
	}}
}

// traefikTooLargeService is the service the too-large middleware fetches
// its answer from; ok is false when the plan has no such document.
func traefikTooLargeService(tl plan.TooLarge) (string, map[string]any, bool) {
	if tl.Path == "" {
		return "", nil, false
	}
	name, svc := traefikServerService(tl.Backend)
	return name, svc, true
}

// traefikRule builds the matcher. Hostnames and prefixes come from the
// schema's hostname pattern or from matrixgen itself: neither can hold a
// backtick, and the path regexes are matrixgen's own.
func traefikRule(r plan.Route) string {
	var path string
	switch m := r.Match(); {
	case m.Regex:
		path = fmt.Sprintf("PathRegexp(`%s`)", m.Value)
	case m.Value != "/" || r.Host == "":
		path = fmt.Sprintf("PathPrefix(`%s`)", m.Value)
	}
	return traefikHostRule(r.Host, path)
}

// traefikHostRule joins a Host matcher, unless host is "" (any), and a
// path matcher, unless path is "" (any).
func traefikHostRule(host, path string) string {
	var matchers []string
	if host != "" {
		matchers = append(matchers, fmt.Sprintf("Host(`%s`)", host))
	}
	if path != "" {
		matchers = append(matchers, path)
	}
	return strings.Join(matchers, " && ")
}

// traefikSlashRedirect is the router, of the same entrypoint, TLS and
// priority as the route's own, that sends the bare prefix of a StripPrefix
// route to the prefix, and its redirectRegex middleware; both are named
// after the route, with -slash. No other route matches the bare path: a
// shorter prefix has a lower priority, and regexes start with "/_".
//
// The router has matched the path already, so the expression matches any
// URL and only carries its query over: a path the router matched in
// another spelling (%61 for a) is redirected too, never passed on. The
// Location is a path, which keeps the scheme and port the browser used,
// also behind a TLS terminator. Permanent: 301, or 308 for other methods
// than GET.
func traefikSlashRedirect(r plan.Route, bare string, route map[string]any) (string, map[string]any, map[string]any) {
	name := r.Name + "-slash"
	router := map[string]any{
		"rule":        traefikHostRule(r.Host, fmt.Sprintf("Path(`%s`)", bare)),
		"entryPoints": route["entryPoints"],
		"service":     route["service"], // never reached: the middleware answers
		"priority":    r.Priority,
		"middlewares": []any{name},
	}
	if tls, ok := route["tls"]; ok {
		router["tls"] = tls
	}
	return name, router, map[string]any{"redirectRegex": map[string]any{
		"regex":       `^[^?]*(\?.*)?$`,
		"replacement": r.PathPrefix + "${1}",
		"permanent":   true,
	}}
}

// traefikMiddleware is one middleware of a router's chain.
type traefikMiddleware struct {
	name   string
	config map[string]any
}

// routeMiddlewares returns the route's middlewares in the order the
// router applies them, outermost first: "allow", so that a refused client
// is refused before it sends its upload and gets no CORS headers; then
// the too-large answer, which must wrap "body" to replace the 413 that
// "body" answers; "body"; "headers"; "strip"; and "retry" last, for pools,
// innermost so that it retries after the body is buffered.
//
// Behind trusted proxies, the allow list must judge the client they name
// in X-Forwarded-For: by default ipAllowList judges the connection's
// address, which is the terminator's, so with a terminator on loopback and
// the default allow list everyone would pass. excludedIPs takes the
// rightmost address that is not a trusted proxy, as nginx's
// real_ip_recursive and Apache's RemoteIPInternalProxy do; where there is
// none (no X-Forwarded-For, or only trusted proxies in it) the request is
// refused, where those two would judge the leftmost address.
func routeMiddlewares(r plan.Route, proxy plan.Proxy) []traefikMiddleware {
	var out []traefikMiddleware
	add := func(suffix string, config map[string]any) {
		out = append(out, traefikMiddleware{r.Name + "-" + suffix, config})
	}
	if len(r.Settings.AllowIPs) > 0 {
		allow := map[string]any{"sourceRange": plan.AnyList(r.Settings.AllowIPs)}
		if len(proxy.TrustedProxies) > 0 {
			allow["ipStrategy"] = map[string]any{"excludedIPs": plan.AnyList(proxy.TrustedProxies)}
		}
		add("allow", map[string]any{"ipAllowList": allow})
	}
	if n := r.Settings.MaxBodyBytes; n > 0 {
		if tooLarge, ok := traefikTooLarge(proxy.TooLarge); ok {
			// One for every route: it holds nothing of the route's own.
			out = append(out, traefikMiddleware{traefikTooLargeName, tooLarge})
		}
		add("body", map[string]any{"buffering": traefikBodyLimit(n)})
	}
	if headers, ok := traefikHeaders(r.Settings); ok {
		add("headers", headers)
	}
	if r.StripPrefix {
		// Without the trailing "/": Traefik keeps the path's leading one.
		add("strip", map[string]any{"stripPrefix": map[string]any{"prefixes": []any{strings.TrimSuffix(r.PathPrefix, "/")}}})
	}
	if len(r.Backends) > 0 {
		if servers := len(traefikPoolServers(r)); servers > 1 {
			// Shared by the pools of one size: it holds nothing else.
			out = append(out, traefikMiddleware{fmt.Sprintf("matrixgen-retry-%d", servers), traefikRetry(servers)})
		}
	}
	return out
}

// traefikTooLargeName names the errors middleware all routes with an
// upload limit share, as matrixgen-retry-N is shared by the pools of N
// servers. Every other middleware is named after its route and ends in
// -allow, -body, -headers, -strip or -slash, so these names are free.
const traefikTooLargeName = "matrixgen-too-large"

// traefikTooLarge replaces the plain-text 413 of the buffering middleware
// with the plan's JSON answer. Traefik cannot answer with a body of its
// own, so the errors middleware fetches the document from the service
// that holds it and sends it with the 413 kept and the document's own
// Content-Type. Without the document, Traefik's own 413 stays. It also
// replaces a 413 from the backend, whose text it cannot tell apart: that
// is Synapse's own M_TOO_LARGE, so only the error text changes.
func traefikTooLarge(tl plan.TooLarge) (map[string]any, bool) {
	service, _, ok := traefikTooLargeService(tl)
	if !ok {
		return nil, false
	}
	return map[string]any{"errors": map[string]any{
		"status":  []any{"413"},
		"service": service,
		"query":   tl.Path,
	}}, true
}

// traefikHeaders sets the route's response headers and CORS policy.
func traefikHeaders(s plan.RouteSettings) (map[string]any, bool) {
	if len(s.Headers) == 0 && !s.CORS {
		return nil, false
	}
	headers := map[string]any{}
	custom := map[string]any{}
	for _, h := range s.Headers {
		custom[h.Name] = h.Value
	}
	if len(custom) > 0 {
		headers["customResponseHeaders"] = custom
	}
	if s.CORS {
		headers["accessControlAllowOriginList"] = []any{"*"}
		headers["accessControlAllowMethods"] = plan.AnyList(corsMethods)
		headers["accessControlAllowHeaders"] = plan.AnyList(corsHeaders)
	}
	return map[string]any{"headers": headers}, true
}

// traefikBufferMemBytes is how much of one request's body, and of one
// response's, Traefik's buffering middleware holds in memory; the rest
// goes to a file in Traefik's buffer directory on the host's disk
// (compile/traefik.go). Every Matrix API request and most answers fit in
// it; media does not. So memory grows by at most 2 MiB per request in
// flight (Traefik's default, pinned), whatever homeserver.max_upload_size_mb
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

// CORSHeaders are the response headers of the CORS policy, for renderers
// of other targets that can only set headers.
func CORSHeaders() []plan.EnvVar {
	return []plan.EnvVar{
		{Name: "Access-Control-Allow-Origin", Value: "*"},
		{Name: "Access-Control-Allow-Methods", Value: strings.Join(corsMethods, ", ")},
		{Name: "Access-Control-Allow-Headers", Value: strings.Join(corsHeaders, ", ")},
	}
}

// routeTable is a readable listing of the routes for the header comment,
// in the webservers' layout; a pool is named with its servers and policy.
func routeTable(p *plan.Plan) string {
	var b strings.Builder
	for _, line := range routeTableLines(p, func(r plan.Route) string {
		return fmt.Sprintf("%s (%d servers, %s)", r.Pool, len(traefikPoolServers(r)), r.Balance.By)
	}) {
		b.WriteString("#" + line + "\n")
	}
	return b.String()
}
