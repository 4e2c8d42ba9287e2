package compile

import (
	"path"

	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	backupUnit = "matrix-backup"
	// backupPasswordSecret encrypts the off-host repository. The operator
	// provides it, because a new host restoring the backup needs it before
	// anything else: a password made on the old host would be lost with it.
	backupPasswordSecret = "backup-repository-password"
	// backupRandomDelaySeconds spreads the start of hosts that share a
	// schedule and a repository server.
	backupRandomDelaySeconds = 600
)

// addBackup runs bin/scheduled-backup.sh from a timer: backup.sh into a
// dated directory, the local retention, and the copy off the host.
func addBackup(b *builder) {
	c := b.cfg.Backup
	bk := &plan.Backup{
		Directory: c.Directory, KeepLocal: c.KeepLocal, Media: c.Media,
		KeepDaily: c.OffHost.KeepDaily, KeepWeekly: c.OffHost.KeepWeekly, KeepMonthly: c.OffHost.KeepMonthly,
		StampFile: b.dataPath("matrixgen", "last-backup"), MaxAgeHours: c.MaxAgeHours,
	}
	if tool := c.OffHost.Tool; tool != "none" {
		b.providedSecret(backupPasswordSecret, "password of the "+tool+" repository "+c.OffHost.Repository+"; keep a copy off this host", backupUnit)
		bk.Tool, bk.Repository = tool, c.OffHost.Repository
		bk.PasswordFile = path.Join(b.plan.Host.SecretsDir, backupPasswordSecret)
		bk.EnvironmentFile = c.OffHost.EnvironmentFile
	}
	if b.cfg.Monitoring.Enabled {
		bk.MetricsFile = path.Join(textfileDir(b), "matrixgen-backup.prom")
	}
	b.plan.Backup = bk
	b.plan.Jobs = append(b.plan.Jobs, plan.Job{
		Unit:               backupUnit,
		Description:        "Back up the Matrix server",
		Command:            []string{b.dataPath("bin", "scheduled-backup.sh")},
		Schedule:           c.Schedule,
		RandomDelaySeconds: backupRandomDelaySeconds,
		After:              []string{"docker.service"},
	})
}
