package validate

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad holds Load to its contract on any input: no panic, and exactly
// one of a Config or at least one diagnostic, every one about the file it
// was given. The corpus and examples as seeds start it near the interesting
// edges (aliases, tags, bounds, duplicate keys) rather than at random bytes.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join(invalidDir, "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	examples, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range append(seeds, examples...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz/matrix.yaml"
		cfg, problems := Load(file, data)
		if (cfg == nil) == (len(problems) == 0) {
			t.Fatalf("Load returned config %v with %d problems", cfg != nil, len(problems))
		}
		for _, d := range problems {
			if d.Subject.File != file {
				t.Fatalf("problem names file %q: %s", d.Subject.File, d)
			}
			if d.Summary == "" {
				t.Fatalf("problem without a message at %s", d.Path)
			}
			if lines := offsetPos(data, len(data)).Line; d.Subject.Start.Line > lines {
				t.Fatalf("problem on line %d of a file of %d lines: %s", d.Subject.Start.Line, lines, d)
			}
		}
	})
}
