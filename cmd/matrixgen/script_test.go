package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/matrixgen/matrixgen/internal/bundle"
)

var update = flag.Bool("update", false, "rewrite the expected files in testdata/script/*.txtar")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"matrixgen": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScript runs testdata/script/*.txtar; each script is a CLI session
// with its config files, and `cmp stdout/stderr` against files inside the
// script. With -update, a failing cmp rewrites that file in the script.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status": cmdStatus,
		},
	})
}

// cmdStatus is `status N program [args...]`: exec that requires exit status
// N exactly. `! exec` accepts any failure, but the statuses are a contract:
// 1 for an invalid config or stale bundle, 2 for bad usage.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %q is not an exit status", args[0])
	}
	got := 0
	var exit *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case err == nil:
	case errors.As(err, &exit):
		got = exit.ExitCode()
	default:
		ts.Fatalf("status: %v", err)
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// TestExitStatus calls Main in-process, so the statuses are checked without
// the subprocess and PATH machinery the scripts rely on.
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	out := filepath.Join(dir, "out")
	foreign := filepath.Join(dir, "foreign")
	for path, data := range map[string]string{
		good:                                 "domain: example.org\ntraefik:\n  acme_email: admin@example.org\n",
		bad:                                  "domain: Example.org\nsynapse:\n  max_upload_size_mb: many\n",
		filepath.Join(foreign, "keep.txt"):   "keep\n",
		filepath.Join(dir, "existing.yaml"):  "# mine\n",
		filepath.Join(dir, "not-a-dir", "x"): "x\n",
		filepath.Join(dir, "stale", bundle.Marker): "",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code := Main([]string{"build", "-c", good, "-o", out}, new(bytes.Buffer), new(bytes.Buffer)); code != 0 {
		t.Fatalf("building the good config: exit status %d", code)
	}

	for _, tc := range []struct {
		args []string
		want int
	}{
		// Bad usage.
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"build"}, 2},
		{[]string{"build", "-c", good}, 2},
		{[]string{"build", "-o", out}, 2},
		{[]string{"build", "-c", good, "-o", out, "extra"}, 2},
		{[]string{"build", "--frobnicate"}, 2},
		{[]string{"check", "-c", good}, 2},
		{[]string{"validate"}, 2},
		{[]string{"validate", "-c"}, 2},
		{[]string{"init"}, 2},
		{[]string{"version", "extra"}, 2},

		// Help is asked for, so it is no error.
		{[]string{"--help"}, 0},
		{[]string{"help"}, 0},
		{[]string{"build", "--help"}, 0},
		{[]string{"validate", "-h"}, 0},
		{[]string{"version"}, 0},

		// Invalid config, stale bundle, refused write.
		{[]string{"validate", "-c", bad}, 1},
		{[]string{"validate", "-c", filepath.Join(dir, "missing.yaml")}, 1},
		{[]string{"build", "-c", bad, "-o", filepath.Join(dir, "never")}, 1},
		{[]string{"check", "-c", bad, "-o", out}, 1},
		{[]string{"build", "-c", good, "-o", foreign}, 1},
		{[]string{"build", "-c", good, "-o", filepath.Join(dir, "not-a-dir", "x")}, 1},
		{[]string{"check", "-c", good, "-o", foreign}, 1},
		{[]string{"init", "--domain", "Bad Domain"}, 1},
		{[]string{"init", "--domain", "example.org", "-o", filepath.Join(dir, "existing.yaml")}, 1},
		// Flags are spliced into YAML: a newline must not add a key.
		{[]string{"init", "--domain", "example.org\nsynapse: {extra: {a: 1}}"}, 1},
		{[]string{"init", "--domain", "example.org", "--acme-email", "a@example.org\ndomain: evil.example"}, 1},

		// Fine.
		{[]string{"validate", "-c", good}, 0},
		{[]string{"check", "-c", good, "-o", out}, 0},
		{[]string{"build", "-c", good, "-o", out}, 0},
		{[]string{"build", "-c", good, "-o", filepath.Join(dir, "stale")}, 0},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(tc.args, &stdout, &stderr)
		if code != tc.want {
			t.Errorf("matrixgen %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s",
				strings.Join(tc.args, " "), code, tc.want, stdout.String(), stderr.String())
			continue
		}
		if code != 0 && stderr.Len() == 0 {
			t.Errorf("matrixgen %s: exit status %d with nothing on stderr", strings.Join(tc.args, " "), code)
		}
	}

	if data, err := os.ReadFile(filepath.Join(dir, "existing.yaml")); err != nil || string(data) != "# mine\n" {
		t.Errorf("init overwrote an existing file: %q, %v", data, err)
	}
	if data, err := os.ReadFile(filepath.Join(foreign, "keep.txt")); err != nil || string(data) != "keep\n" {
		t.Errorf("build replaced a foreign directory: %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "never")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a build with an invalid config created its output directory: %v", err)
	}
}
