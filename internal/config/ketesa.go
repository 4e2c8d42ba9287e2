package config

// Ketesa is the web UI for Synapse's admin API.
type Ketesa struct {
	Enabled bool   `json:"enabled"`
	Image   string `json:"image"`
	// Hostname is Ketesa's own hostname; "" serves it under Path on the
	// homeserver's hostname.
	Hostname string         `json:"hostname,omitempty"`
	Path     string         `json:"path"`
	HostPort int            `json:"host_port"`
	Extra    map[string]any `json:"extra"`
}

// OwnHostname tells whether Ketesa has a hostname of its own.
func (k Ketesa) OwnHostname() bool { return k.Hostname != "" }
