package compile

import (
	"fmt"
	"sort"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// addCluster records where the deployment goes in a Kubernetes cluster
// and what each service and scheduled job requests. It runs after every component, since
// the requests are per service.
func addCluster(b *builder) {
	k := b.cfg.Kubernetes
	c := plan.Cluster{
		Namespace: k.Namespace, StorageClass: k.StorageClass,
		MediaSize: k.MediaSize, DataSize: k.DataSize,
		Routes: k.Routes, GatewayClass: k.GatewayClass, TLSSecret: k.TLSSecret, IngressClass: k.IngressClass,
		Requests: map[string]plan.Resources{},
	}
	for _, s := range b.plan.Services {
		r := k.Requests
		if own, ok := k.Services[s.Unit]; ok {
			r = own
		}
		c.Requests[s.Unit] = plan.Resources{CPU: r.CPU, Memory: r.Memory}
	}
	// The scheduled jobs run as pods too (CronJobs).
	for _, j := range b.plan.Jobs {
		r := k.Requests
		if own, ok := k.Services[j.Unit]; ok {
			r = own
		}
		c.Requests[j.Unit] = plan.Resources{CPU: r.CPU, Memory: r.Memory}
	}
	b.plan.Cluster = c
}

// checkClusterServices refuses requests for a unit the plan does not
// have: a misspelt name would otherwise leave the service at the default.
func checkClusterServices(cfg *config.Config, p *plan.Plan) diag.List {
	var out diag.List
	units := make([]string, 0, len(cfg.Kubernetes.Services))
	for u := range cfg.Kubernetes.Services {
		units = append(units, u)
	}
	sort.Strings(units)
	for _, u := range units {
		if _, ok := p.Cluster.Requests[u]; !ok {
			out.Add(diag.Diagnostic{
				Path:    "kubernetes.services." + u,
				Summary: fmt.Sprintf("no service %q runs with this config", u),
				Detail:  "name a unit of the host bundle, such as matrix-synapse",
			})
		}
	}
	return out
}
