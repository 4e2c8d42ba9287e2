package consumers

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostTools are programs our units execute that come from a package the
// target host must have, not from the bundle. When one is missing on the test
// machine systemd-analyze reports "Command /usr/bin/docker is not executable",
// which says nothing about the unit, so the check is skipped instead: the test
// machine must have docker installed (Debian docker.io, or docker-ce-cli from
// Docker's repository), otherwise the test is skipped, and fails under CI=true.
var hostTools = map[string]string{
	"docker": "docker.io",
}

// systemdSearchPath is where systemd looks up an ExecStart= command given
// without a slash (systemd.service(5), "Command lines"). It is fixed at build
// time of systemd, not taken from the environment.
var systemdSearchPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// SystemdVerify runs "systemd-analyze verify" on units, which are paths
// inside unitDir (absolute, or relative to unitDir), in one call, and requires
// exit status 0 and no output at all: systemd only warns about most mistakes
// (an unknown key, a value it cannot parse) and then ignores the line.
//
// Pass every unit of the bundle at once. With --recursive-errors=no systemd
// checks only the given files and does not complain that a dependency such as
// docker.service cannot be found, so the result does not depend on what the
// test machine has installed. The flip side: a Requires= or After= naming a
// unit that exists nowhere is not reported either.
//
// Requires systemd-analyze (Debian package systemd) and, for units that run
// docker, the docker CLI (docker.io or docker-ce-cli) at the path the units
// name.
func SystemdVerify(t testing.TB, unitDir string, units []string) {
	t.Helper()
	Require(t, "systemd-analyze", "systemd")
	if len(units) == 0 {
		t.Fatalf("SystemdVerify: no units given for %s", unitDir)
	}
	paths := unitPaths(unitDir, units)
	for _, p := range paths {
		missing, err := missingHostTools(p)
		if err != nil {
			t.Fatalf("SystemdVerify: %v", err)
		}
		for _, m := range missing {
			unavailable(t, fmt.Sprintf("%s runs %s, which is not on this machine, so systemd-analyze would reject it; apt-get install -y %s",
				relTo(unitDir, p), m.command, hostTools[filepath.Base(m.command)]))
		}
	}
	out, err := systemdVerifyOutput(unitDir, paths)
	if err != nil && !isExit(err) {
		t.Fatalf("systemd-analyze verify: %v", err)
	}
	if out != "" || err != nil {
		t.Errorf("systemd-analyze verify rejects units in %s (%v):\n%s", unitDir, exitText(err), indent(out))
	}
}

// SystemdVerifyRoot is SystemdVerify for units that run programs of the
// bundle (the host jobs' scripts): systemd-analyze verify --root=root
// looks for their commands and for units under root, the bundle as it is
// installed. units are paths under root's /etc/systemd/system.
//
// Requires systemd-analyze (Debian package systemd).
func SystemdVerifyRoot(t testing.TB, root string, units []string) {
	t.Helper()
	Require(t, "systemd-analyze", "systemd")
	if len(units) == 0 {
		t.Fatalf("SystemdVerifyRoot: no units given for %s", root)
	}
	args := []string{"verify", "--man=no", "--recursive-errors=no", "--root=" + root}
	for _, u := range units {
		args = append(args, "/etc/systemd/system/"+u)
	}
	out, err := run(root, cleanEnv([]string{"SYSTEMD_"}, "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=cat"), "systemd-analyze", args...)
	if err != nil && !isExit(err) {
		t.Fatalf("systemd-analyze verify: %v", err)
	}
	if out != "" || err != nil {
		t.Errorf("systemd-analyze verify --root=%s rejects units (%v):\n%s", root, exitText(err), indent(out))
	}
}

// systemdVerifyOutput returns what systemd-analyze verify printed, with
// unitDir cut from file names. err is non-nil for a non-zero exit.
func systemdVerifyOutput(unitDir string, units []string) (string, error) {
	unitDir = filepath.Clean(unitDir)
	args := append([]string{"verify", "--man=no", "--recursive-errors=no"}, unitPaths(unitDir, units)...)
	// The trailing ':' appends systemd's default search path, so units that
	// the host provides (multi-user.target, network-online.target) still
	// resolve. Naming unitDir first makes our copies win over any installed
	// unit of the same name, and the value replaces whatever SYSTEMD_UNIT_PATH
	// the caller had, which would otherwise be appended.
	env := cleanEnv([]string{"SYSTEMD_"},
		"SYSTEMD_UNIT_PATH="+unitDir+":",
		"SYSTEMD_LOG_COLOR=0",
		"SYSTEMD_PAGER=cat",
	)
	out, err := run(unitDir, env, "systemd-analyze", args...)
	out = strings.ReplaceAll(out, unitDir+string(filepath.Separator), "")
	return out, err
}

func unitPaths(unitDir string, units []string) []string {
	paths := make([]string, len(units))
	for i, u := range units {
		if !filepath.IsAbs(u) {
			u = filepath.Join(unitDir, u)
		}
		paths[i] = filepath.Clean(u)
	}
	return paths
}

// execKeys are the [Service] settings whose first word systemd resolves as
// a program at load time.
var execKeys = map[string]bool{
	"ExecCondition": true, "ExecStartPre": true, "ExecStart": true, "ExecStartPost": true,
	"ExecReload": true, "ExecStop": true, "ExecStopPost": true,
}

type execCommand struct {
	key, command string
}

// missingHostTools lists the Exec*= commands of a unit file that systemd
// would look for and not find, limited to hostTools. Any other missing
// command is left for systemd-analyze to report, because that is a bug in
// the unit.
func missingHostTools(path string) ([]execCommand, error) {
	cmds, err := execCommands(path)
	if err != nil {
		return nil, err
	}
	var missing []execCommand
	for _, c := range cmds {
		if _, ok := hostTools[filepath.Base(c.command)]; !ok {
			continue
		}
		if !systemdFinds(c.command) {
			missing = append(missing, c)
		}
	}
	return missing, nil
}

func systemdFinds(command string) bool {
	if strings.Contains(command, "/") {
		return isExecutable(command)
	}
	for _, dir := range systemdSearchPath {
		if isExecutable(filepath.Join(dir, command)) {
			return true
		}
	}
	return false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// execCommands reads the command word of every Exec*= line. It understands
// only as much unit syntax as that needs: continuation lines and the
// "@-:+!|" prefixes. A "-" prefix tells systemd not to check the command, so
// such lines are left out.
func execCommands(path string) ([]execCommand, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cmds []execCommand
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	var line string
	for sc.Scan() {
		line += sc.Text()
		if strings.HasSuffix(line, `\`) {
			line = strings.TrimSuffix(line, `\`) + " "
			continue
		}
		logical := strings.TrimSpace(line)
		line = ""
		key, value, ok := strings.Cut(logical, "=")
		key = strings.TrimSpace(key)
		if !ok || !execKeys[key] {
			continue
		}
		word, _, _ := strings.Cut(strings.TrimSpace(value), " ")
		prefix := word[:len(word)-len(strings.TrimLeft(word, "@-:+!|"))]
		word = word[len(prefix):]
		if word == "" || strings.Contains(prefix, "-") {
			continue
		}
		cmds = append(cmds, execCommand{key: key, command: strings.Trim(word, `"'`)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return cmds, nil
}

// exitText turns a tool's exit status into words for a failure message.
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	return err.Error()
}
