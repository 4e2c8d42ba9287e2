package kubernetes

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/render"
)

// gatewayName is the Gateway every HTTPRoute attaches to.
const gatewayName = "matrix"

// maxRules is the Gateway API's limit of rules in one HTTPRoute; a host's
// routes are spread over as many HTTPRoutes as they need.
const maxRules = 16

func addRoutes(o *output) error {
	groups, err := routeGroups(o.p)
	if err != nil {
		return err
	}
	if o.p.Cluster.Routes == plan.ClusterIngress {
		return addIngresses(o, groups)
	}
	if err := addGateway(o, groups); err != nil {
		return err
	}
	for _, g := range groups {
		rules := httpRules(g.routes)
		for i := 0; i < len(rules); i += maxRules {
			name := fmt.Sprintf("%s-%02d", objectName(g.entrypoint.Name, g.host), i/maxRules)
			if err := o.add("HTTPRoute", name, "httproutes", httpRoute(o, name, g, listenerName(o.p, groups, g.entrypoint), rules[i:min(i+maxRules, len(rules))])); err != nil {
				return err
			}
		}
	}
	return nil
}

// httpRules are the rules of routes, in their order.
func httpRules(routes []plan.Route) []gatewayv1.HTTPRouteRule {
	var rules []gatewayv1.HTTPRouteRule
	for _, r := range routes {
		rules = append(rules, httpRule(r))
		if bare, ok := r.BarePrefix(); ok {
			rules = append(rules, bareRedirect(r, bare))
		}
	}
	return rules
}

// routeGroup is the routes of one hostname on one entrypoint, in the
// plan's order: highest priority first.
type routeGroup struct {
	entrypoint plan.Entrypoint
	host       string
	routes     []plan.Route
}

func routeGroups(p *plan.Plan) ([]routeGroup, error) {
	entrypoints := map[string]plan.Entrypoint{}
	for _, e := range p.Entrypoints {
		entrypoints[e.Name] = e
	}
	var groups []routeGroup
	index := map[string]int{}
	for _, r := range p.Routes {
		if r.Entrypoint == plan.EntrypointInternal {
			continue // addInternalAPI's
		}
		ep, ok := entrypoints[r.Entrypoint]
		if !ok {
			return nil, fmt.Errorf("route %s: no entrypoint %q", r.Name, r.Entrypoint)
		}
		key := r.Entrypoint + " " + r.Host
		i, seen := index[key]
		if !seen {
			i = len(groups)
			index[key] = i
			groups = append(groups, routeGroup{entrypoint: ep, host: r.Host})
		}
		groups[i].routes = append(groups[i].routes, r)
	}
	return groups, nil
}

// addGateway declares one HTTPS listener for each entrypoint that has
// routes, on the port the host bundle publishes it on.
func addGateway(o *output, groups []routeGroup) error {
	gw := gatewayv1.Gateway{
		TypeMeta:   typeMeta("gateway.networking.k8s.io/v1", "Gateway"),
		ObjectMeta: o.meta(gatewayName, nil),
		Spec:       gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(o.p.Cluster.GatewayClass)},
	}
	for _, ep := range o.p.Entrypoints {
		// Entrypoints on one port (federation on 443) share its listener:
		// a Gateway refuses two listeners of one port and protocol.
		if !hasRoutes(groups, ep) || listenerName(o.p, groups, ep) != ep.Name {
			continue
		}
		protocol := gatewayv1.HTTPProtocolType
		var tls *gatewayv1.ListenerTLSConfig
		if ep.TLS {
			terminate := gatewayv1.TLSModeTerminate
			protocol = gatewayv1.HTTPSProtocolType
			tls = &gatewayv1.ListenerTLSConfig{Mode: &terminate, CertificateRefs: []gatewayv1.SecretObjectReference{{Name: gatewayv1.ObjectName(o.p.Cluster.TLSSecret)}}}
		}
		gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{
			Name: gatewayv1.SectionName(ep.Name), Port: gatewayv1.PortNumber(ep.Port()), Protocol: protocol, TLS: tls,
		})
	}
	return o.add("Gateway", gatewayName, "gateways", gw)
}

