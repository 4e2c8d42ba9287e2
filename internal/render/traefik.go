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
func traefikDynamic(p *plan.Plan) map[string]any {
	entrypoints := map[string]plan.Entrypoint{}
	for _, e := range p.Entrypoints {
		entrypoints[e.Name] = e
	}
	routers, services, middlewares := map[string]any{}, map[string]any{}, map[string]any{}
	for _, r := range p.Routes {
		ep := entrypoints[r.Entrypoint]
		svcName := fmt.Sprintf("%s-%d", r.Service, r.Port)
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
		for suffix, mw := range routeMiddlewares(r) {
			middlewares[r.Name+"-"+suffix] = mw
			chain = append(chain, r.Name+"-"+suffix)
		}
		if len(chain) > 0 {
			sort.Slice(chain, func(i, j int) bool { return chain[i].(string) < chain[j].(string) })
			router["middlewares"] = chain
		}
		routers[r.Name] = router
		services[svcName] = map[string]any{"loadBalancer": map[string]any{
			"servers":        []any{map[string]any{"url": "http://" + r.Upstream}},
			"passHostHeader": true,
		}}
	}
	http := map[string]any{"routers": routers, "services": services}
	if len(middlewares) > 0 {
		http["middlewares"] = middlewares
	}
	return map[string]any{"http": http}
}

// traefikRule builds the matcher. Hostnames and prefixes come from the
// schema's hostname pattern or from matrixgen itself: neither can hold a
// backtick.
func traefikRule(r plan.Route) string {
	rule := fmt.Sprintf("Host(`%s`)", r.Host)
	if r.PathPrefix != "/" {
		rule += fmt.Sprintf(" && PathPrefix(`%s`)", r.PathPrefix)
	}
	return rule
}

// routeMiddlewares returns the route's middlewares by name suffix; the
// router applies them in name order ("allow" sorts before "headers", so a
// refused client gets no CORS headers).
func routeMiddlewares(r plan.Route) map[string]any {
	out := map[string]any{}
	if len(r.Settings.AllowIPs) > 0 {
		out["allow"] = map[string]any{"ipAllowList": map[string]any{"sourceRange": toAny(r.Settings.AllowIPs)}}
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
		fmt.Fprintf(&b, "# %-4d %-11s %s%s -> %s (%s)\n", r.Priority, r.Entrypoint, r.Host, r.PathPrefix, r.Service, r.Upstream)
	}
	return b.String()
}
