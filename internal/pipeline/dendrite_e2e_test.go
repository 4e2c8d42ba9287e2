//go:build e2e

package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestDendriteStarts runs the real Dendrite server (make e2e-dendrite
// builds v0.13.8 from tools/dendrite and sets MATRIXGEN_DENDRITE) with the
// dendrite example's bundle, as it is (registration closed) and with open
// registration, as install.sh applies it: install.sh runs on
// a test host whose matrix-postgres is a real PostgreSQL
// (postgres_test.go), so the signing key, the secrets filled into
// dendrite.yaml, and Dendrite's role and database are install.sh's own.
// Dendrite must then answer /_matrix/client/versions, make an account
// through the bundle's register-user.sh (whose docker exec runs Dendrite's
// shared-secret registration client, create-account, here), log that
// account in, and treat /register as the example's registration mode says.
//
// Only what cannot be the same outside a container changes: each path
// Dendrite reads or writes becomes the host directory the unit mounts
// there (the --mount flags of its docker create line), the database host
// matrix-postgres:5432 becomes the test server's loopback port, and the
// --http-bind-address of the unit's command a free loopback port. The
// rest of the command line is the unit's.
func TestDendriteStarts(t *testing.T) {
	bin := os.Getenv("MATRIXGEN_DENDRITE")
	if bin == "" {
		t.Skip("MATRIXGEN_DENDRITE is unset: `make e2e-dendrite` builds Dendrite and runs this test")
	}
	createAccount := filepath.Join(filepath.Dir(bin), "create-account")
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	t.Logf("Dendrite %s", strings.TrimSpace(string(out)))
	t.Run("example", func(t *testing.T) {
		checkDendrite(t, bin, createAccount, writeBundle(t, "dendrite", buildExample(t, "dendrite")))
	})
	// Open registration without verification: the unit passes
	// --really-enable-open-registration, without which Dendrite would
	// refuse to start.
	t.Run("open", func(t *testing.T) {
		checkDendrite(t, bin, createAccount, buildEdited(t, "dendrite", "    mode: closed\n", "    mode: open\n    allow_unverified: true\n"))
	})
}

func checkDendrite(t *testing.T, bin, createAccount string, b builtBundle) {
	dataDir := b.host().DataDir + "/postgres/data"
	h := newPostgresHost(t, dataDir)
	b.provide(t, h.testHost)
	h.install(t, b.out).mustSucceed(t)
	h.passwordsOverTCP(t, dataDir)

	unit := readFile(t, filepath.Join(b.out, "etc/systemd/system/matrix-dendrite.service"))
	mounts, args := dockerCreate(t, unit, b.res.Config.Dendrite.Image)
	installed := h.at(b.host().DataDir + "/dendrite/config/dendrite.yaml")
	data := []byte(readFile(t, installed))
	if bytes.Contains(data, []byte("__MATRIXGEN_SECRET_")) {
		t.Fatalf("install.sh left a placeholder in %s:\n%s", installed, data)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg = hostPaths(cfg, func(p string) string {
		for dst, src := range mounts {
			if rest, ok := strings.CutPrefix(p, dst); ok && (rest == "" || rest[0] == '/') {
				return h.at(src) + rest
			}
		}
		return p
	}).(map[string]any)
	db := cfg["global"].(map[string]any)["database"].(map[string]any)
	conn := db["connection_string"].(string)
	if !strings.Contains(conn, "@matrix-postgres:5432/") {
		t.Fatalf("connection_string %q does not name matrix-postgres:5432", conn)
	}
	db["connection_string"] = strings.Replace(conn, "@matrix-postgres:5432/", fmt.Sprintf("@127.0.0.1:%d/", h.port), 1)

	dir := t.TempDir()
	configPath := filepath.Join(dir, "dendrite.yaml")
	rewritten, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(configPath, rewritten, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freeTCP(t)
	args = onLoopbackArgs(t, args, configPath, port)

	server := startDendrite(t, bin, dir, args)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	began := time.Now()
	server.waitFor(t, base+"/_matrix/client/versions", 180*time.Second)
	t.Logf("Dendrite answered /_matrix/client/versions %.1fs after it was started", time.Since(began).Seconds())

	const user, password = "alice", "correct-horse-battery-staple"
	execHere(t, h.testHost, createAccount, map[string]string{
		dendriteConfigInContainer: configPath, fmt.Sprintf("http://localhost:%d", dendritePort): base,
	})
	registerUser := b.binScript(h.testHost, "register-user.sh")
	r := h.runScriptInput(t, password+"\n", registerUser, "--admin", user)
	if r.code != 0 {
		t.Fatalf("register-user.sh: %s\nDendrite's log:\n%s", r, server.log.String())
	}
	// A second time: the user exists, which only --exists-ok accepts.
	if r := h.runScriptInput(t, password+"\n", registerUser, user); r.code == 0 || !strings.Contains(r.stderr, "M_USER_IN_USE") {
		t.Errorf("register-user.sh for a user that exists: %s, want a failure that says M_USER_IN_USE", r)
	}
	h.runScriptInput(t, password+"\n", registerUser, "--exists-ok", user).mustSucceed(t)
	token := login(t, base, user, password)
	var who struct {
		UserID string `json:"user_id"`
	}
	if code := request(t, "GET", base+"/_matrix/client/v3/account/whoami", token, nil, &who); code != http.StatusOK {
		t.Fatalf("whoami: %d", code)
	}
	if want := "@" + user + ":" + b.res.Config.Domain; who.UserID != want {
		t.Errorf("whoami says %q, want %q", who.UserID, want)
	}
	checkRegistration(t, base, b.res.Config.Homeserver.Registration.Mode)
	server.stop(t)
}

// passwordsOverTCP makes the test server check passwords on TCP, where
// Dendrite connects: the host's image does, and only then does the
// connection prove that install.sh gave the role the password it filled
// into dendrite.yaml. The socket stays trusted for the shims' psql.
func (h *pgHost) passwordsOverTCP(t *testing.T, dataDir string) {
	t.Helper()
	// The data directory's first server (initdb's) hands over to the one
	// that listens on TCP a few seconds after install.sh returns.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(filepath.Join(h.sock, "initialising")); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("PostgreSQL did not finish initialising within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	hba := filepath.Join(h.at(dataDir), "pg_hba.conf")
	var lines []string
	for _, line := range strings.Split(readFile(t, hba), "\n") {
		if fields := strings.Fields(line); len(fields) > 0 && fields[0] == "host" && fields[len(fields)-1] == "trust" {
			line = strings.TrimSuffix(strings.TrimRight(line, " \t"), "trust") + "scram-sha-256"
		}
		lines = append(lines, line)
	}
	if err := os.WriteFile(hba, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := h.sql(t, "postgres", "SELECT pg_reload_conf()"); got != "t" {
		t.Fatalf("pg_reload_conf() = %q", got)
	}
	if got := h.sql(t, "postgres", "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'dendrite'"); got != "t" {
		t.Fatalf("install.sh gave the role dendrite no SCRAM password (%q)", got)
	}
}

// dockerCreate takes apart the unit's docker create line: where each
// bind mount's target comes from on the host, and the arguments after
// the image, which are Dendrite's.
func dockerCreate(t *testing.T, unit, image string) (mounts map[string]string, args []string) {
	t.Helper()
	for _, line := range strings.Split(unit, "\n") {
		rest, ok := strings.CutPrefix(line, "ExecStartPre=/usr/bin/env docker create ")
		if !ok {
			continue
		}
		mounts = map[string]string{}
		fields := strings.Fields(rest)
		for i, f := range fields {
			if f == image {
				return mounts, fields[i+1:]
			}
			spec, ok := strings.CutPrefix(f, "--mount=")
			if !ok {
				continue
			}
			opts := map[string]string{}
			for _, kv := range strings.Split(spec, ",") {
				k, v, _ := strings.Cut(kv, "=")
				opts[k] = v
			}
			if opts["type"] == "bind" {
				mounts[opts["dst"]] = opts["src"]
			}
		}
		t.Fatalf("the docker create line does not run %s:\n%s", image, line)
	}
	t.Fatalf("no docker create line in the unit:\n%s", unit)
	return nil, nil
}

// hostPaths applies to every string of a decoded YAML value.
func hostPaths(v any, to func(string) string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, item := range v {
			v[k] = hostPaths(item, to)
		}
	case []any:
		for i, item := range v {
			v[i] = hostPaths(item, to)
		}
	case string:
		return to(v)
	}
	return v
}

// onLoopbackArgs is the unit's command line with the config file the test
// wrote and the listener on a loopback port.
func onLoopbackArgs(t *testing.T, args []string, configPath string, port int) []string {
	t.Helper()
	out := append([]string(nil), args...)
	replaced := map[string]bool{}
	for i := 0; i+1 < len(out); i++ {
		switch out[i] {
		case "--config":
			out[i+1] = configPath
		case "--http-bind-address":
			out[i+1] = fmt.Sprintf("127.0.0.1:%d", port)
		default:
			continue
		}
		replaced[out[i]] = true
	}
	if !replaced["--config"] || !replaced["--http-bind-address"] {
		t.Fatalf("the unit's command %q lacks --config or --http-bind-address", args)
	}
	return out
}

type dendriteProcess struct {
	cmd    *exec.Cmd
	log    *bytes.Buffer
	exited chan error
}

func startDendrite(t *testing.T, bin, dir string, args []string) *dendriteProcess {
	t.Helper()
	p := &dendriteProcess{cmd: exec.Command(bin, args...), log: &bytes.Buffer{}, exited: make(chan error, 1)}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitFor polls url until it answers 200, or fails with Dendrite's log.
func (p *dendriteProcess) waitFor(t *testing.T, url string, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer"
	for {
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("Dendrite stopped (%v) before answering %s:\n%s", err, url, p.log.String())
		case <-ctx.Done():
			t.Fatalf("Dendrite did not answer %s within %s (last: %s):\n%s", url, limit, last, p.log.String())
		case <-time.After(250 * time.Millisecond):
		}
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"versions"`)) {
			return
		}
	}
}

// stop asks Dendrite to shut down as docker stop does, and requires it
// to exit within the unit's stop timeout.
func (p *dendriteProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("Dendrite did not stop within 60s of SIGINT:\n%s", p.log.String())
	}
}

func login(t *testing.T, base, user, password string) string {
	t.Helper()
	var res struct {
		AccessToken string `json:"access_token"`
	}
	code := request(t, "POST", base+"/_matrix/client/v3/login", "", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   password,
	}, &res)
	if code != http.StatusOK || res.AccessToken == "" {
		t.Fatalf("login as %s: %d, access token %q", user, code, res.AccessToken)
	}
	return res.AccessToken
}

// checkRegistration holds /register to the registration mode: closed
// refuses it; open takes an account through the dummy stage.
func checkRegistration(t *testing.T, base, mode string) {
	t.Helper()
	var res struct {
		ErrCode string `json:"errcode"`
	}
	body := map[string]any{"username": "mallory", "password": "another-long-password", "auth": map[string]any{"type": "m.login.dummy"}}
	code := request(t, "POST", base+"/_matrix/client/v3/register", "", body, &res)
	switch mode {
	case "closed":
		if code != http.StatusForbidden || res.ErrCode != "M_FORBIDDEN" {
			t.Errorf("registration is closed, but /register answered %d %s", code, res.ErrCode)
		}
	case "open":
		if code != http.StatusOK {
			t.Errorf("registration is open, but /register answered %d %s", code, res.ErrCode)
		}
	default:
		t.Fatalf("no check for registration mode %q", mode)
	}
}

// request sends a JSON request and decodes the answer into out.
func request(t *testing.T, method, url, token string, body, out any) int {
	t.Helper()
	var in io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, in)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, url, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// Where the unit mounts dendrite.yaml, and the port Dendrite serves in
// its container, as register-user.sh gives them to create-account.
const (
	dendriteConfigInContainer = "/etc/dendrite/dendrite.yaml"
	dendritePort              = 8008
)

// execHere makes the test host's docker run `docker exec -i UNIT PROGRAM
// ARGS` as tool, here, with each argument that is a key of replace
// replaced by its value (a path or URL in the container by the test's
// own): what register-user.sh runs in the container then reaches the
// real server.
func execHere(t *testing.T, h *testHost, tool string, replace map[string]string) {
	t.Helper()
	var cases strings.Builder
	for from, to := range replace {
		fmt.Fprintf(&cases, "\t%s) a=%s ;;\n", shQuote(from), shQuote(to))
	}
	shim := fmt.Sprintf(`#!/bin/sh
[ "$1 $2 $4" = "exec -i %s" ] || { echo "docker: only exec -i UNIT %[1]s here: $*" >&2; exit 97; }
shift 4
for a; do
	case $a in
%s	esac
	set -- "$@" "$a"
	shift
done
exec %s "$@"
`, filepath.Base(tool), cases.String(), shQuote(tool))
	if err := os.WriteFile(filepath.Join(h.bin, "docker"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
}