// listenerName is the Gateway listener that serves an entrypoint: the
// plan's first entrypoint with routes on its port names it.
func listenerName(p *plan.Plan, groups []routeGroup, ep plan.Entrypoint) string {
	for _, e := range p.Entrypoints {
		if e.Port() == ep.Port() && hasRoutes(groups, e) {
			return e.Name
		}
	}
	return ep.Name
}

func hasRoutes(groups []routeGroup, ep plan.Entrypoint) bool {
	for _, g := range groups {
		if g.entrypoint.Name == ep.Name {
			return true
		}
	}
	return false
}

func httpRoute(o *output, name string, g routeGroup, listener string, rules []gatewayv1.HTTPRouteRule) gatewayv1.HTTPRoute {
	section := gatewayv1.SectionName(listener)
	return gatewayv1.HTTPRoute{
		TypeMeta:   typeMeta("gateway.networking.k8s.io/v1", "HTTPRoute"),
		ObjectMeta: o.meta(name, nil),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: gatewayName, SectionName: &section}}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(g.host)},
			Rules:           rules,
		},
	}
}

// httpRule is one route as a Gateway API rule.
//
// What the Gateway API cannot say, and what happens instead:
//   - Priority: the Gateway API ranks an exact path, then the longest
//     prefix; regular expressions rank as the implementation decides.
//     The rules keep the plan's order (highest priority first).
//   - Balancing on a user or a room: the gateway spreads requests over
//     the backends by its own policy; a pool that must keep a key on one
//     server (Balance.Strict) sends everything to its first server, as
//     every proxy without hashing does.
//   - An allow list: a rule without backends, which the gateway answers
//     with 500, so that the path is refused rather than served to all.
//   - An upload limit: set on the gateway by its own policy (docs/cluster.md).
func httpRule(r plan.Route) gatewayv1.HTTPRouteRule {
	rule := gatewayv1.HTTPRouteRule{
		Name:    ruleName(r.Name),
		Matches: []gatewayv1.HTTPRouteMatch{{Path: pathMatch(r)}},
	}
	if len(r.Settings.AllowIPs) > 0 {
		return rule
	}
	headers := append([]plan.EnvVar(nil), r.Settings.Headers...)
	if r.Settings.CORS {
		headers = append(headers, render.CORSHeaders()...)
	}
	if len(headers) > 0 {
		var set []gatewayv1.HTTPHeader
		for _, h := range headers {
			set = append(set, gatewayv1.HTTPHeader{Name: gatewayv1.HTTPHeaderName(h.Name), Value: h.Value})
		}
		rule.Filters = append(rule.Filters, gatewayv1.HTTPRouteFilter{
			Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: set},
		})
	}
	if r.StripPrefix {
		root := "/"
		rule.Filters = append(rule.Filters, gatewayv1.HTTPRouteFilter{
			Type: gatewayv1.HTTPRouteFilterURLRewrite,
			URLRewrite: &gatewayv1.HTTPURLRewriteFilter{Path: &gatewayv1.HTTPPathModifier{
				Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: &root,
			}},
		})
	}
	for _, b := range routeServers(r) {
		port := gatewayv1.PortNumber(b.Port)
		rule.BackendRefs = append(rule.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(backendName(b)), Port: &port},
		}})
	}
	return rule
}

// routeServers are the backends the cluster can send a route's requests
// to: every server of a pool, or only the first of a pool that must keep
// one user's or room's requests together.
func routeServers(r plan.Route) []plan.Backend {
	servers := r.Servers()
	if r.Balance.Strict && r.Balance.By != plan.BalanceLeastConn {
		return servers[:1]
	}
	return servers
}

