package render

import (
	"errors"
	"fmt"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// ErrRouteUnsupported marks a route a renderer cannot write faithfully.
// Rendering fails rather than writing a configuration that sends those
// requests somewhere else.
var ErrRouteUnsupported = errors.New("not supported by this renderer yet")

// refuseWorkerRoutes fails on the first route that matches by regex or
// balances over several backends, for the renderers that do not write
// those yet (Caddy, Apache): without them, a stream writer's requests would
// reach the main process, which does not own the stream.
func refuseWorkerRoutes(proxy string, p *plan.Plan) error {
	for _, r := range p.Routes {
		switch {
		case r.PathRegex != "":
			return fmt.Errorf("%s: route %s matches by regex (Synapse workers): %w", proxy, r.Name, ErrRouteUnsupported)
		case len(r.Backends) > 0:
			return fmt.Errorf("%s: route %s balances over %d backends (Synapse workers): %w", proxy, r.Name, len(r.Backends), ErrRouteUnsupported)
		}
	}
	return nil
}
