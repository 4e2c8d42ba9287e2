package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// importFixtures are the translation's test inputs, shared with its package.
const importFixtures = "../../internal/mdad/testdata"

func runImport(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runMatrixgen(t, append([]string{"import-mdad"}, args...)...)
}

func TestImportMDADUsage(t *testing.T) {
	vars := filepath.Join(importFixtures, "basic.yml")
	for name, args := range map[string][]string{
		"no file":      {},
		"two files":    {vars, vars},
		"unknown flag": {"--no-such-flag", vars},
		"flag without": {vars, "-o"},
	} {
		if code, _, stderr := runImport(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", name, code, exitUsage, stderr)
		}
	}
	code, stdout, _ := runImport(t, "--help")
	if code != exitOK || !strings.Contains(stdout, "--secrets-dir") {
		t.Errorf("--help: exit %d\n%s", code, stdout)
	}
}

func TestImportMDADBadVars(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"broken.yml": "matrix_domain: [example.com\n",
		"list.yml":   "- matrix_domain: example.com\n",
		"empty.yml":  "",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, stdout, stderr := runImport(t, p); code != exitInvalid || stdout != "" || !strings.Contains(stderr, name) {
			t.Errorf("%s: exit %d, want %d, nothing on stdout and the file named\nstdout:\n%s\nstderr:\n%s", name, code, exitInvalid, stdout, stderr)
		}
	}
	if code, _, stderr := runImport(t, filepath.Join(dir, "missing.yml")); code != exitInvalid {
		t.Errorf("a missing file: exit %d\n%s", code, stderr)
	}

	// A vars.yml that translates into an incomplete config: the config is
	// still written, for the operator to finish, and the status says so.
	p := filepath.Join(dir, "no-domain.yml")
	if err := os.WriteFile(p, []byte("matrix_playbook_reverse_proxy_type: playbook-managed-traefik\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runImport(t, p)
	if code != exitInvalid || !strings.Contains(stdout, "reverse_proxy:") || !strings.Contains(stderr, "matrix.yaml") || !strings.Contains(stderr, "domain") {
		t.Errorf("no domain: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestImportMDADWrites(t *testing.T) {
	dir := t.TempDir()
	vars := filepath.Join(importFixtures, "basic.yml")
	out := filepath.Join(dir, "matrix.yaml")
	secrets := filepath.Join(dir, "secrets")

	code, stdout, stderr := runImport(t, vars, "-o", out, "--secrets-dir", secrets)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout with -o: %q", stdout)
	}
	for _, want := range []string{
		"basic.yml:4: matrix_playbook_migration_validated_version: not translated (",
		"secret synapse-db-password: derived from matrix_homeserver_generic_secret_key",
		"secret synapse-form-secret: not derived: install.sh will create a new one",
		"wrote 3 secrets to " + secrets,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(written, []byte("# Not translated from basic.yml (line 4): matrix_playbook_migration_validated_version: v2025.03.24.0")) {
		t.Errorf("the config does not end in what was not translated:\n%s", written)
	}
	if code, _, stderr := runMatrixgen(t, "validate", "-c", out); code != exitOK {
		t.Errorf("matrixgen validate on the written config: exit %d\n%s", code, stderr)
	}
	info, err := os.Stat(secrets)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("secrets directory: %v, %v", info, err)
	}
	db, err := os.ReadFile(filepath.Join(secrets, "synapse-db-password"))
	if err != nil || string(db) != "7da84ff2-724d-5557-a46e-e6aebc2aa46b" {
		t.Errorf("synapse-db-password = %q, %v", db, err)
	}

	// Nothing is overwritten: neither the config nor a secret, and a
	// refusal writes nothing at all.
	if err := os.WriteFile(out, []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runImport(t, vars, "-o", out); code != exitInvalid || !strings.Contains(stderr, "never overwrites") {
		t.Errorf("-o onto an existing file: exit %d\n%s", code, stderr)
	}
	if data, _ := os.ReadFile(out); string(data) != "edited\n" {
		t.Errorf("the existing config was overwritten")
	}
	other := filepath.Join(dir, "other.yaml")
	if code, _, stderr := runImport(t, vars, "-o", other, "--secrets-dir", secrets); code != exitInvalid || !strings.Contains(stderr, "never overwrites a secret") {
		t.Errorf("--secrets-dir onto existing secrets: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(other); err == nil {
		t.Errorf("a refused import wrote %s", other)
	}
}

// runMatrixgen runs any matrixgen command.
func runMatrixgen(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestImportMDADRedacts checks that no secret from vars.yml reaches the
// terminal or the config: only the files in --secrets-dir hold them.
func TestImportMDADRedacts(t *testing.T) {
	for fixture, values := range map[string][]string{
		"relay-mailer.yml": {"mail-example-generic-key-9a8b7c", "Smtp-Relay-Pw-5521", "Explicit-Macaroon-0d9e8f7a",
			"Explicit-Registration-1c2b3a4d", "Explicit-Turn-Secret-77aa"},
		"oidc.yml":            {"oidc-example-generic-key-42", "Kc-Client-Secret-8d1e6b"},
		"sso-turn.yml":        {"sso-turn-generic-key-31", "Turn-Elsewhere-Secret-61", "Gl-Oidc-Secret-4e4e"},
		"workers-bridges.yml": {"big-server-generic-key-6e5d4c3b", "Big-Pg-Password-3344", "0123456789abcdef0123456789abcdef", "Maubot-Admin-Pw-9911"},
		"basic.yml":           {"example-generic-secret", "Pg-Superuser-7f3a9c", "7da84ff2-724d-5557-a46e-e6aebc2aa46b", "63851c08-2cc3-538b-8612-1718ba3547a3"},
	} {
		dir := t.TempDir()
		out := filepath.Join(dir, "matrix.yaml")
		code, stdout, stderr := runImport(t, filepath.Join(importFixtures, fixture), "-o", out, "--secrets-dir", filepath.Join(dir, "secrets"))
		if code != exitOK {
			t.Errorf("%s: exit %d\n%s", fixture, code, stderr)
			continue
		}
		config, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			for where, text := range map[string]string{"stdout": stdout, "stderr": stderr, "the config": string(config)} {
				if strings.Contains(text, v) {
					t.Errorf("%s: a secret value is in %s", fixture, where)
				}
			}
		}
		if !strings.Contains(string(config), "<redacted>") && fixture != "basic.yml" && fixture != "relay-mailer.yml" && fixture != "oidc.yml" {
			t.Errorf("%s: no value was redacted in the config", fixture)
		}
	}

	// The OIDC provider's client secret is not dropped: it is in the
	// secrets directory, under the name the bundle hands Synapse.
	dir := t.TempDir()
	if code, _, stderr := runImport(t, filepath.Join(importFixtures, "oidc.yml"), "-o", filepath.Join(dir, "matrix.yaml"), "--secrets-dir", filepath.Join(dir, "secrets")); code != exitOK {
		t.Fatalf("oidc.yml: exit %d\n%s", code, stderr)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "secrets", "synapse-oidc-keycloak-client-secret")); err != nil || string(data) != "Kc-Client-Secret-8d1e6b" {
		t.Errorf("the OIDC client secret in --secrets-dir: %q, %v", data, err)
	}
}

// TestImportMDADMissingDirectory: -o into a directory that does not exist
// yet makes it, as build does, and the config lands there; a parent that
// is a file is an error that names it.
func TestImportMDADMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "new", "site", "matrix.yaml")
	code, _, stderr := runImport(t, filepath.Join(importFixtures, "basic.yml"), "-o", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if data, err := os.ReadFile(out); err != nil || !bytes.Contains(data, []byte("domain: example.org")) {
		t.Errorf("%s: %v\n%s", out, err, data)
	}
	if !strings.Contains(stderr, "wrote "+out+"; next: matrixgen build -c "+out) {
		t.Errorf("stderr does not say where the config went:\n%s", stderr)
	}

	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runImport(t, filepath.Join(importFixtures, "basic.yml"), "-o", filepath.Join(file, "matrix.yaml"))
	if code != exitInvalid || !strings.Contains(stderr, "a-file") {
		t.Errorf("-o below a file: exit %d\n%s", code, stderr)
	}
}
