//go:build e2e

package boot

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/apply"
)

// TestE2E proves the moments of a server's life on booted hosts, each with
// a Matrix client checking what users would see (`make e2e-lifecycle`).
func TestE2E(t *testing.T) {
	requireDocker(t)
	t.Run("UpgradeRollback", testUpgradeRollback)
	t.Run("BackupRestore", testBackupRestore)
	t.Run("PostgresUpgrade", testPostgresUpgrade)
	t.Run("Change", testChange)
	t.Run("RollingRestart", testRollingRestart)
	t.Run("MDADTakeover", testMDADTakeover)
	t.Run("Federation", testFederation)
	t.Run("FederationWorkers", testFederationWorkers)
}

const lifecycleProxy = "nginx"

// testUpgradeRollback moves Synapse to a newer image tag with upgrade.sh
// and back with rollback.sh. The newer tag is a second tag of the same
// build: what is proven is the bundle's handling of images and units.
func testUpgradeRollback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s := boot(ctx, t, "quickstart", lifecycleProxy)
	registerUsers(ctx, t, s, "alice", "bob")
	conversation := converse(ctx, t, s, "alice", "bob")

	oldImage := s.bundle.Result.Config.Synapse.Image
	newImage := strings.TrimSuffix(oldImage, ":"+imageTag(oldImage)) + ":" + imageTag(oldImage) + "-next"
	upgraded := buildWith(t, "quickstart", map[string]any{"synapse.image": newImage})
	shipUpgrade(ctx, t, s, upgraded, newImage)

	poll := pollAPI(ctx, s)
	runOnHost(ctx, t, s, bundleOnHost+"/upgrade.sh")
	stats := poll()
	s.waitForAPI(ctx, t)
	t.Logf("figure: upgrade.sh: %d of %d client requests failed, longest gap %.1f s", stats.failed, stats.sent, stats.longestGap.Seconds())
	if got := containerImage(ctx, t, s, "matrix-synapse"); got != newImage {
		t.Errorf("after upgrade.sh matrix-synapse runs %s, want %s", got, newImage)
	}
	verifyKept(ctx, t, s, "alice", conversation)

	runOnHost(ctx, t, s, bundleOnHost+"/rollback.sh")
	s.waitForAPI(ctx, t)
	if got := containerImage(ctx, t, s, "matrix-synapse"); got != oldImage {
		t.Errorf("after rollback.sh matrix-synapse runs %s, want %s", got, oldImage)
	}
	verifyKept(ctx, t, s, "bob", conversation)
}

// testBackupRestore backs a server up with backup.sh, restores it with
// restore.sh on a brand-new host, and checks that users find what they
// left and that the server signs with the same key.
func testBackupRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	old := boot(ctx, t, "quickstart", lifecycleProxy)
	registerUsers(ctx, t, old, "alice", "bob")
	conversation := converse(ctx, t, old, "alice", "bob")
	oldKeys := signingKeys(ctx, t, old)

	started := time.Now()
	runOnHost(ctx, t, old, "/matrix/bin/backup.sh", "--to", "/root/backup")
	t.Logf("figure: backup.sh took %.1f s", time.Since(started).Seconds())
	backup := filepath.Join(t.TempDir(), "backup")
	if err := docker(ctx, nil, "cp", old.host.Name+":/root/backup", backup); err != nil {
		t.Fatal(err)
	}

	// The new host: the same bundle, installed without starting, as
	// restore.sh asks, then the backup.
	s := freshHost(ctx, t, old.bundle, lifecycleProxy)
	installFirst(ctx, t, s, "--no-start")
	if err := s.host.CopyIn(ctx, backup, "/root/backup"); err != nil {
		t.Fatal(err)
	}
	started = time.Now()
	runOnHost(ctx, t, s, "/matrix/bin/restore.sh", "/root/backup")
	s.waitForAPI(ctx, t)
	t.Logf("figure: restore.sh to the client API answering: %.1f s", time.Since(started).Seconds())

	verifyKept(ctx, t, s, "alice", conversation)
	verifyKept(ctx, t, s, "bob", conversation)
	if newKeys := signingKeys(ctx, t, s); !maps.Equal(newKeys, oldKeys) {
		t.Errorf("the restored server signs with %v; before the backup it signed with %v", newKeys, oldKeys)
	}
}

