package compile

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// Bridges and bots use the client API like any client. Without workers
// the main Synapse process serves all of it, and they call it directly on
// the homeserver network. With workers, part of it is served by workers
// only (media, and the single writers of the typing, to-device, receipts
// and push rules streams), so they call Traefik instead, on an entrypoint
// of its own that applies the public routes to plain HTTP from inside
// Docker. With the operator's own webserver there is no such entrypoint;
// validation refuses the workers that would break bridges there
// (semantic_bridges.go).
const (
	internalAPIListener = "matrix-internal-client-api"
	internalAPIPort     = 8008
)

// internalClientAPI tells whether the internal entrypoint is needed.
func internalClientAPI(c *config.Config) bool {
	return c.ReverseProxy.Type == "traefik" && hasWorkers(c) && hasAppservices(c)
}

func hasAppservices(c *config.Config) bool { return hasBridges(c) || hasBots(c) }

// clientAPIURL is where bridges and bots send their client API requests.
func (b *builder) clientAPIURL() string {
	if internalClientAPI(b.cfg) {
		return fmt.Sprintf("http://%s:%d", traefikUnit, internalAPIPort)
	}
	return b.homeserverURL()
}

// addInternalClientAPI copies the homeserver's client routes to Synapse's
// processes (and MAS's compatibility layer, which takes over Synapse's
// logins) onto the internal entrypoint, for any hostname (the callers
// name Traefik's container), and sends everything else to the main
// process, which is what a caller would reach without the entrypoint. The
// copies drop the admin API's allow list: whatever is on the homeserver
// network reaches the main process directly anyway.
func addInternalClientAPI(b *builder) {
	for _, r := range b.plan.Routes {
		if r.Entrypoint != plan.EntrypointClient || r.Host != b.cfg.Hostnames.Homeserver || !(isSynapseProcess(r.Service) || r.Name == "mas-compat") {
			continue
		}
		r.Name += "-internal"
		r.Host, r.Entrypoint = "", plan.EntrypointInternal
		r.Settings.AllowIPs = nil
		b.plan.Routes = append(b.plan.Routes, r)
	}
	b.route(plan.Route{
		Name: "synapse-internal", PathPrefix: "/", Entrypoint: plan.EntrypointInternal,
		Service: synapseUnit, Port: synapseClientPort, Priority: 1,
	})
}

// isSynapseProcess tells the main process and the workers (whose units
// are matrix-synapse-worker-…) from other services.
func isSynapseProcess(unit string) bool {
	return unit == synapseUnit || strings.HasPrefix(unit, workerUnitPrefix)
}
