package kubernetes

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// addInternalAPI gives the bridges and bots the client API they call on
// the host: with workers, they call the proxy's internal entrypoint
// (http://<proxy address>:<port>), which applies the public routes, so
// that the requests only workers serve reach them.
//
// In the cluster that address is a Service of the same name and port, so
// that every generated config works unchanged. The routes are HTTPRoutes
// whose parent is that Service (the Gateway API's routes for traffic
// inside the cluster, GAMMA), which a service mesh applies to what is
// sent to the Service. Without a mesh the Service itself answers: it
// sends every request to the internal routes' catch-all, the main
// process, which is what a caller reaches on a host without workers
// (docs/cluster.md says which requests then fail). With kubernetes.routes:
// ingress there are no HTTPRoutes, only the Service.
func addInternalAPI(o *output) error {
	var routes []plan.Route
	for _, r := range o.p.Routes {
		if r.Entrypoint == plan.EntrypointInternal {
			routes = append(routes, r)
		}
	}
	if len(routes) == 0 {
		return nil
	}
	ep, ok := findEntrypoint(o.p, plan.EntrypointInternal)
	if !ok {
		return fmt.Errorf("route %s: no entrypoint %q", routes[0].Name, plan.EntrypointInternal)
	}
	proxy, ok := findService(o.p, o.p.Proxy.Unit)
	if !ok {
		return fmt.Errorf("the internal client API is reached at the proxy %s, which the plan does not run", o.p.Proxy.Unit)
	}
	// Routes come highest priority first: the last is the catch-all.
	fallback := routes[len(routes)-1]
	if fallback.PathPrefix != "/" || len(fallback.Backends) > 0 {
		return fmt.Errorf("the internal client API has no single catch-all route (its last is %s)", fallback.Name)
	}
	name := serviceName(proxy)
	port := int32(ep.Port())
	svc := corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: o.meta(name, map[string]string{unitLabel: objectName(proxy.Unit)}),
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{nameLabel: backendName(fallback.Servers()[0])},
			Ports: []corev1.ServicePort{{
				Name: portName(plan.Listen{Name: ep.Name}), Port: port, TargetPort: intstr.FromInt(fallback.Port), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
	if err := o.add("Service", name, "services", svc); err != nil {
		return err
	}
	if o.p.Cluster.Routes == plan.ClusterIngress {
		return nil
	}
	rules := httpRules(routes)
	group, kind := gatewayv1.Group(""), gatewayv1.Kind("Service")
	parentPort := gatewayv1.PortNumber(port)
	for i := 0; i < len(rules); i += maxRules {
		routeName := fmt.Sprintf("%s-%02d", objectName(name, ep.Name), i/maxRules)
		hr := gatewayv1.HTTPRoute{
			TypeMeta:   typeMeta("gateway.networking.k8s.io/v1", "HTTPRoute"),
			ObjectMeta: o.meta(routeName, nil),
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{
					Group: &group, Kind: &kind, Name: gatewayv1.ObjectName(name), Port: &parentPort,
				}}},
				Rules: rules[i:min(i+maxRules, len(rules))],
			},
		}
		if err := o.add("HTTPRoute", routeName, "httproutes", hr); err != nil {
			return err
		}
	}
	return nil
}

func findEntrypoint(p *plan.Plan, name string) (plan.Entrypoint, bool) {
	for _, e := range p.Entrypoints {
		if e.Name == name {
			return e, true
		}
	}
	return plan.Entrypoint{}, false
}

func findService(p *plan.Plan, unit string) (plan.Service, bool) {
	for _, s := range p.Services {
		if s.Unit == unit {
			return s, true
		}
	}
	return plan.Service{}, false
}
