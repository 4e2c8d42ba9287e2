package render

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// traefikDynamic renders the route table as Traefik file-provider config.
// Every router gets an explicit priority: Traefik's default (the rule's
// length) is an order nobody sees in the file.
func traefikDynamic(p *plan.Plan) map[string]any {
	tls := map[string]bool{}
	for _, e := range p.Entrypoints {
		tls[e.Name] = e.TLS
	}
	routers, services, middlewares := map[string]any{}, map[string]any{}, map[string]any{}
	for _, r := range p.Routes {
		svcName := fmt.Sprintf("%s-%d", r.Service, r.Port)
		router := map[string]any{
			"rule":        traefikRule(r),
			"entryPoints": []any{r.Entrypoint},
			"service":     svcName,
			"priority":    r.Priority,
		}
		if tls[r.Entrypoint] {
			router["tls"] = map[string]any{"certResolver": p.Proxy.CertResolver}
		}
		if mw := routeMiddleware(r); mw != nil {
			name := r.Name + "-headers"
			middlewares[name] = mw
			router["middlewares"] = []any{name}
		}
		routers[r.Name] = router
		services[svcName] = map[string]any{"loadBalancer": map[string]any{
			"servers":        []any{map[string]any{"url": fmt.Sprintf("http://%s:%d", serviceAddress(p, r.Service), r.Port)}},
			"passHostHeader": true,
		}}
	}
	http := map[string]any{"routers": routers, "services": services}
	if len(middlewares) > 0 {
		http["middlewares"] = middlewares
	}
	return map[string]any{"http": http}
}

func serviceAddress(p *plan.Plan, unit string) string {
	for _, s := range p.Services {
		if s.Unit == unit {
			return s.Address
		}
	}
	panic("route to unknown service " + unit) // compile checks every route's backend
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

func routeMiddleware(r plan.Route) map[string]any {
	if len(r.Settings.Headers) == 0 && !r.Settings.CORS {
		return nil
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
		headers["accessControlAllowMethods"] = []any{"GET", "HEAD", "OPTIONS"}
		headers["accessControlAllowHeaders"] = []any{"X-Requested-With", "Content-Type", "Authorization"}
	}
	return map[string]any{"headers": headers}
}

// routeTable is a readable listing of the routes for the header comment.
func routeTable(p *plan.Plan) string {
	var b strings.Builder
	for _, r := range p.Routes {
		fmt.Fprintf(&b, "# %-4d %-18s %s%s -> %s:%d\n", r.Priority, r.Entrypoint, r.Host, r.PathPrefix, r.Service, r.Port)
	}
	return b.String()
}
