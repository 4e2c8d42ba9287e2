package compile

import (
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

const internalAPIBridge = `bridges:
  heisenbridge:
    type: heisenbridge
    owner: "@admin:example.org"
`

func bridgeURL(t *testing.T, p *plan.Plan) string {
	t.Helper()
	s, ok := planService(p, "matrix-heisenbridge")
	if !ok {
		t.Fatal("no matrix-heisenbridge")
	}
	return s.Command[len(s.Command)-1]
}

func internalRoutes(p *plan.Plan) []plan.Route {
	var out []plan.Route
	for _, r := range p.Routes {
		if r.Entrypoint == plan.EntrypointInternal {
			out = append(out, r)
		}
	}
	return out
}

// With workers and Traefik, bridges go through Traefik's internal
// entrypoint, which routes the client API as the public one does.
func TestInternalClientAPI(t *testing.T) {
	p := compileYAML(t, bridgesBase+"synapse:\n  workers:\n    preset: one-of-each\n"+internalAPIBridge)
	if got := bridgeURL(t, p); got != "http://matrix-traefik:8008" {
		t.Errorf("heisenbridge calls %s", got)
	}
	if !slices.ContainsFunc(p.Entrypoints, func(e plan.Entrypoint) bool {
		return e.Name == plan.EntrypointInternal && e.ProxyName == internalAPIListener && e.HostPort == 0 && e.ProxyPort == internalAPIPort
	}) {
		t.Errorf("no unpublished internal entrypoint: %+v", p.Entrypoints)
	}
	traefik, _ := planService(p, traefikUnit)
	if !slices.Contains(traefik.Networks, "matrix") {
		t.Errorf("Traefik is not on the homeserver network: %v", traefik.Networks)
	}
	for _, pub := range traefik.Publish {
		if pub.ContainerPort == internalAPIPort {
			t.Errorf("the internal entrypoint is published: %+v", pub)
		}
	}
	internal := internalRoutes(p)
	public := map[string]plan.Route{}
	for _, r := range p.Routes {
		if r.Entrypoint == plan.EntrypointClient && r.Host == "matrix.example.org" && isSynapseProcess(r.Service) {
			public[r.Name] = r
		}
	}
	if len(internal) != len(public)+1 {
		t.Errorf("%d internal routes for %d public client routes to Synapse (+1 fallback)", len(internal), len(public))
	}
	media := false
	for _, r := range internal {
		if r.Host != "" || len(r.Settings.AllowIPs) > 0 {
			t.Errorf("internal route %s: host %q, allow list %v", r.Name, r.Host, r.Settings.AllowIPs)
		}
		if r.Name == "synapse-internal" {
			if r.PathPrefix != "/" || r.Service != synapseUnit || r.Priority != 1 {
				t.Errorf("fallback: %+v", r)
			}
			continue
		}
		pub, ok := public[strings.TrimSuffix(r.Name, "-internal")]
		if !ok || pub.PathPrefix != r.PathPrefix || pub.PathRegex != r.PathRegex || pub.Priority != r.Priority || pub.Service != r.Service || pub.Pool != r.Pool {
			t.Errorf("internal route %+v differs from its public one %+v", r, pub)
		}
		media = media || strings.HasPrefix(r.Service, workerUnitPrefix+"media-repository")
	}
	if !media {
		t.Error("no internal route reaches the media repository worker")
	}
}

// The entrypoint exists only where it is needed: without workers the main
// process serves everything, and without bridges nobody calls it.
func TestInternalClientAPIOnlyWhenNeeded(t *testing.T) {
	for name, src := range map[string]string{
		"no workers": bridgesBase + internalAPIBridge,
		"no bridges": bridgesBase + "synapse:\n  workers:\n    preset: one-of-each\n",
		"own webserver": "domain: example.org\nreverse_proxy:\n  type: nginx\nsynapse:\n  workers:\n    generic: 2\n" +
			internalAPIBridge,
	} {
		t.Run(name, func(t *testing.T) {
			p := compileYAML(t, src)
			if r := internalRoutes(p); len(r) > 0 {
				t.Errorf("%d internal routes", len(r))
			}
			if slices.ContainsFunc(p.Entrypoints, func(e plan.Entrypoint) bool { return e.Name == plan.EntrypointInternal }) {
				t.Error("internal entrypoint")
			}
			if _, ok := planService(p, "matrix-heisenbridge"); ok && bridgeURL(t, p) != "http://matrix-synapse:8008" {
				t.Errorf("heisenbridge calls %s", bridgeURL(t, p))
			}
		})
	}
}
