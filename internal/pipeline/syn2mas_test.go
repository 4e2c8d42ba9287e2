package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// syn2masHost is a host running the quickstart bundle (Synapse's own
// logins), with modern's bundle (the same server with MAS) beside it, and
// a docker whose syn2mas answers with the exit status a test puts in
// $state/syn2mas-<check|dry-run|migrate>.
type syn2masHost struct {
	*testHost
	before, after builtBundle
	script        string // syn2mas.sh in the new bundle
}

func newSyn2masHost(t *testing.T) *syn2masHost {
	t.Helper()
	h := &syn2masHost{
		testHost: newTestHost(t),
		before:   writeBundle(t, "quickstart", buildExample(t, "quickstart")),
		after:    writeBundle(t, "modern", buildExample(t, "modern")),
	}
	if h.before.host().Domain != h.after.host().Domain {
		t.Fatal("quickstart and modern must be one server")
	}
	h.before.provide(t, h.testHost)
	h.install(t, h.before.out).mustSucceed(t)
	h.script = filepath.Join(h.after.out, "matrix", "bin", "syn2mas.sh")
	inner := filepath.Join(h.state, "docker-inner")
	if err := os.Rename(filepath.Join(h.bin, "docker"), inner); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf(`#!/bin/sh
%s "$@" || exit
[ "$1" = run ] || exit 0
step=
for a in "$@"; do
	case $a in
	check) step=check ;;
	migrate) step=migrate ;;
	--dry-run) step=dry-run ;;
	esac
done
state=%s
[ -e "$state/syn2mas-$step" ] || exit 0
read -r status <"$state/syn2mas-$step"
echo "syn2mas $step says no" >&2
exit "$status"
`, shQuote(inner), shQuote(h.state))
	if err := os.WriteFile(filepath.Join(h.bin, "docker"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *syn2masHost) answer(t *testing.T, step string, status int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.state, "syn2mas-"+step), []byte(fmt.Sprintln(status)), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	hsConfig = "/matrix/synapse/config/homeserver.yaml"
	masData  = "/matrix/matrix-authentication-service/data"
)

// syn2masRuns are the docker run commands of syn2mas, as "check",
// "migrate --dry-run" and "migrate".
func syn2masRuns(r installRun) []string {
	var out []string
	for _, c := range r.commands {
		if !strings.HasPrefix(c, "docker run ") {
			continue
		}
		_, after, ok := strings.Cut(c, " syn2mas ")
		if !ok {
			continue
		}
		fields := strings.Fields(after)
		out = append(out, strings.Join(slices.DeleteFunc(fields, func(f string) bool { return strings.HasPrefix(f, "--") && f != "--dry-run" }), " "))
	}
	return out
}

// TestSyn2MAS moves a running server's accounts into MAS in the order MAS
// documents, switches Synapse over, and refuses a second run.
func TestSyn2MAS(t *testing.T) {
	h := newSyn2masHost(t)
	legacy := readFile(t, h.at(hsConfig))
	r := h.runScript(t, h.script)
	r.mustSucceed(t)

	if got, want := syn2masRuns(r), []string{"check", "migrate --dry-run", "migrate"}; !slices.Equal(got, want) {
		t.Errorf("syn2mas ran %q, want %q\n%s", got, want, strings.Join(r.commands, "\n"))
	}
	r.inOrder(t,
		"systemctl start matrix-authentication-service.service", // install.sh --only: its database made first
		"systemctl stop matrix-authentication-service.service",
		"docker run --rm --name=matrix-authentication-service-syn2mas",
		"docker run --rm --name=matrix-authentication-service-syn2mas",
		"systemctl stop matrix-synapse.service",
		"docker run --rm --name=matrix-authentication-service-syn2mas",
		"systemctl restart matrix-synapse.service",
	)
	dbMade := r.index("docker exec -i -e DB_PASSWORD matrix-postgres psql")
	if dbMade < 0 || dbMade > r.index("docker run") {
		t.Errorf("MAS's database is not made before syn2mas runs:\n%s", strings.Join(r.commands, "\n"))
	}
	for _, want := range []string{
		"--user=1000:1000", "--network=matrix",
		"--mount=type=bind,src=/matrix/matrix-authentication-service/config/config.yaml,dst=/config.yaml,readonly",
		"--mount=type=bind,src=/matrix/secrets/mas-encryption-key,dst=/run/secrets/mas-encryption-key,readonly",
		"--mount=type=bind,src=" + masData + "/homeserver.pre-mas.yaml,dst=/homeserver.yaml,readonly",
		"ghcr.io/element-hq/matrix-authentication-service:1.22.0 syn2mas --config=/config.yaml --synapse-config=/homeserver.yaml check",
	} {
		if run := r.commands[r.index("docker run")]; !strings.Contains(run, want) {
			t.Errorf("syn2mas runs without %q:\n%s", want, run)
		}
	}
	// syn2mas reads the config Synapse ran with; Synapse now delegates.
	if got := readFile(t, h.at(masData+"/homeserver.pre-mas.yaml")); got != legacy {
		t.Errorf("kept homeserver.yaml differs from the one Synapse ran with")
	}
	if info, err := os.Stat(h.at(masData + "/homeserver.pre-mas.yaml")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("kept homeserver.yaml: %v %v, want mode 0600 (it holds the database password)", info, err)
	}
	if !strings.Contains(readFile(t, h.at(hsConfig)), "matrix_authentication_service:") {
		t.Error("Synapse does not delegate to MAS after the migration")
	}
	if !exists(h.at(masData + "/syn2mas-done")) {
		t.Error("no record of the migration")
	}
	for _, unit := range []string{"matrix-synapse", "matrix-authentication-service"} {
		if !exists(filepath.Join(h.state, "active-"+unit+".service")) {
			t.Errorf("%s is not running after the migration", unit)
		}
	}

	again := h.runScript(t, h.script)
	again.mustFail(t, "runs once")
	if again.did("docker run") || again.did("systemctl stop") || again.did("systemctl start") {
		t.Errorf("a second run did something: %q", again.commands)
	}
}

// Each way the migration stops before Synapse's accounts are in MAS
// leaves Synapse with them and no record of a migration.
func TestSyn2MASStops(t *testing.T) {
	for _, tc := range []struct {
		name, step string
		status     int
		args       []string
		says       string
		stopped    bool // Synapse is stopped when it fails
	}{
		{"check finds errors", "check", 10, nil, "syn2mas check found problems", false},
		{"check warns", "check", 11, nil, "--accept-warnings", false},
		{"dry run fails", "dry-run", 1, nil, "nothing has changed for Synapse", false},
		{"migration fails", "migrate", 1, nil, "rollback.sh", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newSyn2masHost(t)
			h.answer(t, tc.step, tc.status)
			r := h.runScript(t, h.script, tc.args...)
			r.mustFail(t, tc.says)
			if exists(h.at(masData + "/syn2mas-done")) {
				t.Error("a failed migration is recorded as done")
			}
			if got := r.did("systemctl stop matrix-synapse.service"); got != tc.stopped {
				t.Errorf("Synapse stopped: %v, want %v\n%s", got, tc.stopped, strings.Join(r.commands, "\n"))
			}
			if r.did("systemctl restart matrix-synapse.service") {
				t.Error("Synapse was switched to MAS although the accounts did not move")
			}
		})
	}
	t.Run("warnings accepted", func(t *testing.T) {
		h := newSyn2masHost(t)
		h.answer(t, "check", 11)
		h.runScript(t, h.script, "--accept-warnings").mustSucceed(t)
	})
}

