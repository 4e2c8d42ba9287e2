package validate

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/diag"
)

var update = flag.Bool("update", false, "rewrite the .want files of testdata/invalid and testdata/generated")

const (
	invalidDir   = "testdata/invalid"
	generatedDir = "testdata/generated"
)

// generated holds the cases too big to commit as files. Their expected
// output lives in testdata/generated/<name>.want; the .yaml is never written.
var generated = map[string]func() []byte{
	// One byte over the limit, and valid YAML up to there, so that only the
	// size can be what is refused.
	"huge": func() []byte {
		b := []byte("domain: example.org\ntraefik:\n  acme_email: admin@example.org\nsynapse:\n  extra:\n    pad: \"")
		b = append(b, bytes.Repeat([]byte("x"), maxConfigBytes+1-len(b)-2)...)
		return append(b, "\"\n"...)
	},
	// Small enough in bytes, but more values than a config could ever need.
	"too-many-values": func() []byte {
		b := []byte("domain: example.org\ntraefik:\n  acme_email: admin@example.org\nsynapse:\n  extra:\n    list: [")
		b = append(b, bytes.Repeat([]byte("0,"), maxNodes)...)
		return append(b, "0]\n"...)
	},
}

// TestCorpus loads every broken config of testdata/invalid and compares the
// printed diagnostics with its .want file; -update rewrites them.
func TestCorpus(t *testing.T) {
	inputs := corpusFiles(t)
	if len(inputs) < 50 {
		t.Errorf("only %d cases in %s", len(inputs), invalidDir)
	}
	for _, file := range inputs {
		name := strings.TrimSuffix(path.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.FromSlash(file))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, file, data, path.Join(invalidDir, name+".want"))
		})
	}
	for _, name := range sortedKeys(generated) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkGolden(t, path.Join(generatedDir, name+".yaml"), generated[name](), path.Join(generatedDir, name+".want"))
		})
	}
}

// TestCorpusWantsHaveInputs keeps the corpus honest: a .want whose input was
// renamed or deleted would otherwise pass for ever without testing anything.
func TestCorpusWantsHaveInputs(t *testing.T) {
	wants, err := filepath.Glob(filepath.Join(invalidDir, "*.want"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wants {
		if _, err := os.Stat(strings.TrimSuffix(w, ".want") + ".yaml"); err != nil {
			t.Errorf("%s has no .yaml beside it", filepath.ToSlash(w))
		}
	}
	wants, err = filepath.Glob(filepath.Join(generatedDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wants {
		name, ok := strings.CutSuffix(filepath.Base(w), ".want")
		if _, known := generated[name]; !ok || !known {
			t.Errorf("%s is not the output of a generated case", filepath.ToSlash(w))
		}
	}
}

// corpusFiles lists testdata/invalid/*.yaml, slash-separated, as the file
// names the diagnostics will carry.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(invalidDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = filepath.ToSlash(f)
	}
	sort.Strings(files)
	return files
}

func checkGolden(t *testing.T, file string, data []byte, wantFile string) {
	t.Helper()
	cfg, problems := Load(file, data)
	if cfg != nil {
		t.Errorf("Load accepted the config")
	}
	if len(problems) == 0 {
		t.Fatalf("Load reported no problem")
	}
	var got bytes.Buffer
	diag.Print(&got, problems, "")
	if *update {
		if err := os.WriteFile(filepath.FromSlash(wantFile), got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(filepath.FromSlash(wantFile))
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("output differs from %s at %s\ngot:\n%s\nwant:\n%s", wantFile, firstDifference(got.String(), string(want)), got.String(), want)
	}
}

// firstDifference names the first line where got and want part, so that a
// long expected output need not be compared by eye.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  got:  %q\n  want: %q", i+1, gl, wl)
		}
	}
	return "a line end"
}
