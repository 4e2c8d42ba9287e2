package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/matrixgen/matrixgen/internal/benchconfig"
)

// benchInputs are the examples and the large config of make bench:
// examples/full.yaml (every component on) with 256 Synapse workers spread
// over every kind.
func benchInputs(b *testing.B) (names []string, inputs map[string][]byte) {
	inputs = map[string][]byte{}
	for _, name := range exampleNames(b) {
		data, err := os.ReadFile(filepath.Join(repoRoot(b), "examples", name+".yaml"))
		if err != nil {
			b.Fatal(err)
		}
		names, inputs[name] = append(names, name), data
	}
	large, err := benchconfig.Workers(inputs["full"], 256, "")
	if err != nil {
		b.Fatal(err)
	}
	inputs["large"] = large
	return append(names, "large"), inputs
}

// BenchmarkStage times each stage separately for every example and the
// large config, so that a regression shows where it is. The first iteration
// of "validate" also pays for compiling the schema once per process, as a
// real run does; BenchmarkSchema and BenchmarkLoadPhases in
// internal/validate split validate further.
func BenchmarkStage(b *testing.B) {
	names, inputs := benchInputs(b)
	for _, name := range names {
		benchStages(b, name+"/", name+".yaml", inputs[name])
	}
}

// BenchmarkApply times install.sh with the logging stand-ins for host
// commands, so it measures the script's own work: a re-run of the bundle
// applied last, and a change of one option (synapse.max_upload_size_mb).
// restarts/op counts the units restarted; commands/op the host commands run.
func BenchmarkApply(b *testing.B) {
	const example = "quickstart"
	old := writeBundle(b, example, buildExample(b, example))
	next := buildVariant(b, example, "synapse:\n  max_upload_size_mb: 77\n")
	for _, c := range []struct {
		name  string
		first builtBundle // applied before each timed run
	}{{"no-op", next}, {"one-option", old}} {
		b.Run(c.name, func(b *testing.B) {
			h := newTestHost(b)
			c.first.provide(b, h)
			restarts, commands := 0, 0
			for b.Loop() {
				b.StopTimer()
				h.install(b, c.first.out).mustSucceed(b)
				b.StartTimer()
				r := h.install(b, next.out)
				r.mustSucceed(b)
				restarts += len(r.ran("systemctl restart")) + len(r.ran("systemctl start"))
				commands += len(r.commands)
			}
			b.ReportMetric(float64(restarts)/float64(b.N), "restarts/op")
			b.ReportMetric(float64(commands)/float64(b.N), "commands/op")
		})
	}
}
