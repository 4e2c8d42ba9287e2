package consumers

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// recorder stands in for the test handed to a checker, so that a skip or a
// failure of the checker can be observed instead of ending this test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}

// record runs f as a test would run it, stopping where f would stop.
func record(t *testing.T, f func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestRequire(t *testing.T) {
	const missing = "matrixgen-no-such-tool"

	t.Setenv("CI", "")
	r := record(t, func(tb testing.TB) { Require(tb, missing, "some-package") })
	if !r.skipped || r.failed || !strings.Contains(r.msg, "apt-get install -y some-package") {
		t.Errorf("without CI: skipped=%v failed=%v msg=%q; want a skip with the install hint", r.skipped, r.failed, r.msg)
	}

	t.Setenv("CI", "true")
	r = record(t, func(tb testing.TB) { Require(tb, missing, "some-package") })
	if !r.failed || r.skipped || !strings.Contains(r.msg, "apt-get install -y some-package") {
		t.Errorf("with CI=true: skipped=%v failed=%v msg=%q; want a failure with the install hint", r.skipped, r.failed, r.msg)
	}

	if got := Require(t, "sh", "dash"); !filepath.IsAbs(got) {
		t.Errorf("Require(sh) = %q, want an absolute path", got)
	}
}

const goodUnit = `[Unit]
Description=Matrix Synapse
Requires=matrix-postgres.service
After=matrix-postgres.service

[Service]
Type=simple
ExecStart=/bin/sh -c 'exec sleep infinity'
Restart=always
RestartSec=30

[Install]
WantedBy=multi-user.target
`

const postgresUnit = `[Unit]
Description=Matrix Postgres

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`

func TestSystemdVerifyGood(t *testing.T) {
	dir := t.TempDir()
	SystemdVerify(t, dir, []string{
		writeFile(t, dir, "matrix-synapse.service", goodUnit),
		writeFile(t, dir, "matrix-postgres.service", postgresUnit),
	})
}

// Units that run docker and depend on docker.service, which the test
// machine need not have: with --recursive-errors=no that is not an error.
func TestSystemdVerifyDockerUnits(t *testing.T) {
	dir := t.TempDir()
	unit := strings.NewReplacer(
		"Requires=matrix-postgres.service", "Requires=docker.service matrix-postgres.service",
		"After=matrix-postgres.service", "After=docker.service matrix-postgres.service",
		"/bin/sh -c 'exec sleep infinity'", "docker run --rm --name matrix-synapse busybox sleep infinity\nExecStop=-docker stop matrix-synapse",
	).Replace(goodUnit)
	writeFile(t, dir, "matrix-postgres.service", postgresUnit)
	writeFile(t, dir, "matrix-synapse.service", unit)
	SystemdVerify(t, dir, []string{"matrix-synapse.service", "matrix-postgres.service"})
}

// On a machine without docker at the path a unit names, the check cannot
// tell a good unit from a bad one, so it steps aside.
func TestSystemdVerifyMissingDocker(t *testing.T) {
	Require(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	writeFile(t, dir, "matrix-synapse.service", strings.Replace(goodUnit, "/bin/sh -c 'exec sleep infinity'", "/nonexistent/docker run x", 1))
	writeFile(t, dir, "matrix-postgres.service", postgresUnit)
	t.Setenv("CI", "")
	r := record(t, func(tb testing.TB) {
		SystemdVerify(tb, dir, []string{"matrix-synapse.service", "matrix-postgres.service"})
	})
	want := "matrix-synapse.service runs /nonexistent/docker, which is not on this machine"
	if !r.skipped || !strings.Contains(r.msg, want) || !strings.Contains(r.msg, "apt-get install -y docker.io") {
		t.Errorf("skipped=%v failed=%v msg=%q; want a skip saying %q", r.skipped, r.failed, r.msg, want)
	}
}

func TestSystemdVerifyBad(t *testing.T) {
	Require(t, "systemd-analyze", "systemd")
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"unknown key", "Restart=always", "Restart=always\nFoo=bar", "bad.service:10: Unknown key 'Foo' in section [Service]"},
		{"relative command", "/bin/sh -c 'exec sleep infinity'", "relative/path", "relative/path"},
		{"bad value", "RestartSec=30", "RestartSec=banana", "banana"},
		{"missing command", "/bin/sh -c 'exec sleep infinity'", "/nonexistent/matrixgen-tool", "/nonexistent/matrixgen-tool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			unit := strings.Replace(goodUnit, tc.from, tc.to, 1)
			writeFile(t, dir, "matrix-postgres.service", postgresUnit)
			writeFile(t, dir, "bad.service", unit)
			out, err := systemdVerifyOutput(dir, []string{"bad.service", "matrix-postgres.service"})
			if out == "" {
				t.Fatalf("systemd-analyze printed nothing (%v) for\n%s", err, unit)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output does not mention %q:\n%s", tc.want, out)
			}
			if strings.Contains(out, dir) {
				t.Errorf("output names files by absolute path:\n%s", out)
			}
		})
	}
}

