package escape

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// systemdAnalyze returns the path of systemd-analyze, skipping the test when
// it is missing, except in CI where a silent skip would hide a regression.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("systemd-analyze not found; CI must run this test (apt-get install systemd)")
	}
	t.Skip("systemd-analyze not found; install it with: apt-get install systemd")
	return ""
}

// verifyUnit runs systemd-analyze verify on unit and returns its combined
// output. It exits 0 on warnings, so callers judge the output, not the code.
func verifyUnit(t *testing.T, bin, unit string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "escape-probe.service")
	if err := os.WriteFile(file, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", "--man=no", "--recursive-errors=no", file).CombinedOutput()
	if err != nil {
		t.Logf("systemd-analyze verify: %v", err)
	}
	return string(out)
}

// probeUnit puts the values at the end of their lines, followed by a line
// that systemd ignores on its own but fails on ("%z" is no specifier) if a
// value ending in a backslash made it a continuation line.
func probeUnit(description string, argv []string) string {
	return "[Unit]\nDescription=" + SystemdValue(description) + "\nX-Probe=%z\n\n" +
		"[Service]\nType=oneshot\nExecStart=" + SystemdArgv(argv) + "\nX-Probe=%z\n"
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	t.Parallel()
	bin := systemdAnalyze(t)
	argv := []string{"/bin/echo"}
	for _, h := range hostile {
		if !hasNUL(h.s) {
			argv = append(argv, h.s)
		}
	}
	description := strings.Join(argv[1:], "|") + `\`
	if out := verifyUnit(t, bin, probeUnit(description, argv)); out != "" {
		t.Fatalf("systemd-analyze verify complained:\n%s", out)
	}
}

// TestSystemdAnalyzeNUL documents that an escaped NUL is not passed silently:
// systemd refuses to decode it and says so.
func TestSystemdAnalyzeNUL(t *testing.T) {
	t.Parallel()
	bin := systemdAnalyze(t)
	if out := verifyUnit(t, bin, probeUnit("ok", []string{"/bin/echo", "a\x00b"})); !strings.Contains(out, "escape") {
		t.Fatalf("systemd-analyze verify accepted an escaped NUL silently: %q", out)
	}
}

// TestSystemdAnalyzeProbe shows the verify test can fail: each unit holds
// one unescaped value of a kind the helpers guard against, and
// systemd-analyze must name that problem.
func TestSystemdAnalyzeProbe(t *testing.T) {
	t.Parallel()
	bin := systemdAnalyze(t)
	const service = "[Service]\nType=oneshot\nExecStart=/bin/echo "
	for _, tc := range []struct{ unit, want string }{
		{"[Unit]\nDescription=continued \\\nX-Probe=%z\n" + service + "ok\n", "X-Probe=%z"},
		{service + `"\q"` + "\n", "unknown escape"},
		{service + "100%z\n", "specifiers in 100%z"},
	} {
		if out := verifyUnit(t, bin, tc.unit); !strings.Contains(out, tc.want) {
			t.Errorf("systemd-analyze verify of %q said %q, want it to mention %q", tc.unit, out, tc.want)
		}
	}
}
