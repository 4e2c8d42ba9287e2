package validate

import (
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// backupRepositoryGiven: a tool that sends backups off the host needs
// the repository to send them to.
func backupRepositoryGiven(c *config.Config, ix *index) diag.List {
	o := c.Backup.OffHost
	if !c.Backup.Enabled || o.Tool == "none" || o.Repository != "" {
		return nil
	}
	return problem(ix, "backup.off_host.tool", "%s needs backup.off_host.repository, the repository to send the backups to", o.Tool)
}

// vacuumNeedsBundledPostgres: the scheduled vacuum runs in the bundled
// server's container; an external server is looked after where it runs.
func vacuumNeedsBundledPostgres(c *config.Config, ix *index) diag.List {
	if !c.Maintenance.PostgresVacuum.Enabled || c.Postgres.Mode == "bundled" {
		return nil
	}
	return problem(ix, "maintenance.postgres_vacuum.enabled", "the scheduled vacuum needs postgres.mode bundled; vacuum an external server where it runs")
}

// stateCompressorNeedsSynapse: the compressor works on the tables of
// Synapse's database; other homeservers keep their state otherwise.
func stateCompressorNeedsSynapse(c *config.Config, ix *index) diag.List {
	if !c.Maintenance.StateCompressor.Enabled || c.IsSynapse() {
		return nil
	}
	return problem(ix, "maintenance.state_compressor.enabled", "the state compressor works on Synapse's database; homeserver.implementation is %s", c.Homeserver.Implementation)
}