// testPostgresUpgrade moves a live Synapse database from PostgreSQL 15 to
// 17 with the new bundle's postgres-upgrade.sh (Debian has no 16).
func testPostgresUpgrade(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s := freshHost(ctx, t, buildWith(t, "quickstart", map[string]any{"postgres.bundled.major": 15}), lifecycleProxy)
	// The data and the upgrade's dump live on a filesystem of their own,
	// so that "disk full" below fills it and not the machine's disk.
	runOnHost(ctx, t, s, "sh", "-c", "mkdir -p "+postgresDisk+" && mount -t tmpfs -o size="+postgresDiskSize+" tmpfs "+postgresDisk)
	installFirst(ctx, t, s)
	s.waitForAPI(ctx, t)
	registerUsers(ctx, t, s, "alice", "bob")
	conversation := converse(ctx, t, s, "alice", "bob")

	upgraded := buildWith(t, "quickstart", map[string]any{"postgres.bundled.major": 17})
	newImage := postgresImage(upgraded)
	shipUpgrade(ctx, t, s, upgraded, newImage)
	t.Run("dump killed", func(t *testing.T) { checkDumpKilled(ctx, t, s, conversation) })
	t.Run("disk full", func(t *testing.T) { checkDiskFull(ctx, t, s, conversation) })
	started := time.Now()
	runOnHost(ctx, t, s, bundleOnHost+"/matrix/bin/postgres-upgrade.sh")
	s.waitForAPI(ctx, t)
	t.Logf("figure: postgres-upgrade.sh 15 to 17 to the client API answering: %.1f s", time.Since(started).Seconds())

	if got := containerImage(ctx, t, s, "matrix-postgres"); got != newImage {
		t.Errorf("after postgres-upgrade.sh matrix-postgres runs %s, want %s", got, newImage)
	}
	if version, err := s.host.Output(ctx, "cat", "/matrix/postgres/data-15/PG_VERSION"); err != nil || strings.TrimSpace(version) != "15" {
		t.Errorf("the old data directory is not kept at /matrix/postgres/data-15: %q %v", version, err)
	}
	verifyKept(ctx, t, s, "alice", conversation)
	verifyKept(ctx, t, s, "bob", conversation)
}

// checkDumpKilled kills postgres-upgrade.sh's dump as soon as it starts:
// the old server must keep serving, with the services started again and
// the users' data where it was.
func checkDumpKilled(ctx context.Context, t *testing.T, s *server, conversation kept) {
	// The bracket keeps the pattern from matching this shell's own
	// command line.
	killer := `for i in $(seq 1500); do pkill -f 'exec matrix-postgre[s] pg_dumpall' && exit 0; sleep 0.02; done; exit 1`
	killed := make(chan error, 1)
	go func() { _, err := s.host.Run(ctx, nil, "sh", "-c", killer); killed <- err }()
	out, err := s.host.Run(ctx, nil, bundleOnHost+"/matrix/bin/postgres-upgrade.sh")
	t.Logf("postgres-upgrade.sh with its dump killed:\n%s", out)
	if <-killed != nil {
		t.Fatal("the dump was never seen running, so it could not be killed")
	}
	if err == nil {
		t.Fatal("postgres-upgrade.sh succeeded although its dump was killed")
	}
	if !strings.Contains(out, "stopped before changing any data") {
		t.Errorf("postgres-upgrade.sh does not say that nothing changed")
	}
	s.waitForAPI(ctx, t)
	verifyKept(ctx, t, s, "alice", conversation)
}

