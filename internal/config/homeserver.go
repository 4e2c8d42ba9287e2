package config

// Homeserver chooses the homeserver program.
type Homeserver struct {
	Implementation    string       `json:"implementation"`
	Registration      Registration `json:"registration"`
	MaxUploadSizeMB   int          `json:"max_upload_size_mb"`
	Presence          bool         `json:"presence"`
	Federation        Federation   `json:"federation"`
	TrustedKeyServers []string     `json:"trusted_key_servers"`
	AutoJoinRooms     []string     `json:"auto_join_rooms"`
	TURN              *TURN        `json:"turn,omitempty"`
}

// OtherHomeserver is the section of a homeserver other than Synapse:
// its image and free-form additions to its own config file.
type OtherHomeserver struct {
	Image string         `json:"image"`
	Extra map[string]any `json:"extra"`
}

// IsSynapse tells whether Synapse is the homeserver.
func (c *Config) IsSynapse() bool { return c.Homeserver.Implementation == "synapse" }