func TestExecCommands(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "x.service", `[Service]
ExecStartPre=-/usr/bin/docker rm -f x
ExecStart=@/nonexistent/docker \
  run x
ExecStop=docker stop x
# ExecReload=/usr/bin/docker kill x
ExecStopPost=
`)
	got, err := execCommands(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []execCommand{{"ExecStart", "/nonexistent/docker"}, {"ExecStop", "docker"}}
	if !slices.Equal(got, want) {
		t.Errorf("execCommands = %v, want %v", got, want)
	}
	missing, err := missingHostTools(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) == 0 || missing[0].command != "/nonexistent/docker" {
		t.Errorf("missingHostTools = %v, want /nonexistent/docker first", missing)
	}
}

func TestShellcheck(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "install.sh", `#!/bin/sh
set -eu
. ./lib/common.sh
say "$@"
`)
	lib := writeFile(t, dir, "lib/common.sh", `# shellcheck shell=sh
say() {
	printf '%s\n' "$*"
}
`)
	Shellcheck(t, good, lib)

	bad := writeFile(t, dir, "scripts/upgrade.sh", `#!/bin/sh
x=$1
if [[ -n "$x" ]]; then echo $x; fi
`)
	out, err := shellcheckOutput([]string{good, bad})
	if err == nil || out == "" {
		t.Fatalf("shellcheck accepted a bash-only script (err=%v):\n%s", err, out)
	}
	for _, want := range []string{"scripts/upgrade.sh line 3", "SC3010", "SC2086"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not mention %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, dir) {
		t.Errorf("output names files by absolute path:\n%s", out)
	}
}