// postgresDisk holds PostgreSQL's data and, beside it, the upgrade's dump.
const (
	postgresDisk     = "/matrix/postgres"
	postgresDiskSize = "2g"
)

// checkDiskFull runs postgres-upgrade.sh with too little room for its
// dump: it must stop saying that nothing changed, drop what it wrote, and
// leave the old server serving once the operator has made room.
func checkDiskFull(ctx context.Context, t *testing.T, s *server, conversation kept) {
	dump, err := s.host.Output(ctx, "sh", "-c", "docker exec matrix-postgres pg_dumpall -U matrix | wc -c")
	if err != nil {
		t.Fatal(err)
	}
	dumpBytes, err := strconv.ParseInt(strings.TrimSpace(dump), 10, 64)
	if err != nil {
		t.Fatalf("wc says %q: %v", dump, err)
	}
	// Measured after the dump, which made PostgreSQL write files too.
	used, err := s.host.Output(ctx, "sh", "-c", "df --output=used -B1 "+postgresDisk+" | tail -n 1")
	if err != nil {
		t.Fatal(err)
	}
	usedBytes, err := strconv.ParseInt(strings.TrimSpace(used), 10, 64)
	if err != nil {
		t.Fatalf("df says %q: %v", used, err)
	}
	// Room for half the dump: the row counts the script writes first and
	// the files a new PostgreSQL connection writes fit, the dump does not.
	room := dumpBytes / 2
	size := (usedBytes + room + 4095) &^ 4095 // tmpfs counts whole pages
	t.Logf("the dump takes %d bytes; about %d bytes left free", dumpBytes, size-usedBytes)
	runOnHost(ctx, t, s, "mount", "-o", "remount,size="+strconv.FormatInt(size, 10), postgresDisk)
	out, err := s.host.Run(ctx, nil, bundleOnHost+"/matrix/bin/postgres-upgrade.sh")
	t.Logf("postgres-upgrade.sh on a full disk:\n%s", out)
	runOnHost(ctx, t, s, "mount", "-o", "remount,size="+postgresDiskSize, postgresDisk)
	if err == nil {
		t.Fatal("postgres-upgrade.sh succeeded although its dump could not be written")
	}
	if !strings.Contains(out, "stopped before changing any data") {
		t.Errorf("postgres-upgrade.sh does not say that nothing changed")
	}
	left, _ := s.host.Output(ctx, "sh", "-c", "ls -d "+postgresDisk+"/data-* 2>/dev/null; cat "+postgresDisk+"/data/PG_VERSION")
	if strings.TrimSpace(left) != "15" {
		t.Errorf("after the failed upgrade, want only the old data directory (PostgreSQL 15), found: %q", left)
	}
	s.waitForAPI(ctx, t)
	verifyKept(ctx, t, s, "bob", conversation)
}

// shipUpgrade puts a new bundle where the old one was, as rsync does, and
// its new image into the host's Docker: no registry reaches the host, so
// the operator loads it first.
func shipUpgrade(ctx context.Context, t *testing.T, s *server, b *Bundle, images ...string) {
	t.Helper()
	ensureImages(ctx, t, images)
	if err := s.host.LoadImages(ctx, images); err != nil {
		t.Fatal(err)
	}
	if err := s.host.CopyIn(ctx, b.Dir, bundleOnHost); err != nil {
		t.Fatal(err)
	}
}

// postgresImage is the image of a bundle's PostgreSQL unit.
func postgresImage(b *Bundle) string {
	for _, svc := range b.Result.Plan.Services {
		if svc.Unit == "matrix-postgres" {
			return svc.Image
		}
	}
	return ""
}

