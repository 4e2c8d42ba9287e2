package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiffCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "matrix.yaml")
	base := "domain: example.org\ntraefik:\n  acme_email: admin@example.org\n"
	write := func(extra string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(base+extra), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	write("")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"build", "-c", cfg, "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("build exited %d: %s", code, stderr.String())
	}

	stdout.Reset()
	if code := Main([]string{"diff", "-c", cfg, "-o", out}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "no changes") {
		t.Errorf("diff of an unchanged config: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}

	write("synapse:\n  max_upload_size_mb: 77\n")
	stdout.Reset()
	code := Main([]string{"diff", "-c", cfg, "-o", out}, &stdout, &stderr)
	got := stdout.String()
	if code != 1 {
		t.Errorf("diff of a changed config exited %d, want 1", code)
	}
	summary, diff, _ := strings.Cut(got, "\n\n")
	want := "On a host where " + out + " is applied, install.sh would:\n" +
		"  install /matrix/synapse/config/homeserver.yaml\n" +
		"  install /matrix/traefik/config/dynamic/matrixgen.yml\n" +
		"  restart matrix-synapse\n" +
		"files: 2 installed, 0 removed; units: 1 restarted, 0 started, 0 stopped; images pulled: 0"
	if summary != want {
		t.Errorf("summary:\n%s\nwant:\n%s", summary, want)
	}
	if !strings.Contains(diff, "+++ b/matrix/synapse/config/homeserver.yaml") || !strings.Contains(diff, `+max_upload_size: "77M"`) {
		t.Errorf("no unified diff of homeserver.yaml after the summary:\n%s", diff)
	}

	stderr.Reset()
	if code := Main([]string{"diff", "-c", cfg, "-o", filepath.Join(dir, "missing")}, &stdout, &stderr); code != 1 {
		t.Errorf("diff against no bundle exited %d, want 1 (everything is new)", code)
	}
	if code := Main([]string{"diff", "-c", cfg}, &stdout, &stderr); code != exitUsage {
		t.Errorf("diff without -o exited %d, want %d", code, exitUsage)
	}
}
