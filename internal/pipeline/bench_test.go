package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// BenchmarkStage times each stage separately for every example, so that a
// regression shows where it is. The first iteration of "validate" also pays
// for compiling the schema once per process, as a real run does.
func BenchmarkStage(b *testing.B) {
	for _, name := range exampleNames(b) {
		path := filepath.Join(repoRoot(b), "examples", name+".yaml")
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		cfg, problems := validate.Load(path, data)
		if len(problems) > 0 {
			b.Fatal(problems)
		}
		p, _ := compile.Compile(cfg)
		tree, err := render.Render(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/validate", func(b *testing.B) {
			for b.Loop() {
				validate.Load(path, data)
			}
		})
		b.Run(name+"/compile", func(b *testing.B) {
			for b.Loop() {
				compile.Compile(cfg)
			}
		})
		b.Run(name+"/render", func(b *testing.B) {
			for b.Loop() {
				if _, err := render.Render(p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/write", func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "out")
			for b.Loop() {
				if err := bundle.Write(out, tree); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