func buildWith(t *testing.T, example string, changes map[string]any) *Bundle {
	t.Helper()
	set := settings(example, lifecycleProxy)
	maps.Copy(set, changes)
	b, err := Build(examplePath(example), set, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runOnHost(ctx context.Context, t *testing.T, s *server, args ...string) {
	t.Helper()
	started := time.Now()
	out, err := s.host.Run(ctx, nil, args...)
	t.Logf("%s (%.1f s):\n%s", strings.Join(args, " "), time.Since(started).Seconds(), out)
	if err != nil {
		t.Fatalf("%v\n%s", err, failedUnits(ctx, s.host))
	}
}

func imageTag(ref string) string {
	return ref[strings.LastIndex(ref, ":")+1:]
}

// containerImage is the image reference a unit's container runs.
func containerImage(ctx context.Context, t *testing.T, s *server, container string) string {
	t.Helper()
	out, err := s.host.Output(ctx, "docker", "inspect", "--format", "{{.Config.Image}}", container)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// signingKeys are the server's federation signing keys, by key ID, as
// other servers fetch them.
func signingKeys(ctx context.Context, t *testing.T, s *server) map[string]string {
	t.Helper()
	r, err := s.web.Get(ctx, s.homeserver+":8448/_matrix/key/v2/server")
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		VerifyKeys map[string]struct {
			Key string `json:"key"`
		} `json:"verify_keys"`
	}
	if err := json.Unmarshal(r.Body, &answer); err != nil || len(answer.VerifyKeys) == 0 {
		t.Fatalf("the server's keys: %s", r)
	}
	keys := map[string]string{}
	for id, k := range answer.VerifyKeys {
		keys[id] = k.Key
	}
	return keys
}

// testChange applies three changes to a live server, one after the other,
// as an operator does with a new bundle: a raised upload limit, a bridge
// added, the proxy switched from Traefik to the host's nginx. For each,
// matrixgen diff's decision (internal/apply, the same code) predicts the
// units started, restarted and stopped; the host's units must do exactly
// that, and the users still find their conversation afterwards.
func testChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	s := boot(ctx, t, "quickstart", "traefik")
	registerUsers(ctx, t, s, "alice", "bob")
	conversation := converse(ctx, t, s, "alice", "bob")

	applyInTurn(ctx, t, s, "quickstart", []configChange{
		{"upload limit", map[string]any{"homeserver.max_upload_size_mb": 2 * s.bundle.Result.Config.Homeserver.MaxUploadSizeMB}},
		{"bridge added", map[string]any{"bridges": map[string]any{
			"heisenbridge": map[string]any{"type": "heisenbridge", "owner": "@alice:" + s.domain},
		}}},
		{"proxy switched", map[string]any{"reverse_proxy.type": "nginx"}},
	}, conversation, nil)
}

// testRollingRestart changes a server with workers behind the default
// proxy in the two ways that must keep every pool serving: a worker added
// to the generic pool (it starts alone and the proxy takes it in), and an
// option every process reads (the main process restarts with the workers
// outside pools, then each pool one server at a time). A client asking the
// generic pool all along sees no failed request.
func testRollingRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	s := boot(ctx, t, "workers", "traefik")
	registerUsers(ctx, t, s, "alice", "bob")
	conversation := converse(ctx, t, s, "alice", "bob")

	applyInTurn(ctx, t, s, "workers", []configChange{
		{"worker added", map[string]any{"synapse.workers.generic": s.bundle.Result.Config.WorkerCounts().Generic + 1}},
		{"every process", map[string]any{"homeserver.max_upload_size_mb": 2 * s.bundle.Result.Config.Homeserver.MaxUploadSizeMB}},
	}, conversation, func(t *testing.T, stats pollStats) {
		if stats.failed > 0 {
			t.Errorf("%d of %d client requests failed (%s), longest gap %.1f s; want none",
				stats.failed, stats.sent, stats, stats.longestGap.Seconds())
		}
	})
}

// configChange is options changed (dotted paths) over the example.
type configChange struct {
	name     string
	settings map[string]any
}

