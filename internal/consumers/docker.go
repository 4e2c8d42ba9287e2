package consumers

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// deadDockerHost is a socket that cannot exist (/dev/null is not a
// directory), so the docker CLI parses its whole command line, env files
// included, and only then fails to connect. No daemon is needed, and none is
// ever reached by accident.
const deadDockerHost = "unix:///dev/null/docker.sock"

// connectionFailed is the docker CLI's error once the command line was
// accepted and the daemon was not there. Both outcomes exit with status 125
// for "docker run" and 1 for "docker create", so the text is the only way to
// tell a rejected command line from a good one. "docker run" prefixes
// "docker: " and both may add a line pointing at --help.
var connectionFailed = regexp.MustCompile(`^(?:docker: )?Cannot connect to the Docker daemon at ` +
	regexp.QuoteMeta(deadDockerHost) + `\. Is the docker daemon running\?(?:\n+(?:Run|See) 'docker [a-z ]+ --help' for more information)?$`)

// DockerEnvFile has the docker CLI parse the env file at path (as
// --env-file) and returns its variables, parsed by us with docker's rules:
// one KEY=VALUE per line, the value verbatim up to the end of the line (no
// quotes, no escapes, no expansion, trailing blanks kept), leading blanks
// before the key dropped, blank lines and lines starting with # skipped, a
// UTF-8 BOM at the start ignored.
//
// Docker accepts more than a generated file should contain, so these fail
// here although docker takes them: a line without "=", which docker fills
// from the environment of whoever runs it; a NUL or CR byte, which cannot
// reach the container intact; a key given twice.
//
// Requires the docker CLI (docker.io or docker-ce-cli); no daemon.
func DockerEnvFile(t testing.TB, path string) map[string]string {
	t.Helper()
	docker := Require(t, "docker", "docker.io")
	vars, problems, err := dockerEnvFileCheck(docker, path)
	if err != nil {
		t.Fatalf("checking env file %s: %v", path, err)
	}
	if len(problems) > 0 {
		t.Errorf("env file %s is not usable by docker:\n%s", path, indent(strings.Join(problems, "\n")))
	}
	return vars
}

// dockerEnvFileCheck returns our parse of the env file and everything wrong
// with it, docker's objection first. err is for failures to run the check.
func dockerEnvFileCheck(docker, path string) (map[string]string, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	var problems []string
	// The env file is read in its own directory so that docker's message
	// names it by its base name, not by a temporary absolute path.
	msg, err := dockerAccepts(docker, filepath.Dir(abs),
		"create", "--env-file", filepath.Base(abs), "busybox")
	if err != nil {
		return nil, nil, err
	}
	if msg != "" {
		problems = append(problems, msg)
	}
	vars, ours := parseEnvFile(data)
	return vars, append(problems, ours...), nil
}

// parseEnvFile follows the docker CLI's env file reader
// (docker/cli opts/envfile.go) and adds the stricter rules for generated
// files described at DockerEnvFile.
func parseEnvFile(data []byte) (map[string]string, []string) {
	vars := map[string]string{}
	var problems []string
	line := 0
	for len(data) > 0 {
		line++
		raw := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		// bufio.ScanLines, which docker uses, drops one CR before the LF;
		// any CR is still a sign of a file written for another platform.
		if bytes.IndexByte(raw, '\r') >= 0 {
			problems = append(problems, fmt.Sprintf("line %d: carriage return", line))
		}
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		if bytes.IndexByte(raw, 0) >= 0 {
			problems = append(problems, fmt.Sprintf("line %d: NUL byte", line))
		}
		if !utf8.Valid(raw) {
			problems = append(problems, fmt.Sprintf("line %d: invalid UTF-8", line))
			continue
		}
		text := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, hasValue := strings.Cut(text, "=")
		switch {
		case key == "":
			problems = append(problems, fmt.Sprintf("line %d: no variable name", line))
			continue
		case strings.ContainsAny(key, " \t"):
			problems = append(problems, fmt.Sprintf("line %d: variable %q contains whitespace", line, key))
			continue
		case !hasValue:
			problems = append(problems, fmt.Sprintf("line %d: %q has no '=', so docker would take its value from the environment it runs in", line, key))
			continue
		}
		if _, dup := vars[key]; dup {
			problems = append(problems, fmt.Sprintf("line %d: %s set again", line, key))
		}
		vars[key] = value
	}
	return vars, problems
}

// DockerCreateArgs checks that args, a command line for "docker create" or
// "docker run" without the leading "docker", gets through the docker CLI's
// flag parsing and validation. Some values are checked only by the daemon
// (a --restart policy, the mode of a -v mount), so passing here does not
// prove the daemon will take them.
//
// Requires the docker CLI (docker.io or docker-ce-cli); no daemon.
func DockerCreateArgs(t testing.TB, args []string) {
	t.Helper()
	docker := Require(t, "docker", "docker.io")
	msg, err := dockerCreateArgsOutput(docker, args)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	if msg != "" {
		t.Errorf("docker rejects the command line\n\tdocker %s\n%s", shellQuoteArgs(args), indent(msg))
	}
}

// dockerCreateArgsOutput returns docker's objection to args, or "" when the
// command line was accepted.
func dockerCreateArgsOutput(docker string, args []string) (string, error) {
	if err := checkSubcommand(args); err != nil {
		return "", err
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return dockerAccepts(docker, dir, args...)
}

// checkSubcommand keeps global flags such as -H or --context out, since
// they could send the command to a real daemon.
func checkSubcommand(args []string) error {
	switch {
	case len(args) >= 1 && (args[0] == "create" || args[0] == "run"):
		return nil
	case len(args) >= 2 && args[0] == "container" && (args[1] == "create" || args[1] == "run"):
		return nil
	}
	return fmt.Errorf("want a command line starting with create or run, got %q", args)
}

// dockerAccepts runs docker with args against deadDockerHost and returns ""
// if it got as far as connecting, else what it printed.
func dockerAccepts(docker, dir string, args ...string) (string, error) {
	cfg, err := os.MkdirTemp("", "consumers-docker-config-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(cfg)
	// An empty DOCKER_CONFIG leaves out the caller's contexts, aliases and
	// CLI plugins, and the DOCKER_ variables dropped here could point the CLI
	// at a real daemon.
	env := cleanEnv([]string{"DOCKER_"},
		"DOCKER_HOST="+deadDockerHost,
		"DOCKER_CONFIG="+cfg,
		"DOCKER_CLI_HINTS=false",
	)
	out, err := run(dir, env, docker, args...)
	if err != nil && !isExit(err) {
		return "", err
	}
	out = strings.TrimSpace(out)
	if err != nil && connectionFailed.MatchString(out) {
		return "", nil
	}
	if err == nil {
		return "", fmt.Errorf("docker exited 0 although %s cannot be reached; output:\n%s", deadDockerHost, out)
	}
	return tidyDockerError(out), nil
}

// dockerHelpLine is the usage boilerplate docker appends to every error.
var dockerHelpLine = regexp.MustCompile(`^(?:Usage: .*|(?:Run|See) 'docker [a-z ]+ --help' for more information\.?)$`)

// tidyDockerError keeps the lines of docker's error that say what is wrong.
func tidyDockerError(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" && !dockerHelpLine.MatchString(strings.TrimSpace(l)) {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return out
	}
	return strings.Join(keep, "\n")
}

func shellQuoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '=' || r == ',' ||
				r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
