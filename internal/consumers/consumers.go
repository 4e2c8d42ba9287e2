// Package consumers runs the real programs that read a generated bundle
// (systemd, shellcheck, the docker CLI) and the upstream schemas of Synapse
// and Traefik against generated files, for use from tests.
//
// A golden file only proves that output did not change; these checks prove
// that the program on the other end accepts it. Every function takes the
// test first and reports through it, naming files relative to the directory
// it was given.
//
// A missing tool skips the test with an install hint, except under CI=true,
// where a silently skipped consumer would let a broken bundle through.
package consumers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// toolTimeout bounds one run of an external checker. It is a guard against
// a hung tool, not an expectation about speed.
const toolTimeout = 2 * time.Minute

// Require returns the path of tool from PATH. When the tool is missing the
// test is skipped with "apt-get install -y debPackage" as the hint, or fails
// when CI=true.
func Require(t testing.TB, tool, debPackage string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		unavailable(t, fmt.Sprintf("%s not installed; apt-get install -y %s", tool, debPackage))
	}
	return path
}

// unavailable is the one place that decides between skip and failure for a
// checker that cannot run on this machine.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if inCI() {
		t.Fatalf("%s (CI=true, so this is a failure, not a skip)", msg)
	}
	t.Skip(msg)
}

func inCI() bool { return os.Getenv("CI") == "true" }

// run executes name with args and returns stdout and stderr interleaved as
// the tool wrote them. A non-zero exit is returned as *exec.ExitError with
// the output intact, so callers can judge the text themselves.
func run(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("%s did not finish within %s", name, toolTimeout)
	}
	return out.String(), err
}

// isExit reports whether err is only the tool's non-zero exit status, as
// opposed to the tool not starting at all.
func isExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

// cleanEnv is the caller's environment without variables that would make a
// tool read configuration other than what the test hands it, plus extra.
// LC_ALL=C keeps messages in the English these checks match on.
func cleanEnv(dropPrefixes []string, extra ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range dropPrefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		if strings.HasPrefix(kv, "LC_ALL=") || strings.HasPrefix(kv, "LANGUAGE=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C")
	return append(env, extra...)
}

// relTo shows path relative to base when it lies inside it.
func relTo(base, path string) string {
	if rel, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return path
}

// indent makes multi-line tool output readable inside a t.Errorf message.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}
