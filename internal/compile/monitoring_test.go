package compile

import (
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// scrapeTargets lists "job instance address path" for every target of the
// compiled Prometheus configuration.
func scrapeTargets(t *testing.T, p *plan.Plan) []string {
	t.Helper()
	f, ok := planFile(p, "/matrix/prometheus/config/prometheus.yml")
	if !ok {
		t.Fatal("no prometheus.yml")
	}
	var out []string
	for _, sc := range f.Value.(obj)["scrape_configs"].([]any) {
		job := sc.(obj)
		path, _ := job["metrics_path"].(string)
		for _, g := range job["static_configs"].([]any) {
			group := g.(obj)
			for _, addr := range group["targets"].([]any) {
				out = append(out, strings.Join([]string{job["job_name"].(string), group["labels"].(obj)["instance"].(string), addr.(string), path}, " "))
			}
		}
	}
	return out
}

// Prometheus scrapes Synapse's main process and every worker at the
// metrics listener their configs declare, the exporters, and Traefik on
// its unpublished ping entrypoint; turning monitoring on turns Synapse's
// metrics on.
func TestMonitoringScrapesEveryProcess(t *testing.T) {
	p := compileYAML(t, bridgesBase+"synapse:\n  workers:\n    preset: one-of-each\n    generic: 2\nmonitoring:\n  enabled: true\n")
	targets := scrapeTargets(t, p)
	workers := 0
	for _, s := range p.Services {
		if !strings.HasPrefix(s.Unit, "matrix-synapse") || s.Unit == "matrix-synapse-admin" {
			continue
		}
		want := "synapse " + s.Unit + " " + s.Address + ":9100 /_synapse/metrics"
		if !slices.Contains(targets, want) {
			t.Errorf("no target %q in %q", want, targets)
		}
		f, ok := planFile(p, "/matrix/synapse/config/workers/"+strings.TrimPrefix(s.Unit, "matrix-synapse-worker-")+".yaml")
		if s.Unit != "matrix-synapse" && ok {
			workers++
			if !hasMetricsListener(f.Value.(obj)["worker_listeners"], 9100) {
				t.Errorf("%s: no metrics listener on 9100 in its config", s.Unit)
			}
		}
	}
	if workers < 3 {
		t.Errorf("only %d workers checked", workers)
	}
	for _, want := range []string{
		"node matrix-prometheus-node-exporter matrix-prometheus-node-exporter:9100 /metrics",
		"postgres matrix-prometheus-postgres-exporter matrix-prometheus-postgres-exporter:9187 /metrics",
		"traefik matrix-traefik matrix-traefik:8082 /metrics",
	} {
		if !slices.Contains(targets, want) {
			t.Errorf("no target %q in %q", want, targets)
		}
	}
	static := traefikStaticOf(t, bridgesBase+"monitoring:\n  enabled: true\n")
	if ep := static["metrics"].(obj)["prometheus"].(obj)["entryPoint"]; ep != "ping" {
		t.Errorf("Traefik's metrics on entrypoint %v, want ping", ep)
	}
}

func hasMetricsListener(listeners any, port int) bool {
	for _, l := range listeners.([]any) {
		if l.(obj)["type"] == "metrics" && l.(obj)["port"] == port {
			return true
		}
	}
	return false
}

// Only Grafana is reachable from outside Docker, and only through the
// proxy: no monitoring container publishes a port with Traefik, and with
// the operator's own webserver only Grafana's, on the bind address.
func TestMonitoringPublishesNoMetrics(t *testing.T) {
	for _, src := range []string{
		bridgesBase + "monitoring:\n  enabled: true\n",
		"domain: example.org\nreverse_proxy:\n  type: nginx\nmonitoring:\n  enabled: true\n",
	} {
		p := compileYAML(t, src)
		for _, s := range p.Services {
			if !strings.HasPrefix(s.Unit, "matrix-prometheus") && s.Unit != grafanaUnit {
				continue
			}
			for _, pub := range s.Publish {
				if s.Unit != grafanaUnit || pub.HostAddress != "127.0.0.1" || pub.ContainerPort != grafanaPort {
					t.Errorf("%s publishes %+v", s.Unit, pub)
				}
			}
		}
	}
}
