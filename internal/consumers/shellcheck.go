package consumers

import (
	"path/filepath"
	"strings"
	"testing"
)

// Shellcheck runs shellcheck on files as POSIX sh scripts with every
// severity down to style enabled, and requires exit status 0. The files are
// checked in one run from their deepest common directory, and shellcheck's
// report names them relative to it.
//
// Sourced files are followed relative to the script that sources them, so a
// bundle script may source a sibling from the bundle; sourcing a file that is
// only on the host is reported (SC1091) unless the script carries a
// "# shellcheck source=" directive.
//
// Requires shellcheck (Debian package shellcheck).
func Shellcheck(t testing.TB, files ...string) {
	t.Helper()
	Require(t, "shellcheck", "shellcheck")
	if len(files) == 0 {
		t.Fatalf("Shellcheck: no files given")
	}
	out, err := shellcheckOutput(files)
	if err != nil && !isExit(err) {
		t.Fatalf("shellcheck: %v", err)
	}
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("shellcheck rejects scripts (%s):\n%s", exitText(err), indent(out))
	}
}

// shellcheckOutput returns shellcheck's report on files; err is non-nil for
// a non-zero exit.
func shellcheckOutput(files []string) (string, error) {
	abs := make([]string, len(files))
	for i, f := range files {
		a, err := filepath.Abs(f)
		if err != nil {
			return "", err
		}
		abs[i] = a
	}
	dir := commonDir(abs)
	args := []string{
		"--norc", // a developer's ~/.shellcheckrc must not relax the check
		"--shell=sh",
		"--severity=style",
		"--color=never",
		"--external-sources",
		"--source-path=SCRIPTDIR",
	}
	for _, a := range abs {
		args = append(args, relTo(dir, a))
	}
	return run(dir, cleanEnv([]string{"SHELLCHECK_OPTS="}), "shellcheck", args...)
}

// commonDir is the deepest directory that holds every one of paths, which
// must be absolute and clean.
func commonDir(paths []string) string {
	dir := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for dir != filepath.Dir(dir) && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			dir = filepath.Dir(dir)
		}
	}
	return dir
}
