package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"

	"github.com/matrixgen/matrixgen/internal/benchconfig"
	"github.com/matrixgen/matrixgen/internal/config"
)

// benchInputs are the examples and the large config of make bench: full.yaml
// with 256 workers spread over every kind.
func benchInputs(b *testing.B) map[string][]byte {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		b.Fatalf("examples not found: %v %v", files, err)
	}
	inputs := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		inputs[strings.TrimSuffix(filepath.Base(f), ".yaml")] = data
	}
	large, err := benchconfig.Workers(inputs["full"], 256, "")
	if err != nil {
		b.Fatal(err)
	}
	inputs["large"] = large
	return inputs
}

// BenchmarkSchema is the fixed cost a process pays once, on its first Load:
// parsing and compiling the embedded schema.
func BenchmarkSchema(b *testing.B) {
	for b.Loop() {
		compileSchema()
	}
}

// BenchmarkLoadPhases splits Load into its phases, in its order, so that a
// regression shows which one it is in. Each phase starts from what the one
// before produced, outside the timer.
func BenchmarkLoadPhases(b *testing.B) {
	inputs := benchInputs(b)
	for _, name := range sortedKeys(inputs) {
		data := inputs[name]
		ctx, def := compiled()
		input, ix, problems := parseYAML(name, data)
		if problems != nil {
			b.Fatal(problems)
		}
		root := input.(map[string]any)
		unified := def.Unify(ctx.Encode(root))
		var cfg config.Config
		if err := unified.Decode(&cfg); err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/parse", func(b *testing.B) {
			for b.Loop() {
				checkBytes(name, data)
				parseYAML(name, data)
			}
		})
		b.Run(name+"/keys", func(b *testing.B) {
			for b.Loop() {
				unknownKeys(def, root, "", ix)
			}
		})
		b.Run(name+"/unify", func(b *testing.B) {
			for b.Loop() {
				if err := def.Unify(ctx.Encode(root)).Validate(cue.Concrete(true)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/decode", func(b *testing.B) {
			for b.Loop() {
				var c config.Config
				if err := unified.Decode(&c); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/semantic", func(b *testing.B) {
			for b.Loop() {
				semanticChecks(&cfg, ix)
			}
		})
	}
}
