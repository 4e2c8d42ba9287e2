package pipeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/consumers"
)

// checkPrometheus runs promtool on every Prometheus configuration of the
// bundle (which checks the rule files it names) and on every rule file.
func (b *consumerBundle) checkPrometheus(t *testing.T) {
	configs := b.paths(func(p string) bool {
		return path.Base(p) == "prometheus.yml" && strings.Contains(p, "/prometheus/config/")
	})
	if len(configs) == 0 {
		t.Skip("monitoring is off in this example")
	}
	for _, p := range configs {
		consumers.PromtoolConfig(t, filepath.Join(b.host, p))
	}
	rules := b.paths(func(p string) bool { return strings.Contains(p, "/prometheus/config/rules/") })
	if len(rules) == 0 {
		t.Fatal("a Prometheus configuration without rule files")
	}
	var files []string
	for _, p := range rules {
		files = append(files, filepath.Join(b.host, p))
	}
	consumers.PromtoolRules(t, files...)
}

// checkGrafana reads every dashboard as JSON, has promtool parse each of
// its queries (as recording rules), and requires every metric a query
// names to be one the scrape targets export or a recording rule makes.
func (b *consumerBundle) checkGrafana(t *testing.T) {
	dashboards := b.paths(func(p string) bool { return strings.Contains(p, "/grafana/dashboards/") })
	if len(dashboards) == 0 {
		t.Skip("monitoring is off in this example")
	}
	known := exportedMetrics(t)
	for _, p := range b.paths(func(p string) bool { return strings.Contains(p, "/prometheus/config/rules/") }) {
		for _, r := range ruleRecords(t, b.res.Tree[p].Data) {
			known[r] = true
		}
	}
	var rules []any
	for _, p := range dashboards {
		for _, expr := range dashboardQueries(t, p, b.res.Tree[p].Data) {
			rules = append(rules, map[string]any{"record": fmt.Sprintf("dashboard_query_%d", len(rules)), "expr": expr})
			for _, m := range metricNames(expr) {
				if !known[m] {
					t.Errorf("%s: query %q names %s, which no scrape target exports and no rule records", p, expr, m)
				}
			}
		}
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboards", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	consumers.PromtoolRules(t, file)
}

func dashboardQueries(t *testing.T, name string, data []byte) []string {
	t.Helper()
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: not JSON: %v", name, err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		t.Errorf("%s: a dashboard without a uid or panels", name)
	}
	var out []string
	for _, p := range d.Panels {
		if p.Datasource.UID != "prometheus" {
			t.Errorf("%s: panel %q reads data source %q, not the provisioned one", name, p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", name, p.Title)
		}
		for _, q := range p.Targets {
			out = append(out, q.Expr)
		}
	}
	return out
}

func ruleRecords(t *testing.T, data []byte) []string {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out = append(out, r.Record)
			}
		}
	}
	return out
}

// exportedMetrics reads testdata/metrics: the metric families of each
// scrape target, as their sources document them, with the names their
// client libraries export for each type.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("testdata/metrics/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no metric lists in testdata/metrics: %v", err)
	}
	known := map[string]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			kind, name, ok := strings.Cut(line, " ")
			if !ok {
				t.Fatalf("%s: %q is not TYPE NAME", f, line)
			}
			for _, n := range exportedNames(kind, name) {
				known[n] = true
			}
		}
		fh.Close()
	}
	return known
}

// exportedNames are the series names of one metric family:
// prometheus_client (Synapse) adds _total to a counter; every client adds
// _bucket, _sum and _count to a histogram.
func exportedNames(kind, name string) []string {
	switch kind {
	case "counter":
		return []string{strings.TrimSuffix(name, "_total") + "_total"}
	case "histogram":
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	}
	return []string{name}
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	// A number or a duration (0.95, 1h): not a name, though it ends in letters.
	promqlNumbers  = regexp.MustCompile(`(^|[^A-Za-z0-9_:])[0-9][0-9A-Za-z.]*`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	promqlKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"}
)

// metricNames lists the metric names a PromQL expression selects: what is
// left of its identifiers once strings, label matchers, ranges, grouping
// labels, numbers, durations, function names and keywords are taken out.
func metricNames(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlMatchers.ReplaceAllString(e, " ")
	e = promqlGrouping.ReplaceAllString(e, " ")
	e = promqlNumbers.ReplaceAllString(e, "$1 ")
	var out []string
	for _, m := range promqlIdent.FindAllStringSubmatch(e, -1) {
		name := strings.TrimSpace(strings.TrimSuffix(m[0], "("))
		if m[1] != "" || slices.Contains(promqlKeywords, strings.ToLower(name)) {
			continue // a function or aggregation, or a keyword
		}
		out = append(out, name)
	}
	return out
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`up == 0`: {"up"},
		`histogram_quantile(0.95, sum by (instance, le) (rate(a_bucket{job="x",le!="+Inf"}[5m])))`:          {"a_bucket"},
		`node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / on (mountpoint) node_filesystem_size_bytes`: {"node_filesystem_avail_bytes", "node_filesystem_size_bytes"},
		`topk(10, sum by (servlet) (synapse:http_requests:rate5m)) offset 1h`:                               {"synapse:http_requests:rate5m"},
		`1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])) > bool 0.5 unless absent(x)`:                {"node_cpu_seconds_total", "x"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}
