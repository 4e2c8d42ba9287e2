package pipeline

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/consumers"
)

// offHostTools are the tools the scheduled backup sends backups off the
// host with, and their Debian packages.
var offHostTools = map[string]string{"restic": "restic", "borg": "borgbackup"}

// TestScheduledBackupOffHost runs the scheduled backup twice on a host
// with a real PostgreSQL, with the real restic and borg and a repository
// in a local directory; checks the local and the repository's retention;
// then, on a new host with only the bundle applied (--no-start) and the
// repository's password in place, fetches the newest backup from the
// repository and restores it: every table's rows and every media file
// come back.
func TestScheduledBackupOffHost(t *testing.T) {
	for _, tool := range []string{"restic", "borg"} {
		t.Run(tool, func(t *testing.T) {
			real := consumers.Require(t, tool, offHostTools[tool])
			repo := filepath.Join(t.TempDir(), "repository")
			b := buildVariant(t, "quickstart", fmt.Sprintf(`backup:
  enabled: true
  keep_local: 1
  off_host:
    tool: %s
    repository: %s
    keep_daily: 1
    keep_weekly: 0
    keep_monthly: 0
`, tool, repo))
			h := newPostgresHost(t, b.host().DataDir+"/postgres/data")
			h.addTool(t, tool, real)
			b.provide(t, h.testHost)
			h.install(t, b.out).mustSucceed(t)
			if !exists(filepath.Join(h.state, "active-matrix-backup.timer")) || !exists(filepath.Join(h.state, "enabled-matrix-backup.timer")) {
				t.Errorf("install.sh did not enable and start matrix-backup.timer:\n%s", strings.Join(h.logLines(t), "\n"))
			}
			h.seed(t)
			media := map[string]string{
				"local_content/ab/cd/efghijkl":                    "an upload",
				"local_thumbnails/ab/cd/efghijkl/32-32-image-png": "its thumbnail",
			}
			writeFiles(t, h.at(b.res.Plan.Homeserver.MediaStore), media)

			script := b.binScript(h.testHost, "scheduled-backup.sh")
			h.runScript(t, script).mustSucceed(t)
			// Backups are named by the second.
			time.Sleep(1100 * time.Millisecond)
			h.runScript(t, script).mustSucceed(t)

			local, _ := filepath.Glob(h.at("/var/backups/matrixgen/*"))
			if len(local) != 1 {
				t.Errorf("local backups after two runs with keep_local 1: %q, want the newest alone", local)
			}
			password := h.at(b.host().SecretsDir + "/backup-repository-password")
			if n := repositoryBackups(t, tool, repo, password); n != 1 {
				t.Errorf("the repository holds %d backups after two runs on one day with keep_daily 1, want 1", n)
			}

			// A new host: the bundle applied with --no-start, the
			// repository's password provided, nothing else.
			h2 := newPostgresHost(t, b.host().DataDir+"/postgres/data")
			h2.addTool(t, tool, real)
			b.provide(t, h2.testHost)
			h2.install(t, b.out, "--no-start").mustSucceed(t)
			if exists(filepath.Join(h2.state, "active-matrix-backup.timer")) || !exists(filepath.Join(h2.state, "enabled-matrix-backup.timer")) {
				t.Errorf("install.sh --no-start should enable matrix-backup.timer and not start it")
			}
			fetch := b.binScript(h2.testHost, "fetch-backup.sh")
			list := h2.runScript(t, fetch, "--list")
			list.mustSucceed(t)
			h2.runScript(t, fetch, "--to", "/srv/fetched").mustSucceed(t)
			h2.runScript(t, b.binScript(h2.testHost, "restore.sh"), "/srv/fetched").mustSucceed(t)
			h2.checkRestored(t)
			for p, want := range media {
				if got := readFile(t, filepath.Join(h2.at(b.res.Plan.Homeserver.MediaStore), p)); got != want {
					t.Errorf("media %s after the restore = %q, want %q", p, got, want)
				}
			}
			if got, want := b.readSecrets(t, h2.testHost), b.readSecrets(t, h.testHost); !maps.Equal(got, want) {
				t.Errorf("the new host's secrets differ from the old host's after the restore")
			}
		})
	}
}

// TestScheduledBackupFails: a backup that cannot be made fails the run,
// so that the unit fails, and no success is recorded.
func TestScheduledBackupFails(t *testing.T) {
	real := consumers.Require(t, "restic", "restic")
	repo := filepath.Join(t.TempDir(), "repository")
	b := buildVariant(t, "quickstart", fmt.Sprintf("backup:\n  enabled: true\n  off_host: {tool: restic, repository: %s}\nmonitoring: {enabled: true}\n", repo))
	h := newPostgresHost(t, b.host().DataDir+"/postgres/data")
	h.addTool(t, "restic", real)
	b.provide(t, h.testHost)
	h.install(t, b.out).mustSucceed(t)
	h.seed(t)
	script := b.binScript(h.testHost, "scheduled-backup.sh")
	metrics := h.at(b.res.Plan.Backup.MetricsFile)

	stamp := h.at(b.res.Plan.Backup.StampFile)

	h.runScript(t, script).mustSucceed(t)
	if got := readFile(t, metrics); !strings.Contains(got, "matrixgen_backup_last_success_timestamp_seconds ") {
		t.Fatalf("no success recorded after a backup that succeeded: %q", got)
	}
	// The record self-check.sh reads: seconds since the epoch, a moment ago.
	if got, err := strconv.ParseInt(strings.TrimSpace(readFile(t, stamp)), 10, 64); err != nil || time.Since(time.Unix(got, 0)) > time.Hour {
		t.Errorf("%s after a backup that succeeded: %d, %v; want the time it ended", b.res.Plan.Backup.StampFile, got, err)
	}
	for _, f := range []string{metrics, stamp} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	// Another password: the repository cannot be opened.
	writeSecret(t, h.at(b.host().SecretsDir+"/backup-repository-password"), "another-password")
	h.runScript(t, script).mustFail(t, "cannot open or make the repository")
	if exists(metrics) || exists(stamp) {
		t.Errorf("a failed run recorded a success")
	}
}

// addTool puts a real program on the test host's PATH.
func (h *testHost) addTool(t testing.TB, name, real string) {
	t.Helper()
	if err := os.Symlink(real, filepath.Join(h.tools, name)); err != nil {
		t.Fatal(err)
	}
}

// repositoryBackups counts the backups in a repository, asking the tool.
func repositoryBackups(t *testing.T, tool, repo, passwordFile string) int {
	t.Helper()
	var cmd *exec.Cmd
	switch tool {
	case "restic":
		cmd = exec.Command("restic", "--no-cache", "-r", repo, "--password-file", passwordFile, "snapshots", "--json")
	case "borg":
		cmd = exec.Command("borg", "list", "--short", repo)
		cmd.Env = append(os.Environ(), "BORG_PASSCOMMAND=cat "+passwordFile, "BORG_BASE_DIR="+t.TempDir())
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	if tool == "restic" {
		var snapshots []any
		if err := json.Unmarshal(out, &snapshots); err != nil {
			t.Fatal(err)
		}
		return len(snapshots)
	}
	return len(strings.Fields(string(out)))
}
