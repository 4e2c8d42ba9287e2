package pipeline

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/diag"
)

// TestPlanConflicts builds each config of testdata/conflicts, which
// validates but whose plan claims something twice, and compares what the
// pipeline prints with its .want file; -update rewrites them. Each
// problem must stand at a line and column of the config, with the path of
// the option that made the later claim.
func TestPlanConflicts(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "conflicts", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 7 {
		t.Errorf("only %d cases in testdata/conflicts", len(inputs))
	}
	positioned := regexp.MustCompile(`^testdata/conflicts/[a-z0-9-]+\.yaml:[0-9]+:[0-9]+: [a-z_.0-9-]+: `)
	for _, input := range inputs {
		file := filepath.ToSlash(input)
		name := strings.TrimSuffix(path.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(input)
			if err != nil {
				t.Fatal(err)
			}
			res, problems := Run(file, data)
			if res != nil || len(problems) == 0 {
				t.Fatal("the pipeline built the bundle")
			}
			var got bytes.Buffer
			diag.Print(&got, problems, "")
			for _, line := range strings.Split(strings.TrimSuffix(got.String(), "\n"), "\n") {
				if !positioned.MatchString(line) {
					t.Errorf("%q has no position and option path", line)
				}
			}
			wantFile := strings.TrimSuffix(input, ".yaml") + ".want"
			if *update {
				if err := os.WriteFile(wantFile, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/pipeline -run TestPlanConflicts -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got.String(), want)
			}
		})
	}
}