// The copy install.sh puts in DATA_DIR/bin has no bundle around it to
// switch to, and a server that delegates already has nothing to move.
func TestSyn2MASRefuses(t *testing.T) {
	h := newSyn2masHost(t)
	h.install(t, h.after.out).mustSucceed(t)
	installed := h.at("/matrix/bin/syn2mas.sh")
	h.runScript(t, installed).mustFail(t, "run me from the bundle")
	r := h.runScript(t, h.script)
	r.mustFail(t, "already delegates")
	if r.did("docker run") || r.did("systemctl") {
		t.Errorf("a refused run did something: %q", r.commands)
	}
}

// With MAS the accounts are MAS's: register-user.sh hands over to mas-cli,
// which asks for the password on a terminal, and refuses to take one any
// other way (it would reach mas-cli's command line).
func TestRegisterUserWithMAS(t *testing.T) {
	b := writeBundle(t, "modern", buildExample(t, "modern"))
	h := newTestHost(t)
	b.provide(t, h)
	h.install(t, b.out).mustSucceed(t)
	script := b.binScript(h, "register-user.sh")
	r := h.runScriptInput(t, "s3cret\n", script, "alice")
	r.mustFail(t, "no terminal")
	f := h.runScript(t, script, "--password-file", "/root/pw", "alice")
	f.mustFail(t, "MAS asks for the password on the terminal")
	for _, run := range []installRun{r, f} {
		if run.did("docker exec") {
			t.Errorf("registered without a terminal: %q", run.commands)
		}
	}
	if !strings.Contains(readFile(t, script), "docker exec -it \"$MAS_UNIT\" mas-cli manage register-user --config=\"$MAS_CONFIG\" --username \"$NAME\" \"$ADMIN\"") {
		t.Error("register-user.sh does not hand over to mas-cli")
	}
}
