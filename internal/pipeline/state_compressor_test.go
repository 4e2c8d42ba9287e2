package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCompressState applies a bundle with the state compressor on and
// runs its script: install.sh fills Synapse's database password into the
// compressor's environment file (root's alone) and enables the timer; the
// script runs the compressor's image on the homeserver's network with
// that file, and the password is on no command line.
func TestCompressState(t *testing.T) {
	b := buildVariant(t, "quickstart", "maintenance:\n  state_compressor: {enabled: true, chunk_size: 5, chunks: 6}\n")
	h := newTestHost(t)
	b.provide(t, h)
	h.install(t, b.out).mustSucceed(t)
	if !exists(filepath.Join(h.state, "enabled-matrix-synapse-auto-compressor.timer")) {
		t.Errorf("install.sh did not enable matrix-synapse-auto-compressor.timer:\n%s", strings.Join(h.logLines(t), "\n"))
	}
	password := b.readSecrets(t, h)["synapse-db-password"]
	if password == "" {
		t.Fatal("no synapse-db-password on the host")
	}
	sc := b.res.Plan.StateCompressor
	envFile := h.at(sc.EnvFile)
	env := readFile(t, envFile)
	if !strings.Contains(env, " password="+password+" ") || strings.Contains(env, "__MATRIXGEN_SECRET_") {
		t.Errorf("%s does not hold the password filled in:\n%s", sc.EnvFile, env)
	}
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v; want 0600", sc.EnvFile, err, fi.Mode())
	}

	r := h.runScript(t, b.binScript(h, "compress-state.sh"))
	r.mustSucceed(t)
	run := slices.IndexFunc(r.commands, func(c string) bool { return strings.HasPrefix(c, "docker run ") })
	if run < 0 {
		t.Fatalf("compress-state.sh ran no container:\n%s", strings.Join(r.commands, "\n"))
	}
	command := r.commands[run]
	for _, part := range []string{
		"--name=matrix-synapse-auto-compressor", "--network=" + sc.Network, "--read-only", "--cap-drop=ALL",
		"--env-file=" + envFile, sc.Image, `-p "$POSTGRES_LOCATION" -c "$1" -n "$2" compress 5 6`,
	} {
		if !strings.Contains(command, part) {
			t.Errorf("docker run lacks %q:\n%s", part, command)
		}
	}
	if i := slices.Index(r.commands, "docker rm --force matrix-synapse-auto-compressor"); i < 0 || i > run {
		t.Errorf("a container left behind is not removed before the run:\n%s", strings.Join(r.commands, "\n"))
	}
	for _, c := range h.logLines(t) {
		if strings.Contains(c, password) {
			t.Errorf("the password is on a command line: %s", c)
		}
	}
}
