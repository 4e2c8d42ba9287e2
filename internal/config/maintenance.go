package config

// MediaRetention is Synapse's media_retention.
type MediaRetention struct {
	LocalMediaLifetime  string `json:"local_media_lifetime,omitempty"`
	RemoteMediaLifetime string `json:"remote_media_lifetime,omitempty"`
}

// Maintenance is what the host does on a schedule to keep its storage in
// shape.
type Maintenance struct {
	PostgresVacuum  ScheduledJob    `json:"postgres_vacuum"`
	StateCompressor StateCompressor `json:"state_compressor"`
}

// StateCompressor is synapse_auto_compressor on a schedule.
type StateCompressor struct {
	Enabled   bool   `json:"enabled"`
	Schedule  string `json:"schedule"`
	Image     string `json:"image"`
	ChunkSize int    `json:"chunk_size"`
	Chunks    int    `json:"chunks"`
}

type ScheduledJob struct {
	Enabled  bool   `json:"enabled"`
	Schedule string `json:"schedule"`
}
