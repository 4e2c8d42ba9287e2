package pipeline

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// These tests run the maintenance scripts install.sh puts in DATA_DIR/bin,
// as installed there: backup, restore, the database imports, vacuum and psql
// against the real PostgreSQL of postgres_test.go; register-user, the media
// import, uninstall and the Docker installation with the logging shims.

// binScript is the installed copy of a maintenance script.
func (b builtBundle) binScript(h *testHost, name string) string {
	return h.at(b.host().DataDir + "/bin/" + name)
}

// installedWithPostgres is the quickstart example installed on a host whose
// matrix-postgres is a real server, with rows in its databases.
func installedWithPostgres(t *testing.T) (builtBundle, *pgHost) {
	t.Helper()
	b := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	h := newPostgresHost(t, b.host().DataDir+"/postgres/data")
	b.provide(t, h.testHost)
	h.install(t, b.out).mustSucceed(t)
	h.seed(t)
	return b, h
}

// pgTool runs a client program of the test's server directly.
func (h *pgHost) pgTool(t *testing.T, tool string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(filepath.Join(h.bin, tool), append([]string{"-h", h.sock, "-p", strconv.Itoa(h.port), "-U", "matrix"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", tool, args, err, stderr.String())
	}
	return out
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// rewriteSums writes a backup's SHA256SUMS again after a test changed a
// file on purpose, as backup.sh writes it.
func rewriteSums(t *testing.T, dir string) {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "SHA256SUMS" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(data)
		lines = append(lines, hex.EncodeToString(sum[:])+"  ./"+filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-pR", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp %s %s: %v\n%s", from, to, err, out)
	}
}

// scramMatches tells whether a SCRAM-SHA-256 verifier from pg_authid is
// the one of password: the server keeps no password, only this.
func scramMatches(t *testing.T, verifier, password string) bool {
	t.Helper()
	m := regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):`).FindStringSubmatch(verifier)
	if m == nil {
		t.Fatalf("not a SCRAM-SHA-256 verifier: %q", verifier)
	}
	iterations, _ := strconv.Atoi(m[1])
	salt, err1 := base64.StdEncoding.DecodeString(m[2])
	stored, err2 := base64.StdEncoding.DecodeString(m[3])
	if err1 != nil || err2 != nil {
		t.Fatalf("verifier %q: %v %v", verifier, err1, err2)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, salted)
	mac.Write([]byte("Client Key"))
	sum := sha256.Sum256(mac.Sum(nil))
	return hmac.Equal(sum[:], stored)
}

// checkRolePassword asserts that a role logs in with its secret's value.
func (h *pgHost) checkRolePassword(t *testing.T, role, password string) {
	t.Helper()
	verifier := h.sql(t, "postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = '"+role+"'")
	if !scramMatches(t, verifier, strings.TrimSpace(password)) {
		t.Errorf("role %s does not have the password of its secret", role)
	}
}

// inOrder asserts that commands starting with each prefix ran in this order.
func (r installRun) inOrder(t *testing.T, prefixes ...string) {
	t.Helper()
	last := -1
	for _, p := range prefixes {
		i := slices.IndexFunc(r.commands[last+1:], func(c string) bool { return strings.HasPrefix(c, p) })
		if i < 0 {
			t.Fatalf("no %q after command %d:\n%s", p, last, strings.Join(r.commands, "\n"))
		}
		last += 1 + i
	}
}

// did tells whether a command starting with prefix ran.
func (r installRun) did(prefix string) bool {
	return slices.ContainsFunc(r.commands, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func TestBackupRestore(t *testing.T) {
	b, h := installedWithPostgres(t)
	media := h.at(b.res.Plan.Homeserver.MediaStore)
	writeFiles(t, media, map[string]string{
		"local_content/ab/cd/efghijkl":                    "an upload",
		"local_thumbnails/ab/cd/efghijkl/32-32-image-png": "its thumbnail",
		"remote_content/other.test/xy/zz/abc":             "another server's media",
		"url_cache/2024-01-01/preview":                    "a preview",
	})
	secrets := b.readSecrets(t, h.testHost)
	backup := b.binScript(h.testHost, "backup.sh")
	restore := b.binScript(h.testHost, "restore.sh")
	const target = "/srv/backups/one"
	dir := h.at(target)

	r := h.runScript(t, backup, "--to", target)
	r.mustSucceed(t)
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("backup directory %s: %v, want mode 0700", target, err)
	}
	if exists(dir + ".partial") {
		t.Errorf("%s.partial left after a backup that succeeded", target)
	}
	if !strings.Contains(readFile(t, dir+"/README"), "SENSITIVE") {
		t.Errorf("README does not mark the backup sensitive")
	}
	if got := readFile(t, dir+"/INFO"); !strings.Contains(got, "domain "+b.host().Domain+"\n") {
		t.Errorf("INFO = %q, want the domain", got)
	}
	for file, want := range map[string]string{
		"postgres/synapse.rows": "public.events 500\n",
		"postgres/bridge.rows":  "public.portals 7\n",
		"postgres/databases":    "bridge bridge\nmatrix matrix\nsynapse synapse\n",
	} {
		if got := readFile(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	// Synapse's one-time keys stay out, as its documentation asks; the
	// bridge has none.
	if toc := string(h.pgTool(t, "pg_restore", "-l", dir+"/postgres/synapse.dump")); strings.Contains(toc, "TABLE DATA public e2e_one_time_keys_json") ||
		!strings.Contains(toc, "TABLE DATA public events") || !strings.Contains(toc, "TABLE public e2e_one_time_keys_json") {
		t.Errorf("the dump should hold the one-time keys' table but not its rows:\n%s", toc)
	}
	for _, p := range []string{"media/local_content/ab/cd/efghijkl", "media/local_thumbnails/ab/cd/efghijkl/32-32-image-png"} {
		if !exists(filepath.Join(dir, p)) {
			t.Errorf("%s is not in the backup", p)
		}
	}
	for _, p := range []string{"media/remote_content", "media/url_cache"} {
		if exists(filepath.Join(dir, p)) {
			t.Errorf("%s is in the backup: other servers' media is a cache", p)
		}
	}
	for _, s := range b.res.Plan.Secrets {
		p := filepath.Join(dir, "secrets", s.Name)
		if got := readFile(t, p); got != secrets[s.Name] {
			t.Errorf("secret %s in the backup = %q, want the host's", s.Name, got)
		}
		if info, _ := os.Stat(p); info.Mode().Perm() != 0o600 {
			t.Errorf("secret %s is in the backup with mode %04o", s.Name, info.Mode().Perm())
		}
	}
	if !exists(dir + "/bundle/MANIFEST") {
		t.Errorf("the applied bundle is not in the backup")
	}
	if sums := readFile(t, dir+"/SHA256SUMS"); !strings.Contains(sums, "  ./postgres/synapse.dump\n") || !strings.Contains(sums, "  ./secrets/") {
		t.Errorf("SHA256SUMS does not cover the backup:\n%s", sums)
	}
	for name, v := range secrets {
		if strings.Contains(r.stdout+r.stderr+strings.Join(r.commands, "\n"), strings.TrimSpace(v)) {
			t.Errorf("backup.sh printed secret %s or put it on a command line", name)
		}
	}

	// A backup never writes over another.
	before := snapshot(t, dir)
	h.runScript(t, backup, "--to", target).mustFail(t, target, "exists")
	if !maps.Equal(snapshot(t, dir), before) {
		t.Errorf("a refused backup changed %s", target)
	}
	// Without --to it makes a dated directory of its own.
	h.runScript(t, backup, "--no-media").mustSucceed(t)
	dated, _ := filepath.Glob(h.at("/var/backups/matrixgen/*"))
	if len(dated) != 1 || !regexp.MustCompile(`/\d{8}T\d{6}Z$`).MatchString(dated[0]) {
		t.Fatalf("backups in /var/backups/matrixgen: %q, want one dated directory", dated)
	}
	if exists(dated[0] + "/media/local_content") {
		t.Errorf("--no-media copied the media")
	}

	// Everything changes after the backup.
	h.sql(t, "synapse", `DELETE FROM events WHERE id > 100; INSERT INTO events VALUES (1000, 'after the backup')`)
	h.sql(t, "bridge", `DROP TABLE portals`)
	if err := os.Remove(filepath.Join(media, "local_content/ab/cd/efghijkl")); err != nil {
		t.Fatal(err)
	}
	var dbSecret plan.Secret
	for _, s := range b.res.Plan.Secrets {
		if s.Name == "synapse-db-password" {
			dbSecret = s
		}
	}
	writeSecret(t, h.at(b.secretPath(dbSecret)), "ChangedAfterTheBackup")
	homeserver := h.at(b.host().DataDir + "/synapse/config/homeserver.yaml")

	// Not over tables: refused before anything stops.
	refused := h.runScript(t, restore, target)
	refused.mustFail(t, "synapse", "--replace")
	if refused.did("systemctl stop") || refused.did("docker exec -i matrix-postgres pg_restore") {
		t.Errorf("a refused restore stopped or restored something:\n%s", strings.Join(refused.commands, "\n"))
	}

	r = h.runScript(t, restore, "--replace", target)
	r.mustSucceed(t)
	r.inOrder(t, "systemctl stop matrix-synapse.service", "docker exec matrix-postgres createdb",
		// homeserver.yaml holds the restored secret: installed again, and
		// Synapse restarted with it.
		"docker exec -i matrix-postgres pg_restore", "systemctl restart matrix-synapse.service")
	for _, c := range []struct{ db, query, want string }{
		{"synapse", "SELECT count(*), sum(id) FROM events", "500|125250"},
		{"synapse", "SELECT count(*) FROM e2e_one_time_keys_json", "0"},
		{"synapse", "SELECT tableowner FROM pg_tables WHERE tablename = 'events'", "synapse"},
		{"bridge", "SELECT count(*) FROM portals", "7"},
		{"postgres", "SELECT datcollate || ' ' || pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'synapse'", "C UTF8"},
		{"postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'bridge_replaced_%'", "0"},
	} {
		if got := h.sql(t, c.db, c.query); got != c.want {
			t.Errorf("after the restore, %s: %s = %q, want %q", c.db, c.query, got, c.want)
		}
	}
	aside := h.sql(t, "postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'synapse_replaced_%'")
	if !regexp.MustCompile(`^synapse_replaced_\d{14}$`).MatchString(aside) {
		t.Fatalf("the replaced database is not kept aside: %q", aside)
	}
	if got := h.sql(t, aside, "SELECT count(*) FROM events"); got != "101" {
		t.Errorf("%s holds %s events, want the 101 from before the restore", aside, got)
	}
	if got := readFile(t, filepath.Join(media, "local_content/ab/cd/efghijkl")); got != "an upload" {
		t.Errorf("media not restored: %q", got)
	}
	if got := b.readSecrets(t, h.testHost); !maps.Equal(got, secrets) {
		t.Errorf("secrets after the restore differ from the backup's")
	}
	if got := databasePassword(t, homeserver, []byte(readFile(t, homeserver))); got != secrets[dbSecret.Name] {
		t.Errorf("homeserver.yaml was not installed again with the restored password: %q", got)
	}
	h.checkRolePassword(t, "synapse", secrets[dbSecret.Name])
	if !strings.Contains(r.stdout, "every table has the rows of the dump") {
		t.Errorf("the restore does not report its verification:\n%s", r)
	}

	// A backup whose dump holds one-time keys (made by other means): they
	// are emptied all the same.
	h.sql(t, "synapse", `INSERT INTO e2e_one_time_keys_json VALUES ('@c:x', '{}')`)
	withKeys := h.at("/srv/backups/with-keys")
	copyTree(t, dir, withKeys)
	if err := os.WriteFile(withKeys+"/postgres/synapse.dump", h.pgTool(t, "pg_dump", "-Fc", "-d", "synapse"), 0o600); err != nil {
		t.Fatal(err)
	}
	rewriteSums(t, withKeys)
	h.runScript(t, restore, "--replace", "--no-media", "/srv/backups/with-keys").mustSucceed(t)
	if got := h.sql(t, "synapse", "SELECT count(*) FROM e2e_one_time_keys_json"); got != "0" {
		t.Errorf("one-time keys left after restoring a dump that had them: %s", got)
	}

	// Rows that do not come back stop the restore, and the services stay
	// stopped.
	short := h.at("/srv/backups/short")
	copyTree(t, dir, short)
	if err := os.WriteFile(short+"/postgres/synapse.rows", []byte("public.events 501\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rewriteSums(t, short)
	failed := h.runScript(t, restore, "--replace", "/srv/backups/short")
	failed.mustFail(t, "row counts differ", "public.events 501")
	if failed.did("systemctl start matrix-synapse") || exists(filepath.Join(h.state, "active-matrix-synapse.service")) {
		t.Errorf("matrix-synapse runs after a restore that failed verification")
	}

	// A damaged backup is refused before anything stops.
	damaged := h.at("/srv/backups/damaged")
	copyTree(t, dir, damaged)
	f, err := os.OpenFile(damaged+"/postgres/bridge.dump", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("x")
	f.Close()
	d := h.runScript(t, restore, "--replace", "/srv/backups/damaged")
	d.mustFail(t, "damaged")
	if d.did("systemctl stop") {
		t.Errorf("a damaged backup stopped services")
	}

	// So is another domain's.
	other := h.at("/srv/backups/other")
	copyTree(t, dir, other)
	info := strings.Replace(readFile(t, other+"/INFO"), "domain "+b.host().Domain, "domain elsewhere.test", 1)
	if err := os.WriteFile(other+"/INFO", []byte(info), 0o600); err != nil {
		t.Fatal(err)
	}
	h.runScript(t, restore, "--replace", "/srv/backups/other").mustFail(t, "elsewhere.test", b.host().Domain)
}

// checkRestored asserts what a restore of seed's rows brings back.
func (h *pgHost) checkRestored(t *testing.T) {
	t.Helper()
	for _, c := range []struct{ db, query, want string }{
		{"synapse", "SELECT count(*), sum(id) FROM events", "500|125250"},
		{"synapse", "SELECT body FROM events WHERE id = 42", "event 42"},
		{"synapse", "SELECT count(*) FROM e2e_one_time_keys_json", "0"},
		{"synapse", "SELECT tableowner FROM pg_tables WHERE tablename = 'events'", "synapse"},
		{"bridge", "SELECT count(*) FROM portals", "7"},
		{"bridge", "SELECT tableowner FROM pg_tables WHERE tablename = 'portals'", "matrix"},
		{"postgres", "SELECT datcollate || ' ' || pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'synapse'", "C UTF8"},
	} {
		if got := h.sql(t, c.db, c.query); got != c.want {
			t.Errorf("after the restore, %s: %s = %q, want %q", c.db, c.query, got, c.want)
		}
	}
}

// TestRestoreNewHost restores a backup on a host that has only the bundle
// applied with --no-start, as when moving to a new server.
func TestRestoreNewHost(t *testing.T) {
	b, old := installedWithPostgres(t)
	const target = "/srv/backup"
	old.runScript(t, b.binScript(old.testHost, "backup.sh"), "--to", target).mustSucceed(t)
	secrets := b.readSecrets(t, old.testHost)

	h := newPostgresHost(t, b.host().DataDir+"/postgres/data")
	b.provide(t, h.testHost)
	h.install(t, b.out, "--no-start").mustSucceed(t)
	copyTree(t, old.at(target), h.at(target))
	r := h.runScript(t, b.binScript(h.testHost, "restore.sh"), target)
	r.mustSucceed(t)
	r.inOrder(t, "systemctl start matrix-postgres.service", "docker exec -i matrix-postgres pg_restore",
		"systemctl restart matrix-synapse.service")
	h.checkRestored(t)
	if got := b.readSecrets(t, h.testHost); !maps.Equal(got, secrets) {
		t.Errorf("the new host keeps its own secrets instead of the backup's")
	}
	h.checkRolePassword(t, "synapse", secrets["synapse-db-password"])
	if got := h.sql(t, "postgres", "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'bridge'"); got != "t" {
		t.Errorf("the bridge's role, not one of the bundle's, is not made again: %q", got)
	}
}

func TestImportPostgres(t *testing.T) {
	b := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	h := newPostgresHost(t, b.host().DataDir+"/postgres/data")
	b.provide(t, h.testHost)
	h.install(t, b.out).mustSucceed(t)
	script := b.binScript(h.testHost, "import-postgres.sh")

	// The old server's database, owned by roles this server does not have.
	h.sql(t, "postgres", `CREATE ROLE synapse_user LOGIN; CREATE ROLE reader`)
	h.sql(t, "postgres", `CREATE DATABASE oldserver OWNER synapse_user`)
	h.sql(t, "oldserver", `SET ROLE synapse_user;
CREATE TABLE events (id int PRIMARY KEY, body text);
INSERT INTO events SELECT g, 'event ' || g FROM generate_series(1, 600) g;
INSERT INTO events VALUES (0, E'tab\there, new\nline, back\\slash,\nGRANT x TO y;\n\\.');
CREATE TABLE e2e_one_time_keys_json (user_id text, key_json text);
INSERT INTO e2e_one_time_keys_json VALUES ('@a:x', '{}');
GRANT SELECT ON events TO reader`)
	// Paths given to the scripts are host paths, under --root.
	const dumps = "/srv/dumps"
	if err := os.MkdirAll(h.at(dumps), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := h.pgTool(t, "pg_dump", "-d", "oldserver")
	var gz bytes.Buffer
	zip := exec.Command("gzip", "-c")
	zip.Stdin, zip.Stdout = bytes.NewReader(plain), &gz
	if err := zip.Run(); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"old.sql.gz": gz.Bytes(),
		"old.dump":   h.pgTool(t, "pg_dump", "-Fc", "-d", "oldserver"),
		"cut.sql":    plain[:len(plain)*2/3],
	} {
		if err := os.WriteFile(h.at(dumps+"/"+name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h.sql(t, "postgres", `DROP DATABASE oldserver`)
	h.sql(t, "postgres", `DROP ROLE synapse_user; DROP ROLE reader`)

	check := func(t *testing.T) {
		t.Helper()
		for _, c := range []struct{ query, want string }{
			{"SELECT count(*), sum(id) FROM events", "601|180300"},
			{"SELECT body FROM events WHERE id = 0", "tab\there, new\nline, back\\slash,\nGRANT x TO y;\n\\."},
			{"SELECT count(*) FROM e2e_one_time_keys_json", "1"},
			{"SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'", "synapse"},
			{"SELECT datcollate FROM pg_database WHERE datname = current_database()", "C"},
		} {
			if got := h.sql(t, "synapse", c.query); got != c.want {
				t.Errorf("synapse: %s = %q, want %q", c.query, got, c.want)
			}
		}
	}

	// A cut-off dump is refused before anything stops.
	cut := h.runScript(t, script, dumps+"/cut.sql")
	cut.mustFail(t, "not a complete")
	if cut.did("systemctl stop") {
		t.Errorf("a refused import stopped services")
	}
	h.runScript(t, script, "--database", "nosuch", dumps+"/old.dump").mustFail(t, "nosuch", "synapse")

	r := h.runScript(t, script, dumps+"/old.sql.gz")
	r.mustSucceed(t)
	check(t)
	r.inOrder(t, "systemctl stop matrix-synapse.service", "docker exec matrix-postgres createdb",
		"docker exec -i matrix-postgres psql -X -q -v ON_ERROR_STOP=1 --single-transaction", "systemctl start matrix-synapse.service")

	again := h.runScript(t, script, dumps+"/old.dump")
	again.mustFail(t, "synapse", "--replace")
	if again.did("systemctl stop") {
		t.Errorf("a refused import stopped services")
	}
	h.runScript(t, script, "--replace", dumps+"/old.dump").mustSucceed(t)
	check(t)
	if got := h.sql(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'synapse_replaced_%'"); got != "1" {
		t.Errorf("the replaced database is not kept aside (%s)", got)
	}
	h.checkRolePassword(t, "synapse", b.readSecrets(t, h.testHost)["synapse-db-password"])
}

func TestImportSynapseSQLite(t *testing.T) {
	b := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	h := newPostgresHost(t, b.host().DataDir+"/postgres/data")
	b.provide(t, h.testHost)
	script := b.binScript(h.testHost, "import-synapse-sqlite.sh")
	const sqlite = "/srv/old/homeserver.db"
	content := "SQLite format 3\x00" + strings.Repeat("\x01", 100)
	writeFiles(t, h.at("/srv/old"), map[string]string{"homeserver.db": content, "not-sqlite.db": "PGDMP"})

	// Before the bundle is applied there is no homeserver.yaml to read.
	h.runScript(t, filepath.Join(b.out, strings.TrimPrefix(b.host().DataDir, "/"), "bin", "import-synapse-sqlite.sh"), sqlite).
		mustFail(t, "homeserver.yaml", "install.sh --no-start")
	h.install(t, b.out, "--no-start").mustSucceed(t)
	h.runScript(t, script, "/srv/old/not-sqlite.db").mustFail(t, "not an SQLite database")

	// synapse_port_db's stand-in keeps the file it was given and makes a
	// table as the synapse role, as the real one makes Synapse's schema.
	inner := filepath.Join(h.state, "docker-inner")
	if err := os.Rename(filepath.Join(h.testHost.bin, "docker"), inner); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf(`#!/bin/sh
%s "$@" || exit
[ "$1" = run ] || exit 0
for a in "$@"; do
	case $a in
	--mount=type=bind,src=*,dst=/sqlite-import) src=${a#--mount=type=bind,src=}; cp %s"${src%%,dst=*}/homeserver.db" %s ;;
	esac
done
exec %s -X -q -h %s -p %d -U synapse -d synapse -c 'CREATE TABLE events (id int); INSERT INTO events SELECT generate_series(1, 9)'
`, shQuote(inner), shQuote(h.root), shQuote(filepath.Join(h.state, "ported.db")), shQuote(filepath.Join(h.bin, "psql")), shQuote(h.sock), h.port)
	if err := os.WriteFile(filepath.Join(h.testHost.bin, "docker"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}

	r := h.runScript(t, script, sqlite)
	r.mustSucceed(t)
	run := r.commands[r.index("docker run")]
	for _, want := range []string{
		"--rm", "--user=1000:1000", "--network=matrix", "--entrypoint=synapse_port_db",
		"--mount=type=bind,src=/matrix/synapse/config,dst=/data,readonly",
		"--mount=type=bind,src=/matrix/secrets/synapse-registration-secret,dst=/run/secrets/synapse-registration-secret,readonly",
		"--mount=type=bind,src=/matrix/synapse/sqlite-import,dst=/sqlite-import",
		b.res.Plan.Services[slices.IndexFunc(b.res.Plan.Services, func(s plan.Service) bool { return s.Unit == "matrix-synapse" })].Image +
			" --sqlite-database /sqlite-import/homeserver.db --postgres-config /data/homeserver.yaml",
	} {
		if !strings.Contains(run, want) {
			t.Errorf("synapse_port_db runs without %q:\n%s", want, run)
		}
	}
	r.inOrder(t, "systemctl start matrix-postgres.service", "docker exec matrix-postgres createdb", "docker run")
	if got := readFile(t, filepath.Join(h.state, "ported.db")); got != content {
		t.Errorf("synapse_port_db was given %q, want the SQLite file", got)
	}
	if got := readFile(t, h.at(sqlite)); got != content {
		t.Errorf("the SQLite file was changed")
	}
	if exists(h.at("/matrix/synapse/sqlite-import")) {
		t.Errorf("the copy of the SQLite file is left behind")
	}
	for _, c := range []struct{ query, want string }{
		{"SELECT count(*) FROM events", "9"},
		{"SELECT datcollate || ' ' || pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'synapse'", "C synapse"},
	} {
		if got := h.sql(t, "synapse", c.query); got != c.want {
			t.Errorf("synapse: %s = %q, want %q", c.query, got, c.want)
		}
	}
	// synapse_port_db logs in with homeserver.yaml's password.
	h.checkRolePassword(t, "synapse", b.readSecrets(t, h.testHost)["synapse-db-password"])
	if !strings.Contains(r.stdout, "ported: 1 tables") {
		t.Errorf("no summary:\n%s", r)
	}

	// Now the database has tables: not again without --replace.
	again := h.runScript(t, script, sqlite)
	again.mustFail(t, "--replace")
	if again.did("docker run") || again.did("systemctl stop") {
		t.Errorf("a refused import ran: %q", again.commands)
	}
}

func TestVacuumAndPsql(t *testing.T) {
	b, h := installedWithPostgres(t)
	vacuum := b.binScript(h.testHost, "vacuum.sh")
	psql := b.binScript(h.testHost, "psql.sh")

	r := h.runScriptInput(t, "SELECT count(*) FROM events;\n", psql, "-At")
	r.mustSucceed(t)
	if strings.TrimSpace(r.stdout) != "500" {
		t.Errorf("psql.sh on Synapse's database printed %q, want 500", r.stdout)
	}
	r = h.runScriptInput(t, "SELECT count(*) FROM portals;\n", psql, "bridge", "-At")
	r.mustSucceed(t)
	if strings.TrimSpace(r.stdout) != "7" {
		t.Errorf("psql.sh bridge printed %q, want 7", r.stdout)
	}

	h.sql(t, "synapse", "DELETE FROM events WHERE id > 250")
	r = h.runScript(t, vacuum)
	r.mustSucceed(t)
	if got := h.sql(t, "synapse", "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'events'"); got != "t" {
		t.Errorf("events was not vacuumed and analysed (%s)", got)
	}
	if r.did("systemctl stop") {
		t.Errorf("a plain vacuum stopped services")
	}

	// FULL stops the services, so it asks; with no terminal, --yes answers.
	file := h.sql(t, "synapse", "SELECT pg_relation_filenode('events')")
	refused := h.runScript(t, vacuum, "--full")
	refused.mustFail(t, "--yes")
	if refused.did("systemctl stop") || !strings.Contains(refused.stdout, "WARNING") {
		t.Errorf("--full without --yes: %s", refused)
	}
	r = h.runScript(t, vacuum, "--full", "--yes", "--database", "synapse")
	r.mustSucceed(t)
	r.inOrder(t, "systemctl stop matrix-synapse.service", "docker exec matrix-postgres vacuumdb -U matrix --full --analyze --dbname=synapse",
		"systemctl start matrix-synapse.service")
	if got := h.sql(t, "synapse", "SELECT pg_relation_filenode('events')"); got == file {
		t.Errorf("VACUUM FULL did not rewrite events")
	}
	if got := h.sql(t, "synapse", "SELECT count(*) FROM events"); got != "250" {
		t.Errorf("events after VACUUM FULL: %s rows, want 250", got)
	}
}

func TestRegisterUser(t *testing.T) {
	b := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	h := newTestHost(t)
	b.provide(t, h)
	h.install(t, b.out).mustSucceed(t)
	script := b.binScript(h, "register-user.sh")
	stdin := filepath.Join(h.state, "exec-stdin")
	const password = "correct horse 'battery' $staple"
	registration := strings.TrimSpace(b.readSecrets(t, h)["synapse-registration-secret"])

	if err := os.Remove(stdin); err != nil { // install.sh's SQL
		t.Fatal(err)
	}
	r := h.runScriptInput(t, password+"\n", script, "--admin", "@alice:"+b.host().Domain)
	r.mustSucceed(t)
	want := "docker exec -i matrix-synapse register_new_matrix_user --config /data/homeserver.yaml --password-file /dev/stdin --user alice --admin http://localhost:8008"
	if !slices.Contains(r.commands, want) {
		t.Errorf("no %q:\n%s", want, strings.Join(r.commands, "\n"))
	}
	if got := readFile(t, stdin); got != password+"\n" {
		t.Errorf("register_new_matrix_user read %q on its standard input, want the password", got)
	}
	for _, out := range []string{r.stdout, r.stderr, strings.Join(r.commands, "\n")} {
		if strings.Contains(out, "battery") || strings.Contains(out, registration) {
			t.Errorf("the password or the registration secret is printed or on a command line:\n%s", out)
		}
	}

	passwordFile := filepath.Join(t.TempDir(), "pw")
	writeSecret(t, passwordFile, "from a file\nsecond line")
	r = h.runScript(t, script, "--password-file", passwordFile, "bob")
	r.mustSucceed(t)
	if !r.did("docker exec -i matrix-synapse register_new_matrix_user --config /data/homeserver.yaml --password-file /dev/stdin --user bob --no-admin") {
		t.Errorf("bob is not registered as a user:\n%s", strings.Join(r.commands, "\n"))
	}
	if got := readFile(t, stdin); got != password+"\nfrom a file\n" {
		t.Errorf("the password from the file arrived as %q", got)
	}

	for _, c := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"other domain", "pw\n", []string{"@carol:elsewhere.test"}, "not a user of"},
		{"capitals", "pw\n", []string{"Carol"}, "localpart"},
		{"space", "pw\n", []string{"carol smith"}, "localpart"},
		{"empty password", "\n", []string{"carol"}, "empty password"},
		{"no user", "pw\n", nil, "which user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.runScriptInput(t, c.stdin, script, c.args...)
			r.mustFail(t, c.want)
			if r.did("docker exec") {
				t.Errorf("refused, yet ran %q", r.commands)
			}
		})
	}

	if err := os.Remove(filepath.Join(h.state, "active-matrix-synapse.service")); err != nil {
		t.Fatal(err)
	}
	h.runScriptInput(t, "pw\n", script, "dave").mustFail(t, "matrix-synapse is not running")
}

func TestImportMediaStore(t *testing.T) {
	b := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	h := newTestHost(t)
	b.provide(t, h)
	h.install(t, b.out).mustSucceed(t)
	script := b.binScript(h, "import-media-store.sh")
	media := b.res.Plan.Homeserver.MediaStore
	writeFiles(t, h.at(media), map[string]string{"local_content/aa/bb/here": "already here"})
	const old = "/srv/old-media"
	files := map[string]string{
		"local_content/ab/cd/efgh":                "an upload",
		"local_thumbnails/ab/cd/efgh/32-32-png":   "its thumbnail",
		"remote_content/other.test/xy/zz/abcdefg": "cached",
	}
	writeFiles(t, h.at(old), files)
	if err := os.MkdirAll(h.at("/srv/empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	r := h.runScript(t, script, old)
	r.mustSucceed(t)
	for name, content := range files {
		if got := readFile(t, h.at(media+"/"+name)); got != content {
			t.Errorf("%s = %q after the import", name, got)
		}
	}
	if got := readFile(t, h.at(media+"/local_content/aa/bb/here")); got != "already here" {
		t.Errorf("a file already in the media store was changed")
	}
	r.inOrder(t, "systemctl stop matrix-synapse.service", "chown -R matrix:matrix "+h.at(media), "systemctl start matrix-synapse.service")
	if !strings.Contains(r.stdout, "imported 3 files") {
		t.Errorf("no count:\n%s", r)
	}

	h.runScript(t, script, "/srv/empty").mustFail(t, "does not look like a Synapse media store")
	h.runScript(t, script, media).mustFail(t, "media store already")
}

func TestUninstall(t *testing.T) {
	for _, name := range []string{"quickstart", "workers"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := writeBundle(t, name, buildExample(t, name))
			h := newTestHost(t)
			b.provide(t, h)
			h.install(t, b.out).mustSucceed(t)
			secrets := b.readSecrets(t, h)
			script := b.binScript(h, "uninstall.sh")
			copied := filepath.Join(t.TempDir(), "uninstall.sh")
			copyTree(t, script, copied) // the installed copy goes with the other files

			before := snapshot(t, h.root)
			h.runScript(t, copied).mustFail(t, "--yes")
			dry := h.runScript(t, copied, "--dry-run")
			dry.mustSucceed(t)
			if !maps.Equal(snapshot(t, h.root), before) {
				t.Errorf("a refused or dry uninstall changed the host")
			}
			for _, c := range dry.commands {
				if !strings.HasPrefix(c, "docker network inspect") {
					t.Errorf("--dry-run ran %q", c)
				}
			}

			r := h.runScript(t, copied, "--yes")
			r.mustSucceed(t)
			// Stopped in the reverse of their start order, UNITS's.
			var stops []string
			for _, unit := range b.startOrder(t) {
				stops = append([]string{"systemctl stop " + unit + ".service"}, stops...)
				if !r.did("systemctl disable") || !strings.Contains(r.commands[r.index("systemctl disable")], unit+".service") {
					t.Errorf("%s is not disabled", unit)
				}
			}
			r.inOrder(t, append(stops, "systemctl daemon-reload", "docker network rm")...)
			for _, f := range b.res.Plan.Files {
				if exists(h.at(f.Path)) {
					t.Errorf("%s is still installed", f.Path)
				}
			}
			for _, p := range b.res.Tree.Paths() {
				if !b.res.Tree[p].BundleOnly && exists(h.at("/"+p)) {
					t.Errorf("/%s is still installed", p)
				}
			}
			for _, d := range b.res.Plan.Dirs {
				if !exists(h.at(d.Path)) {
					t.Errorf("data directory %s was removed", d.Path)
				}
			}
			if got := b.readSecrets(t, h); !maps.Equal(got, secrets) {
				t.Errorf("secrets changed or went")
			}
			if exists(h.at(b.host().DataDir+"/matrixgen/current")) || exists(h.at("/etc/matrixgen")) {
				t.Errorf("install.sh's state is left")
			}

			// install.sh brings the same server back.
			h.install(t, b.out).mustSucceed(t)
			if got := b.readSecrets(t, h); !maps.Equal(got, secrets) {
				t.Errorf("the server came back with other secrets")
			}

			h.runScript(t, copied, "--purge").mustFail(t, "--yes")
			if !exists(h.at(b.host().DataDir + "/secrets")) {
				t.Fatalf("a refused purge deleted data")
			}
			h.runScript(t, copied, "--purge", "--yes").mustSucceed(t)
			if exists(h.at(b.host().DataDir)) {
				t.Errorf("--purge left %s", b.host().DataDir)
			}
		})
	}
}

func TestInstallDocker(t *testing.T) {
	b := buildVariant(t, "quickstart", "host:\n  install_docker: true\n")
	h := newTestHost(t)
	b.provide(t, h)
	docker := filepath.Join(h.bin, "docker")
	if err := os.Rename(docker, filepath.Join(h.state, "docker-shim")); err != nil {
		t.Fatal(err)
	}
	// The distribution's package manager brings the docker command.
	h.shim(t, "apt-get", fmt.Sprintf(`[ "$1" = install ] && cp "$state/docker-shim" %s
exit 0`, shQuote(docker)))
	writeFiles(t, h.at("/etc"), map[string]string{"os-release": "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n"})

	dry := h.install(t, b.out, "--dry-run")
	dry.mustSucceed(t)
	if !strings.Contains(dry.stdout, "would run: apt-get install -y docker.io") || dry.did("apt-get") {
		t.Errorf("--dry-run should only say it installs docker.io:\n%s\n%q", dry, dry.commands)
	}

	r := h.install(t, b.out)
	r.mustSucceed(t)
	r.inOrder(t, "apt-get update", "apt-get install -y docker.io", "systemctl enable --now docker.service", "docker info", "systemctl start matrix-postgres.service")
	if h.install(t, b.out).did("apt-get") {
		t.Errorf("docker is installed again once there")
	}

	// Unknown distributions and configs that do not ask stop with a reason.
	if err := os.Remove(docker); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, h.at("/etc"), map[string]string{"os-release": "ID=exotic\n"})
	h.install(t, b.out).mustFail(t, "no Docker package known", "exotic")
	plain := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	r = h.install(t, plain.out)
	r.mustFail(t, "docker is not installed", "host.install_docker")
	if r.did("apt-get") {
		t.Errorf("docker was installed although the config does not ask for it")
	}
}

// TestMaintenanceHelp runs every maintenance script of every example with
// --help and with an unknown option.
func TestMaintenanceHelp(t *testing.T) {
	h := newTestHost(t)
	for _, name := range exampleNames(t) {
		b := writeBundle(t, name, buildExample(t, name))
		scripts, _ := filepath.Glob(filepath.Join(b.out, strings.TrimPrefix(b.host().DataDir, "/"), "bin", "*.sh"))
		// Other homeservers have no Synapse tools or PostgreSQL scripts.
		if least := map[bool]int{true: 10, false: 3}[b.res.Plan.Homeserver.SynapseTools]; len(scripts) < least {
			t.Errorf("%s: %d maintenance scripts: %q", name, len(scripts), scripts)
		}
		for _, s := range scripts {
			r := h.runScript(t, s, "--help")
			if r.code != 0 || !strings.Contains(r.stdout, "Usage: "+filepath.Base(s)) || len(r.commands) > 0 {
				t.Errorf("%s %s --help:\n%s", name, filepath.Base(s), r)
			}
			if filepath.Base(s) == "psql.sh" {
				continue // its options are psql's
			}
			if r := h.runScript(t, s, "--no-such-option"); r.code != 2 || len(r.commands) > 0 {
				t.Errorf("%s %s --no-such-option: want exit 2 and nothing run\n%s", name, filepath.Base(s), r)
			}
		}
	}
}

// TestInstallFromKeptCopy runs the copy of the bundle install.sh keeps, as
// the scripts in DATA_DIR/bin do: it compares with itself and changes only
// what is missing.
func TestInstallFromKeptCopy(t *testing.T) {
	b := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	h := newTestHost(t)
	b.provide(t, h)
	h.install(t, b.out).mustSucceed(t)
	kept := h.at(b.host().DataDir + "/matrixgen/current")
	r := h.install(t, kept)
	r.mustSucceed(t)
	if !strings.Contains(r.stdout, "no changes") || r.did("systemctl restart") || r.did("systemctl stop") {
		t.Errorf("the kept copy applied over itself changed something:\n%s", r)
	}
	homeserver := b.host().DataDir + "/synapse/config/homeserver.yaml"
	if err := os.Remove(h.at(homeserver)); err != nil {
		t.Fatal(err)
	}
	r = h.install(t, kept)
	r.mustSucceed(t)
	if !strings.Contains(r.stdout, "install "+homeserver) || strings.Contains(r.stdout, "remove ") || !exists(h.at(homeserver)) {
		t.Errorf("the kept copy does not put back only the missing file:\n%s", r)
	}
}
