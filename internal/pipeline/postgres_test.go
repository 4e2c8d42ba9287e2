package pipeline

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/consumers"
)

// These tests run the SQL paths of the maintenance scripts against a real
// PostgreSQL: Debian's server binaries, started by the shims as the
// postgres user on a socket in a temporary directory. The docker shim runs
// the commands the scripts send into the matrix-postgres container with the
// local binaries; the systemctl shim starts and stops that server, and
// initialises an empty data directory as the postgres image does: initdb,
// then a temporary server on the socket only, replaced a few seconds later
// by the final server, which also listens on TCP. While that temporary
// server runs, $sock/initialising exists; SQL sent then is recorded in
// $state/init-server-used, as it would die with that server.

// postgresBin is the newest local PostgreSQL server's bin directory.
func postgresBin(t *testing.T) string {
	t.Helper()
	consumers.Require(t, "pg_dumpall", "postgresql")
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for _, d := range slices.Backward(dirs) {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	consumers.Require(t, "initdb", "postgresql")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pgHost is a test host whose matrix-postgres is a real server.
type pgHost struct {
	*testHost
	bin, sock string
	port      int
}

func newPostgresHost(t *testing.T, dataDir string) *pgHost {
	t.Helper()
	bin := postgresBin(t)
	h := &pgHost{testHost: newTestHost(t), bin: bin, sock: filepath.Join(t.TempDir(), "s"), port: freePort(t)}
	if err := os.Mkdir(h.sock, 0o777); err != nil {
		t.Fatal(err)
	}
	chown, err := exec.LookPath("chown")
	if err != nil {
		t.Fatal(err)
	}
	data := h.at(dataDir)
	// The server runs as postgres, which must reach the data directory
	// through the test's private temporary directories.
	ctl := fmt.Sprintf(`#!/bin/sh
set -e
bin=%s data=%s sock=%s port=%d chown=%s
as_postgres() { runuser -u postgres -- "$@"; }
serve() { # listen_addresses
	as_postgres "$bin/pg_ctl" -D "$data" -l "$sock/server.log" -w -o "-k $sock -p $port -c listen_addresses=$1" start >/dev/null
}
case $1 in
start)
	d=$(dirname "$data")
	while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done
	if [ -f "$data/PG_VERSION" ]; then
		serve 127.0.0.1
		exit 0
	fi
	"$chown" postgres: "$data" "$sock"
	as_postgres "$bin/initdb" -D "$data" -U matrix --auth=trust -E UTF8 --locale=C >/dev/null
	: >"$sock/initialising"
	serve ''
	"$bin/createdb" -h "$sock" -p "$port" -U matrix matrix
	(
		sleep 3
		as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop
		serve 127.0.0.1
		rm -f "$sock/initialising"
	) </dev/null >/dev/null 2>&1 &
	;;
stop)
	waited=0
	while [ -e "$sock/initialising" ] && [ "$waited" -lt 20 ]; do sleep 1; waited=$((waited + 1)); done
	[ ! -f "$data/postmaster.pid" ] || as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	;;
esac
`, shQuote(bin), shQuote(data), shQuote(h.sock), h.port, shQuote(chown))
	pgctl := filepath.Join(h.state, "..", "pgctl")
	if err := os.WriteFile(pgctl, []byte(ctl), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command(pgctl, "stop").Run() })
	if err := os.Symlink(mustLook(t, "runuser"), filepath.Join(h.tools, "runuser")); err != nil {
		t.Fatal(err)
	}

	// In the container the server runs as the matrix user, which owns its
	// directories; here it runs as postgres, so those directories become
	// postgres's when install.sh gives them to the matrix user. Otherwise
	// install.sh's chmod of them would lock a running server out.
	// install.sh gives all the directories of an owner in one call.
	h.shim(t, "chown", fmt.Sprintf(`case $1 in -*) exit 0 ;; esac
shift
for p in "$@"; do
	case $p in
	%[1]s | %[2]s) %[3]s postgres: "$p" || exit 1 ;;
	esac
done`, shQuote(data), shQuote(filepath.Dir(data)), shQuote(chown)))
	h.shim(t, "systemctl", fmt.Sprintf(`cmd=$1
pg=0
for u in "$@"; do [ "$u" = matrix-postgres.service ] && pg=1; done
case $cmd in
start) [ "$pg" = 0 ] || %[1]s start ;;
restart) [ "$pg" = 0 ] || { %[1]s stop && %[1]s start; } ;;
stop) [ "$pg" = 0 ] || %[1]s stop ;;
esac
%[2]s`, shQuote(pgctl), shimBodies["systemctl"]))
	// Like docker, exec -i drains the caller's standard input whether the
	// program reads it or not, and exec without -i gives it none.
	h.shim(t, "docker", fmt.Sprintf(`if [ "$1" = exec ]; then
	shift
	interactive=0
	while :; do
		case $1 in
		-i) interactive=1; shift ;;
		-e) shift 2 ;;
		*) break ;;
		esac
	done
	[ "$1" = matrix-postgres ] || exit 0
	shift
	export PGHOST=%s PGPORT=%d
	[ "$interactive" = 0 ] || [ ! -e "$PGHOST/initialising" ] || : >"$state/init-server-used"
	# The container's port is the test server's.
	for a do
		shift
		[ "$a" = 5432 ] && a=$PGPORT
		set -- "$@" "$a"
	done
	if [ "$interactive" = 0 ]; then
		# A dump that dies half-way, as when it is killed or the disk fills.
		if [ "$1" = pg_dumpall ] && [ -e "$state/dump-fails" ]; then
			echo '-- PostgreSQL database cluster dump'
			exit 1
		fi
		exec %[3]s/"$@" </dev/null
	fi
	program=$1
	shift
	cat | { %[3]s/"$program" "$@"; status=$?; cat >/dev/null; exit "$status"; }
	exit
fi
%[4]s`, shQuote(h.sock), h.port, shQuote(bin), shimBodies["docker"]))
	return h
}

// checkFinalServer fails when SQL went to the temporary server the image
// runs while it initialises a data directory: that server shuts down
// under whatever it was doing.
func (h *pgHost) checkFinalServer(t *testing.T, what string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(h.state, "init-server-used")); err == nil {
		t.Errorf("%s sent SQL to the temporary initialisation server: its readiness check does not wait for the final server", what)
	}
}

