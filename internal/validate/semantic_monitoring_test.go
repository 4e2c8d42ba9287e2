package validate

import (
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/diag"
)

// TestMonitoringRules: Grafana placed where it cannot be served is refused
// at the option that places it.
func TestMonitoringRules(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, at, says string
		line                 int // of the offending option in minimal+yaml
	}{
		{"hostname and path", "monitoring:\n  enabled: true\n  grafana:\n    hostname: stats.example.org\n    path: /stats\n",
			"monitoring.grafana.path", "root of monitoring.grafana.hostname stats.example.org; remove path", 8},
		{"homeserver's hostname", "monitoring:\n  enabled: true\n  grafana:\n    hostname: matrix.example.org\n",
			"monitoring.grafana.hostname", "matrix.example.org is the homeserver's", 7},
		{"Ketesa's hostname", "ketesa: {enabled: true, hostname: admin.example.org}\nmonitoring:\n  enabled: true\n  grafana:\n    hostname: admin.example.org\n",
			"monitoring.grafana.hostname", "admin.example.org is Ketesa's", 8},
		{"Ketesa's path", "ketesa: {enabled: true}\nmonitoring:\n  enabled: true\n  grafana:\n    path: /ketesa/stats\n",
			"monitoring.grafana.path", "/ketesa/stats overlaps /ketesa, where Ketesa", 8},
		{"health check", "monitoring:\n  enabled: true\n  grafana:\n    path: /health\n",
			"monitoring.grafana.path", "Synapse's health check", 7},
		{"Ketesa's port", "ketesa: {enabled: true}\nmonitoring:\n  enabled: true\n  grafana:\n    host_port: 8767\n",
			"monitoring.grafana.host_port", "already published for Ketesa", 8},
		{"Element's port", "monitoring:\n  enabled: true\n  grafana:\n    host_port: 8765\n",
			"monitoring.grafana.host_port", "already published for Element", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := Load("matrix.yaml", []byte(minimal+tc.yaml))
			if len(problems) != 1 {
				t.Fatalf("want one problem, got:\n%s", printed(problems))
			}
			p := problems[0]
			if p.Path != tc.at || !strings.Contains(p.Summary, tc.says) || p.Subject.Start.Line != tc.line {
				t.Errorf("got %s: %s (line %d), want %s: …%s… at line %d", p.Path, p.Summary, p.Subject.Start.Line, tc.at, tc.says, tc.line)
			}
		})
	}
	for _, src := range []string{
		"monitoring: {enabled: true}\n",
		"monitoring: {enabled: true, grafana: {hostname: stats.example.org}}\n",
		"monitoring: {enabled: false, grafana: {path: /health}}\n",
	} {
		if _, problems := Load("matrix.yaml", []byte(minimal+src)); len(problems) > 0 {
			t.Errorf("%q refused:\n%s", src, printed(problems))
		}
	}
}

func TestBackupNeedsRepository(t *testing.T) {
	_, problems := Load("matrix.yaml", []byte(minimal+"backup:\n  enabled: true\n  off_host:\n    tool: borg\n"))
	if len(problems) != 1 || problems[0].Path != "backup.off_host.tool" || !strings.Contains(problems[0].Summary, "needs backup.off_host.repository") {
		t.Fatalf("want one problem at backup.off_host.tool, got:\n%s", printed(problems))
	}
	if _, problems := Load("matrix.yaml", []byte(minimal+"backup:\n  enabled: true\n  off_host: {tool: borg, repository: \"ssh://b@h/./r\"}\n")); len(problems) > 0 {
		t.Errorf("refused:\n%s", printed(problems))
	}
}

func TestVacuumNeedsBundledPostgres(t *testing.T) {
	src := minimal + "postgres:\n  mode: external\n  external: {host: db.example.org}\nmaintenance:\n  postgres_vacuum: {enabled: true}\n"
	_, problems := Load("matrix.yaml", []byte(src))
	if len(problems) != 1 || problems[0].Path != "maintenance.postgres_vacuum.enabled" {
		t.Fatalf("want one problem at maintenance.postgres_vacuum.enabled, got:\n%s", printed(problems))
	}
}

func TestStateCompressorNeedsSynapse(t *testing.T) {
	src := minimal + "homeserver: {implementation: dendrite}\nmaintenance:\n  state_compressor: {enabled: true}\n"
	_, problems := Load("matrix.yaml", []byte(src))
	if !slices.ContainsFunc(problems, func(p diag.Diagnostic) bool {
		return p.Path == "maintenance.state_compressor.enabled" && strings.Contains(p.Summary, "dendrite")
	}) {
		t.Fatalf("want a problem at maintenance.state_compressor.enabled naming dendrite, got:\n%s", printed(problems))
	}
	if _, problems := Load("matrix.yaml", []byte(minimal+"maintenance:\n  state_compressor: {enabled: true, chunks: 5}\n")); len(problems) > 0 {
		t.Errorf("refused with Synapse:\n%s", printed(problems))
	}
}