// applyInTurn applies each change, on top of the ones before, as a new
// bundle of the example behind Traefik, in a subtest of its own (applyChange);
// afterwards alice still finds the conversation, and check, if any, judges
// what the polling client saw.
func applyInTurn(ctx context.Context, t *testing.T, s *server, example string, changes []configChange, conversation kept, check func(*testing.T, pollStats)) {
	set := settings(example, "traefik")
	// The bundles outlive their subtests: each one is the next one's
	// installed bundle.
	bundles := t.TempDir()
	for i, change := range changes {
		t.Run(change.name, func(t *testing.T) {
			maps.Copy(set, change.settings)
			next, err := Build(examplePath(example), set, filepath.Join(bundles, strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			stats := applyChange(ctx, t, s, next)
			if check != nil {
				check(t, stats)
			}
			verifyKept(ctx, t, s, "alice", conversation)
		})
	}
}

// applyChange installs next over the server's bundle and compares what
// the units did with what matrixgen diff predicted.
func applyChange(ctx context.Context, t *testing.T, s *server, next *Bundle) pollStats {
	t.Helper()
	predicted := predictedUnits(t, s.bundle, next)
	t.Logf("matrixgen diff predicts: %v", predicted)
	shipUpgrade(ctx, t, s, next, next.Images()...)
	before := unitPIDs(ctx, t, s.host)
	poll := pollAPI(ctx, s)
	started := time.Now()
	runOnHost(ctx, t, s, bundleOnHost+"/install.sh")
	s.bundle = next
	if next.Result.Config.ReverseProxy.Type != s.proxy {
		s.proxy = next.Result.Config.ReverseProxy.Type
		if s.proxy != "traefik" {
			cfg := next.Result.Config
			if err := SetUpWebserver(ctx, s.host, s.proxy, bundleOnHost, cfg.Domain, next.Hostnames()); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.waitForAPI(ctx, t)
	took := time.Since(started)
	stats := poll()
	t.Logf("figure: change applied in %.1f s; %d of %d client requests failed (%s), longest gap %.1f s",
		took.Seconds(), stats.failed, stats.sent, stats, stats.longestGap.Seconds())
	observed := observedUnits(before, unitPIDs(ctx, t, s.host))
	if !maps.Equal(predicted, observed) {
		t.Errorf("matrixgen diff predicted %v; the host's units did %v", predicted, observed)
	}
	return stats
}

// predictedUnits is what applying next over the installed bundle does to
// each unit it touches: "start", "restart" or "stop".
func predictedUnits(t *testing.T, installed, next *Bundle) map[string]string {
	t.Helper()
	from, err := apply.Read(installed.Dir)
	if err != nil {
		t.Fatal(err)
	}
	to, err := apply.Read(next.Dir)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]string{}
	for _, step := range apply.Decide(from, to, nil) {
		switch step.Action {
		case "start", "restart", "stop":
			units[step.Subject] = step.Action
		}
	}
	return units
}

// observedUnits compares the units' main processes before and after: a
// new unit started, a new PID restarted, a unit gone stopped.
func observedUnits(before, after map[string]string) map[string]string {
	units := map[string]string{}
	for unit, pid := range after {
		switch old, had := before[unit]; {
		case !had:
			units[unit] = "start"
		case old != pid:
			units[unit] = "restart"
		}
	}
	for unit := range before {
		if _, kept := after[unit]; !kept {
			units[unit] = "stop"
		}
	}
	return units
}

// unitPIDs maps each running matrix unit to its main process.
func unitPIDs(ctx context.Context, t *testing.T, h *Host) map[string]string {
	t.Helper()
	pids := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(mainPIDs(ctx, t, h)), "\n") {
		unit, pid, _ := strings.Cut(line, " ")
		if pid != "" && pid != "0" {
			pids[strings.TrimSuffix(unit, ".service")] = pid
		}
	}
	return pids
}