func mustLook(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed", tool)
	}
	return p
}

// sql runs statements in a database of the running server and returns
// the rows, fields separated by |.
func (h *pgHost) sql(t *testing.T, db, statements string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(h.bin, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
		"-h", h.sock, "-p", fmt.Sprint(h.port), "-U", "matrix", "-d", db, "-c", statements).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", db, err, out)
	}
	return strings.TrimSpace(string(out))
}

// seed writes rows a restore must bring back: Synapse's tables, one-time
// keys, and a second database with its own owner.
func (h *pgHost) seed(t *testing.T) {
	t.Helper()
	h.sql(t, "synapse", `CREATE TABLE events (id int PRIMARY KEY, body text);
INSERT INTO events SELECT g, 'event ' || g FROM generate_series(1, 500) g;
CREATE TABLE e2e_one_time_keys_json (user_id text, key_json text);
INSERT INTO e2e_one_time_keys_json VALUES ('@a:x', '{}'), ('@b:x', '{}');
ALTER TABLE events OWNER TO synapse; ALTER TABLE e2e_one_time_keys_json OWNER TO synapse`)
	h.sql(t, "postgres", `CREATE ROLE bridge LOGIN`)
	h.sql(t, "postgres", `CREATE DATABASE bridge OWNER bridge`)
	h.sql(t, "bridge", `CREATE TABLE portals (id int); INSERT INTO portals SELECT generate_series(1, 7)`)
}

func (h *pgHost) checkSeeded(t *testing.T) {
	t.Helper()
	for _, c := range []struct{ db, query, want string }{
		{"synapse", "SELECT count(*), sum(id) FROM events", "500|125250"},
		{"synapse", "SELECT body FROM events WHERE id = 42", "event 42"},
		{"synapse", "SELECT count(*) FROM e2e_one_time_keys_json", "2"},
		{"synapse", "SELECT tableowner FROM pg_tables WHERE tablename = 'events'", "synapse"},
		{"bridge", "SELECT count(*) FROM portals", "7"},
		{"postgres", "SELECT datcollate FROM pg_database WHERE datname = 'synapse'", "C"},
	} {
		if got := h.sql(t, c.db, c.query); got != c.want {
			t.Errorf("%s: %s = %q, want %q", c.db, c.query, got, c.want)
		}
	}
}

// upgradeFixture is a host that installed the quickstart on PostgreSQL 15,
// with rows in two databases, and the bundle of the default major beside
// it: the upgrade's starting point.
type upgradeFixture struct {
	h       *pgHost
	next    builtBundle
	dataDir string
	script  string // the new bundle's postgres-upgrade.sh
}

func newUpgradeFixture(t *testing.T) upgradeFixture {
	t.Helper()
	const example = "quickstart"
	old := buildVariant(t, example, "postgres:\n  bundled:\n    major: 15\n")
	next := writeBundle(t, example, buildExample(t, example))
	dataDir := old.host().DataDir + "/postgres/data"
	h := newPostgresHost(t, dataDir)
	old.provide(t, h.testHost)
	h.install(t, old.out).mustSucceed(t)
	h.checkFinalServer(t, "install.sh")
	h.seed(t)
	script := filepath.Join(next.out, filepath.FromSlash(next.host().DataDir), "bin", "postgres-upgrade.sh")
	return upgradeFixture{h: h, next: next, dataDir: dataDir, script: script}
}

