package pipeline

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/diag"
)

// repoRoot is the directory holding go.mod; examples and goldens live there.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// exampleNames lists examples/*.yaml without the extension, sorted.
func exampleNames(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("no examples found")
	}
	return names
}

// buildExample runs the whole pipeline on examples/<name>.yaml.
func buildExample(t testing.TB, name string) *Result {
	t.Helper()
	path := filepath.Join("examples", name+".yaml")
	data, err := os.ReadFile(filepath.Join(repoRoot(t), path))
	if err != nil {
		t.Fatal(err)
	}
	res, problems := Run(path, data)
	if len(problems) > 0 {
		var b strings.Builder
		diag.Print(&b, problems, "")
		t.Fatalf("example %s does not build:\n%s", name, b.String())
	}
	return res
}
