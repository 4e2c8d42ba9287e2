package config

// Monitoring is Prometheus, its exporters and Grafana.
type Monitoring struct {
	Enabled          bool       `json:"enabled"`
	Prometheus       Prometheus `json:"prometheus"`
	NodeExporter     Image      `json:"node_exporter"`
	PostgresExporter Image      `json:"postgres_exporter"`
	Grafana          Grafana    `json:"grafana"`
}

type Prometheus struct {
	Image          string `json:"image"`
	RetentionTime  string `json:"retention_time"`
	RetentionSize  string `json:"retention_size,omitempty"`
	ScrapeInterval string `json:"scrape_interval"`
}

// Image is a component whose only option is its container image.
type Image struct {
	Image string `json:"image"`
}

type Grafana struct {
	Image string `json:"image"`
	// Hostname is Grafana's own hostname; "" serves it under Path on the
	// homeserver's hostname.
	Hostname string `json:"hostname,omitempty"`
	Path     string `json:"path"`
	HostPort int    `json:"host_port"`
}

// OwnHostname tells whether Grafana has a hostname of its own.
func (g Grafana) OwnHostname() bool { return g.Hostname != "" }

// SynapseMetrics tells whether Synapse's processes serve metrics: asked
// for, or needed by monitoring.
func (c *Config) SynapseMetrics() bool { return c.Synapse.Metrics.Enabled || c.Monitoring.Enabled }