func TestPostgresUpgrade(t *testing.T) {
	f := newUpgradeFixture(t)
	h, next, dataDir, script := f.h, f.next, f.dataDir, f.script
	version, err := os.ReadFile(h.at(dataDir + "/PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	oldMajor := strings.TrimSpace(string(version))

	// upgrade.sh will not start a server that cannot read the data.
	refused := h.runScript(t, filepath.Join(next.out, "upgrade.sh"))
	refused.mustFail(t, "PostgreSQL "+oldMajor, "postgres-upgrade.sh")
	if len(refused.commands) > 0 {
		t.Errorf("a refused upgrade ran %q", refused.commands)
	}

	// Neither does postgres-upgrade.sh overwrite an earlier backup.
	backup := dataDir + "-" + oldMajor
	if err := os.Mkdir(h.at(backup), 0o700); err != nil {
		t.Fatal(err)
	}
	h.runScript(t, script).mustFail(t, backup, "exists")
	if err := os.Remove(h.at(backup)); err != nil {
		t.Fatal(err)
	}

	r := h.runScript(t, script)
	r.mustSucceed(t)
	h.checkFinalServer(t, "postgres-upgrade.sh")
	h.checkSeeded(t)
	if data, err := os.ReadFile(h.at(backup + "/PG_VERSION")); err != nil || strings.TrimSpace(string(data)) != oldMajor {
		t.Errorf("the old data directory is not kept in %s: %q, %v", backup, data, err)
	}
	order := []string{
		"systemctl stop matrix-synapse.service",
		"docker exec matrix-postgres pg_dumpall",
		"systemctl stop matrix-postgres.service",
		"systemctl start matrix-postgres.service",
		"docker exec -i matrix-postgres psql",
		"systemctl start matrix-synapse.service",
	}
	last := -1
	for _, c := range order {
		i := slices.IndexFunc(r.commands[last+1:], func(x string) bool { return strings.HasPrefix(x, c) })
		if i < 0 {
			t.Fatalf("no %q after command %d:\n%s", c, last, strings.Join(r.commands, "\n"))
		}
		last += 1 + i
	}
	if !strings.Contains(r.stdout, "row counts match") {
		t.Errorf("no verification reported:\n%s", r)
	}
	installed, _ := os.ReadFile(h.at(next.host().DataDir + "/matrixgen/current/MANIFEST"))
	want, _ := os.ReadFile(filepath.Join(next.out, "MANIFEST"))
	if string(installed) != string(want) {
		t.Errorf("after the upgrade the host does not have the new bundle applied")
	}

	// The test's server is the same major before and after, so the data
	// still looks old: a second run must stop at the kept backup.
	again := h.runScript(t, script)
	again.mustFail(t, backup, "exists")
	if slices.ContainsFunc(again.commands, func(c string) bool { return strings.HasPrefix(c, "systemctl stop") }) {
		t.Errorf("a refused upgrade stopped services: %q", again.commands)
	}
}

// A dump that fails leaves the old server serving its data, starts the
// services it stopped again, and leaves nothing behind that would stop the
// next run.
func TestPostgresUpgradeDumpFails(t *testing.T) {
	f := newUpgradeFixture(t)
	h, dataDir, script := f.h, f.dataDir, f.script

	if err := os.WriteFile(filepath.Join(h.state, "dump-fails"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	failed := h.runScript(t, script)
	failed.mustFail(t, "stopped before changing any data", "run me again")
	stop := slices.Index(failed.commands, "systemctl stop matrix-synapse.service")
	start := slices.Index(failed.commands, "systemctl start matrix-synapse.service")
	if stop < 0 || start < stop {
		t.Errorf("the failed upgrade did not start Synapse again after stopping it:\n%s", strings.Join(failed.commands, "\n"))
	}
	if slices.Contains(failed.commands, "systemctl stop matrix-postgres.service") {
		t.Errorf("the failed upgrade stopped the old server")
	}
	h.checkSeeded(t)
	entries, err := os.ReadDir(filepath.Dir(h.at(dataDir)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(dataDir) {
			t.Errorf("the failed upgrade left %s beside the data directory", e.Name())
		}
	}

	if err := os.Remove(filepath.Join(h.state, "dump-fails")); err != nil {
		t.Fatal(err)
	}
	h.runScript(t, script).mustSucceed(t)
	h.checkFinalServer(t, "postgres-upgrade.sh")
	h.checkSeeded(t)
}
