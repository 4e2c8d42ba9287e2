package consumers

import (
	"path/filepath"
	"strings"
	"testing"
)

// PromtoolConfig runs promtool check config on a Prometheus configuration,
// which also checks every rule file it names (relative to the file), and
// requires success.
//
// Requires promtool (Debian package prometheus).
func PromtoolConfig(t testing.TB, file string) {
	t.Helper()
	promtool(t, "config", file)
}

// PromtoolRules runs promtool check rules on rule files: their YAML, every
// PromQL expression and the templates of their annotations.
//
// Requires promtool (Debian package prometheus).
func PromtoolRules(t testing.TB, files ...string) {
	t.Helper()
	if len(files) == 0 {
		t.Fatalf("PromtoolRules: no files given")
	}
	promtool(t, "rules", files...)
}

func promtool(t testing.TB, what string, files ...string) {
	t.Helper()
	Require(t, "promtool", "prometheus")
	dir := filepath.Dir(files[0])
	args := []string{"check", what}
	for _, f := range files {
		args = append(args, relTo(dir, f))
	}
	out, err := run(dir, cleanEnv(nil), "promtool", args...)
	if err != nil && !isExit(err) {
		t.Fatalf("promtool: %v", err)
	}
	if err != nil || !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check %s rejects %s (%s):\n%s", what, strings.Join(files, " "), exitText(err), indent(out))
	}
}
