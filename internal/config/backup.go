package config

// Backup is the scheduled backup and where it goes.
type Backup struct {
	Enabled  bool   `json:"enabled"`
	Schedule string `json:"schedule"`
	// MaxAgeHours is how old the last successful backup may be.
	MaxAgeHours int           `json:"max_age_hours"`
	Directory   string        `json:"directory"`
	KeepLocal   int           `json:"keep_local"`
	Media       bool          `json:"media"`
	OffHost     BackupOffHost `json:"off_host"`
}

type BackupOffHost struct {
	Tool            string `json:"tool"`
	Repository      string `json:"repository,omitempty"`
	EnvironmentFile string `json:"environment_file,omitempty"`
	KeepDaily       int    `json:"keep_daily"`
	KeepWeekly      int    `json:"keep_weekly"`
	KeepMonthly     int    `json:"keep_monthly"`
}
