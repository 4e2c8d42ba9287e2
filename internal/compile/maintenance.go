package compile

import (
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

const vacuumUnit = "matrix-postgres-vacuum"

// storageHygiene sets what Synapse deletes by itself: media nobody has
// asked for in a while, and rooms users have left.
func storageHygiene(s config.Synapse, hs obj) {
	retention := obj{}
	if l := s.MediaRetention.LocalMediaLifetime; l != "" {
		retention["local_media_lifetime"] = l
	}
	if l := s.MediaRetention.RemoteMediaLifetime; l != "" {
		retention["remote_media_lifetime"] = l
	}
	if len(retention) > 0 {
		hs["media_retention"] = retention
	}
	if s.ForgetRoomsOnLeave {
		hs["forget_rooms_on_leave"] = true
	}
}

// addPostgresVacuum runs vacuum.sh (VACUUM ANALYZE, the services left
// running) on a schedule.
func addPostgresVacuum(b *builder) {
	b.plan.Jobs = append(b.plan.Jobs, plan.Job{
		Unit:        vacuumUnit,
		Description: "VACUUM ANALYZE the Matrix server's databases",
		Command:     []string{b.dataPath("bin", "vacuum.sh")},
		Schedule:    b.cfg.Maintenance.PostgresVacuum.Schedule,
		// After the backup, when both fall due together.
		After: []string{"docker.service", backupUnit + ".service"},
	})
}
