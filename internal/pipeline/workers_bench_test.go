package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/matrixgen/matrixgen/internal/benchconfig"
	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// BenchmarkWorkers times each stage against the number of Synapse workers,
// spread over every kind on top of examples/full.yaml, behind Traefik and
// behind nginx (whose upstream pools list the workers), and for the large
// config: 256 workers and 40 bridges behind Traefik. The route table has
// one route per pattern whatever the count, so every stage should grow
// linearly with the units and worker configs: 64 workers should cost about
// four times what 16 do, not sixteen.
func BenchmarkWorkers(b *testing.B) {
	root := repoRoot(b)
	base, err := os.ReadFile(filepath.Join(root, "examples", "full.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	templates, err := os.ReadFile(filepath.Join(root, "examples", "bridges.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	type size struct {
		proxy            string
		workers, bridges int
	}
	var sizes []size
	for _, proxy := range []string{"traefik", "nginx"} {
		for _, n := range []int{4, 16, 64, 256} {
			sizes = append(sizes, size{proxy, n, 0})
		}
	}
	sizes = append(sizes, size{"traefik", 256, 40})
	for _, sz := range sizes {
		data, err := benchconfig.Workers(base, sz.workers, sz.proxy)
		if err == nil && sz.bridges > 0 {
			data, err = benchconfig.Bridges(data, templates, sz.bridges)
		}
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("%s/workers=%d/", sz.proxy, sz.workers)
		if sz.bridges > 0 {
			name = fmt.Sprintf("%s/workers=%d/bridges=%d/", sz.proxy, sz.workers, sz.bridges)
		}
		benchStages(b, name, "large.yaml", data)
	}
}

// benchStages times each stage of one config's build, path its file name
// in messages. The first iteration of "validate" also pays for compiling
// the schema once per process, as a real run does.
func benchStages(b *testing.B, name, path string, data []byte) {
	cfg, problems := validate.Load(path, data)
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	p, problems := compile.Compile(cfg)
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	tree, err := render.Render(p)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(name+"validate", func(b *testing.B) {
		for b.Loop() {
			validate.Load(path, data)
		}
	})
	b.Run(name+"compile", func(b *testing.B) {
		for b.Loop() {
			compile.Compile(cfg)
		}
	})
	b.Run(name+"render", func(b *testing.B) {
		for b.Loop() {
			if _, err := render.Render(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Each write replaces the previous bundle, as a rebuild in CI does.
	b.Run(name+"write", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "out")
		for b.Loop() {
			if err := bundle.Write(out, tree); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(tree)), "files")
	})
}