func TestCommonDir(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{"/a/b/c.sh"}, "/a/b"},
		{[]string{"/a/b/c.sh", "/a/b/d/e.sh"}, "/a/b"},
		{[]string{"/a/bc/x.sh", "/a/b/y.sh"}, "/a"},
		{[]string{"/x.sh", "/a/y.sh"}, "/"},
	} {
		if got := commonDir(tc.paths); got != tc.want {
			t.Errorf("commonDir(%q) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}

const homeserver = `server_name: "example.org"
pid_file: /data/homeserver.pid
public_baseurl: "https://matrix.example.org/"
report_stats: false
listeners:
  - port: 8008
    tls: false
    type: http
    x_forwarded: true
    bind_addresses: ["::"]
    resources:
      - names: [client, federation]
        compress: false
database:
  name: psycopg2
  txn_limit: 10000
  args:
    user: synapse
    password_file: /run/secrets/postgres
    database: synapse
    host: matrix-postgres
    port: 5432
    cp_min: 5
    cp_max: 10
log_config: /data/example.org.log.config
media_store_path: /media-store
max_upload_size: 50M
signing_key_path: /data/example.org.signing.key
macaroon_secret_key_path: /secrets/macaroon
enable_registration: false
trusted_key_servers:
  - server_name: "matrix.org"
`

func synapseSchemaForTest(t *testing.T) *schema {
	return loadSchema(t, synapseSchemaFile)
}

func TestSynapseSchemaGood(t *testing.T) {
	SynapseSchema(t, []byte(homeserver))
}

func TestSynapseSchemaBad(t *testing.T) {
	sch := synapseSchemaForTest(t)
	for _, tc := range []struct {
		name, from, to string
		want           []string
	}{
		{"port as string", "port: 8008", `port: "8008"`, []string{"6:11: /listeners/0/port: got string, want integer"}},
		{"size as list", "max_upload_size: 50M", "max_upload_size: [1]", []string{"27:18: /max_upload_size: got array, want integer or string"}},
		{"enum", "type: http", "type: https", []string{"8:11: /listeners/0/type:"}},
		{"typo", "enable_registration: false", "enable_registation: false", []string{`30:1: enable_registation: not an option in Synapse's config schema (did you mean "enable_registration"?)`}},
		{"yaml 1.1 bool", "x_forwarded: true", "x_forwarded: on", []string{`9:18: plain "on" is !!bool in YAML 1.1`, "/listeners/0/x_forwarded: got string, want boolean"}},
		{"yaml 1.1 bool key", "report_stats: false", "report_stats: false\non: 1", []string{`5:1: plain "on" is !!bool in YAML 1.1`, "on: not an option"}},
		{"yaml 1.1 base 60", `server_name: "example.org"`, "server_name: 12:30", []string{`1:14: plain "12:30" is !!int in YAML 1.1`}},
		{"float without dot", "max_upload_size: 50M", "max_upload_size: 1e+06", []string{`27:18: plain "1e+06" is !!str in YAML 1.1`}},
		{"two documents", "", "---\n", []string{"a second YAML document"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(homeserver, tc.from, tc.to, 1)
			if tc.from == "" {
				doc = homeserver + tc.to + homeserver
			}
			problems := synapseProblems(sch, []byte(doc))
			all := strings.Join(problems, "\n")
			for _, want := range tc.want {
				if !strings.Contains(all, want) {
					t.Errorf("problems do not mention %q:\n%s", want, all)
				}
			}
		})
	}
}

func TestYAML11(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want int
	}{
		{`a: "on"`, 0},
		{`a: 'no'`, 0},
		{"a: !!str yes", 0},
		{"a: |\n  off\n", 0},
		{"a: true", 0},
		{"a: 8008", 0},
		{"a: 0.5", 0},
		{"a: ~", 0},
		{"a: hello", 0},
		{"a: 2001-12-14", 0},
		{"a: [y, N, Yes, OFF]", 4},
		{"a: 010", 0},  // octal 8 for both
		{"a: 0o10", 1}, // octal for YAML 1.2, a string for YAML 1.1
		{"a: 09", 1},
		{"a: =", 1},
		{"a: 1:20", 1},
	} {
		var problems []string
		doc, err := parseOneDocument([]byte(tc.doc))
		if err != nil {
			t.Errorf("%q: %v", tc.doc, err)
			continue
		}
		problems = yaml11Problems(doc)
		if len(problems) != tc.want {
			t.Errorf("%q: %d problems, want %d: %q", tc.doc, len(problems), tc.want, problems)
		}
	}
}

const traefikDynamic = `http:
  routers:
    matrix-synapse-client:
      rule: "Host(` + "`matrix.example.org`" + `) && PathPrefix(` + "`/_matrix`" + `)"
      entryPoints: [web-secure]
      service: matrix-synapse-client
      priority: 100
      tls:
        certResolver: default
  services:
    matrix-synapse-client:
      loadBalancer:
        servers:
          - url: "http://matrix-synapse:8008"
        passHostHeader: true
  middlewares:
    strip-admin:
      stripPrefix:
        prefixes: ["/admin"]
`

func TestTraefikSchemaGood(t *testing.T) {
	TraefikSchema(t, []byte(traefikDynamic))
}

func TestTraefikSchemaBad(t *testing.T) {
	sch := loadSchema(t, traefikSchemaFile)
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"rule as number", `rule: "Host(`, "rule: 5\n      x: \"Host(", "/http/routers/matrix-synapse-client/rule: got number, want string"},
		{"unknown key", "priority: 100", "prio: 100", "/http/routers/matrix-synapse-client: additional properties 'prio' not allowed"},
		{"unknown section", "http:", "htp:", "additional properties 'htp' not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(traefikDynamic, tc.from, tc.to, 1)
			problems := traefikProblems(sch, []byte(doc))
			all := strings.Join(problems, "\n")
			if !strings.Contains(all, tc.want) {
				t.Errorf("problems do not mention %q:\n%s", tc.want, all)
			}
		})
	}
}

func TestDockerEnvFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "env", "# generated by matrixgen; do not edit\n\nA=1\n  B=two words \nC=\"quoted\"\nD=#not a comment\nE=\nF=x=y\n")
	got := DockerEnvFile(t, path)
	want := map[string]string{"A": "1", "B": "two words ", "C": `"quoted"`, "D": "#not a comment", "E": "", "F": "x=y"}
	if !maps.Equal(got, want) {
		t.Errorf("DockerEnvFile = %q, want %q", got, want)
	}
}

func TestDockerEnvFileBad(t *testing.T) {
	docker := Require(t, "docker", "docker.io")
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"space in key", "A=1\nBAD KEY=x\n", []string{"invalid env file (env): variable 'BAD KEY' contains whitespaces", `line 2: variable "BAD KEY" contains whitespace`}},
		{"no name", "=x\n", []string{"no variable name", "line 1: no variable name"}},
		{"invalid utf8", "A=\xff\n", []string{"invalid utf8", "line 1: invalid UTF-8"}},
		// Docker takes these; a generated file must not contain them.
		{"nul", "A=1\x002\n", []string{"line 1: NUL byte"}},
		{"from environment", "HOME\n", []string{`line 1: "HOME" has no '='`}},
		{"crlf", "A=1\r\n", []string{"line 1: carriage return"}},
		{"twice", "A=1\nA=2\n", []string{"line 2: A set again"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "env", tc.content)
			_, problems, err := dockerEnvFileCheck(docker, path)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(problems, "\n")
			for _, want := range tc.want {
				if !strings.Contains(all, want) {
					t.Errorf("problems do not mention %q:\n%s", want, all)
				}
			}
		})
	}
}

func TestDockerCreateArgs(t *testing.T) {
	DockerCreateArgs(t, []string{
		"create", "--name", "matrix-synapse", "--network", "matrix", "--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,size=100m",
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", "991:991", "--log-driver", "none",
		"-p", "127.0.0.1:8008:8008", "--mount", "type=bind,src=/matrix/synapse/config,dst=/data,ro",
		"--health-cmd", "curl -fSs http://localhost:8008/health || exit 1", "--health-interval", "30s",
		"-e", "SYNAPSE_CONFIG_PATH=/data/homeserver.yaml",
		"ghcr.io/element-hq/synapse:v1.157.1", "run", "--config-path", "/data/homeserver.yaml",
	})
	DockerCreateArgs(t, []string{"run", "--rm", "busybox", "true"})
}

func TestDockerCreateArgsBad(t *testing.T) {
	docker := Require(t, "docker", "docker.io")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"create", "--no-such-flag", "busybox"}, "unknown flag: --no-such-flag"},
		{"bad port", []string{"create", "-p", "notaport", "busybox"}, "invalid containerPort"},
		{"bad duration", []string{"run", "--health-interval", "5x", "busybox"}, `invalid argument "5x"`},
		{"no image", []string{"create"}, "requires at least 1 argument"},
		{"missing env file", []string{"create", "--env-file", "/nonexistent/env", "busybox"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := dockerCreateArgsOutput(docker, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("docker %q: got %q, want it to mention %q", tc.args, out, tc.want)
			}
		})
	}
	if _, err := dockerCreateArgsOutput(docker, []string{"-H", "tcp://example.org:2375", "create", "busybox"}); err == nil {
		t.Errorf("a global -H flag was passed to docker")
	}
}