// backendName is the Service of a backend: the host part of its address.
func backendName(b plan.Backend) string {
	host := b.Upstream
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			host = host[:i]
			break
		}
	}
	if host == "" {
		return objectName(b.Service)
	}
	return host
}

func ruleName(name string) *gatewayv1.SectionName {
	n := gatewayv1.SectionName(objectName(name))
	return &n
}

func pathMatch(r plan.Route) *gatewayv1.HTTPPathMatch {
	m := r.Match()
	kind := gatewayv1.PathMatchPathPrefix
	if m.Regex {
		kind = gatewayv1.PathMatchRegularExpression
	}
	value := m.Value
	return &gatewayv1.HTTPPathMatch{Type: &kind, Value: &value}
}

// bareRedirect sends a StripPrefix route's bare prefix to the prefix.
func bareRedirect(r plan.Route, bare string) gatewayv1.HTTPRouteRule {
	exact := gatewayv1.PathMatchExact
	target := r.PathPrefix
	status := 301
	return gatewayv1.HTTPRouteRule{
		Name:    ruleName(r.Name + "-bare"),
		Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &exact, Value: &bare}}},
		Filters: []gatewayv1.HTTPRouteFilter{{
			Type: gatewayv1.HTTPRouteFilterRequestRedirect,
			RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{
				Path:       &gatewayv1.HTTPPathModifier{Type: gatewayv1.FullPathHTTPPathModifier, ReplaceFullPath: &target},
				StatusCode: &status,
			},
		}},
	}
}

// addIngresses renders the routes as Ingress objects, one a hostname, for
// clusters without the Gateway API. An Ingress serves on the cluster's
// HTTPS port only, so the federation routes join the client ones there
// (docs/cluster.md: delegate federation to port 443); regular expressions
// are ImplementationSpecific paths; a route whose settings an Ingress
// cannot carry without a controller's annotations is refused.
func addIngresses(o *output, groups []routeGroup) error {
	var hosts []string
	byHost := map[string][]plan.Route{}
	for _, g := range groups {
		if _, ok := byHost[g.host]; !ok {
			hosts = append(hosts, g.host)
		}
		byHost[g.host] = append(byHost[g.host], g.routes...)
	}
	for _, host := range hosts {
		name := objectName(host)
		ing := networkingv1.Ingress{
			TypeMeta:   typeMeta("networking.k8s.io/v1", "Ingress"),
			ObjectMeta: o.meta(name, nil),
			Spec: networkingv1.IngressSpec{
				TLS: []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: o.p.Cluster.TLSSecret}},
			},
		}
		if c := o.p.Cluster.IngressClass; c != "" {
			ing.Spec.IngressClassName = &c
		}
		rule := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
		claimed := map[string]string{}
		for _, r := range byHost[host] {
			if r.StripPrefix || len(r.Settings.AllowIPs) > 0 {
				return fmt.Errorf("route %s strips its prefix or has an allow list, which an Ingress cannot carry; use kubernetes.routes: gateway", r.Name)
			}
			key := r.Match().String()
			if prev, dup := claimed[key]; dup {
				return fmt.Errorf("routes %s and %s serve %s on different ports, which one Ingress cannot tell apart; use kubernetes.routes: gateway", prev, r.Name, key)
			}
			claimed[key] = r.Name
			kind := networkingv1.PathTypePrefix
			if r.Match().Regex {
				kind = networkingv1.PathTypeImplementationSpecific
			}
			b := routeServers(r)[0]
			rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{
				Path: r.Match().Value, PathType: &kind,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: backendName(b), Port: networkingv1.ServiceBackendPort{Number: int32(b.Port)},
				}},
			})
		}
		ing.Spec.Rules = []networkingv1.IngressRule{rule}
		if err := o.add("Ingress", name, "ingresses", ing); err != nil {
			return err
		}
	}
	return nil
}
