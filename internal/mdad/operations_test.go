package mdad

import (
	"slices"
	"strings"
	"testing"
)

// TestMDADOperations translates the playbook's Prometheus, Grafana, borg
// backup and state compressor, under their current names and the
// matrix_-prefixed ones they had before.
func TestMDADOperations(t *testing.T) {
	const base = "matrix_domain: example.com\ntraefik_config_certificatesResolvers_acme_email: a@example.com\n"
	for _, c := range []struct {
		name, vars string
		options    map[string]string
		reasons    map[string]string
		secrets    map[string]string // secret → value
		missing    []string          // secrets vars.yml does not give
	}{
		{
			name: "Prometheus and Grafana",
			vars: "prometheus_enabled: true\nprometheus_node_exporter_enabled: true\nprometheus_postgres_exporter_enabled: false\n" +
				"grafana_enabled: true\ngrafana_default_admin_user: boss\ngrafana_default_admin_password: Graf-Pass-1\ngrafana_anonymous_access: true\n",
			options: map[string]string{"monitoring.enabled": "true", "monitoring.grafana.hostname": "stats.example.com"},
			reasons: map[string]string{
				"prometheus_postgres_exporter_enabled": "whenever monitoring is on",
				"grafana_default_admin_user":           "admin user is admin",
				"grafana_anonymous_access":             "always asks for a login",
			},
			secrets: map[string]string{"grafana-admin-password": "Graf-Pass-1"},
		},
		{
			name:    "Grafana on a hostname of its own, under the old names",
			vars:    "matrix_prometheus_enabled: true\nmatrix_grafana_enabled: true\ngrafana_hostname: graphs.example.com\n",
			options: map[string]string{"monitoring.enabled": "true", "monitoring.grafana.hostname": "graphs.example.com"},
			missing: []string{"grafana-admin-password"},
		},
		{
			name:    "Grafana alone turns monitoring on",
			vars:    "grafana_enabled: true\n",
			options: map[string]string{"monitoring.enabled": "true", "monitoring.grafana.hostname": "stats.example.com"},
		},
		{
			name:    "Grafana off beside Prometheus",
			vars:    "prometheus_enabled: true\ngrafana_enabled: false\n",
			options: map[string]string{"monitoring.enabled": "true", "monitoring.grafana.hostname": "(not set)"},
			reasons: map[string]string{"grafana_enabled": "runs Grafana whenever monitoring is on"},
		},
		{
			name:    "monitoring off",
			vars:    "prometheus_enabled: false\nprometheus_node_exporter_enabled: true\ngrafana_hostname: stats.example.com\ngrafana_default_admin_password: Graf-Pass-2\n",
			options: map[string]string{"monitoring.enabled": "(not set)"},
			reasons: map[string]string{
				"prometheus_node_exporter_enabled": "only with its Prometheus",
				"grafana_hostname":                 "no Grafana",
				"grafana_default_admin_password":   "no Grafana",
			},
		},
		{
			name: "borg backup",
			vars: "backup_borg_enabled: true\nbackup_borg_location_repositories: ['ssh://borg@backup.example.net/./matrix']\n" +
				"backup_borg_storage_encryption_passphrase: Borg-Phrase-1\nbackup_borg_schedule: '*-*-* 05:00:00'\n" +
				"backup_borg_retention_keep_daily: 10\nbackup_borg_retention_keep_weekly: 5\nbackup_borg_retention_keep_monthly: 3\n" +
				"backup_borg_ssh_key_private: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n  abc\n  -----END OPENSSH PRIVATE KEY-----\n",
			options: map[string]string{
				"backup.enabled": "true", "backup.off_host.tool": "borg",
				"backup.off_host.repository": "ssh://borg@backup.example.net/./matrix", "backup.schedule": "*-*-* 05:00:00",
				"backup.off_host.keep_daily": "10", "backup.off_host.keep_weekly": "5", "backup.off_host.keep_monthly": "3",
			},
			reasons: map[string]string{"backup_borg_ssh_key_private": "root's SSH key"},
			secrets: map[string]string{"backup-repository-password": "Borg-Phrase-1"},
		},
		{
			name: "borg backup under the old names, two repositories, no passphrase",
			vars: "matrix_backup_borg_enabled: true\nmatrix_backup_borg_location_repositories: ['borg@one.example.net:matrix', 'borg@two.example.net:matrix']\n",
			options: map[string]string{
				"backup.enabled": "true", "backup.off_host.tool": "borg", "backup.off_host.repository": "borg@one.example.net:matrix",
			},
			missing: []string{"backup-repository-password"},
		},
		{
			name:    "borg settings without borg",
			vars:    "backup_borg_enabled: false\nbackup_borg_schedule: daily\nbackup_borg_storage_encryption_passphrase: Borg-Phrase-2\n",
			options: map[string]string{"backup.enabled": "(not set)"},
			reasons: map[string]string{
				"backup_borg_schedule":                      "borg backup is off",
				"backup_borg_storage_encryption_passphrase": "borg backup is off",
			},
		},
		{
			name: "state compressor",
			vars: "matrix_synapse_auto_compressor_enabled: true\nmatrix_synapse_auto_compressor_calendar: '*-*-* 02:00:00'\n" +
				"matrix_synapse_auto_compressor_chunk_size: 250\nmatrix_synapse_auto_compressor_chunks_to_compress: 50\n",
			options: map[string]string{
				"maintenance.state_compressor.enabled": "true", "maintenance.state_compressor.schedule": "*-*-* 02:00:00",
				"maintenance.state_compressor.chunk_size": "250", "maintenance.state_compressor.chunks": "50",
			},
		},
		{
			name:    "state compressor beside another homeserver",
			vars:    "matrix_homeserver_implementation: dendrite\nmatrix_synapse_auto_compressor_enabled: true\n",
			options: map[string]string{"maintenance.state_compressor.enabled": "(not set)"},
			reasons: map[string]string{"matrix_synapse_auto_compressor_enabled": "does not run Synapse"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := checkRule(t, base+c.vars, c.options, c.reasons)
			if len(r.Problems) > 0 {
				t.Errorf("the translated config is invalid: %v\n%s", r.Problems, r.Config)
			}
			for name, value := range c.secrets {
				i := slices.IndexFunc(r.Secrets, func(s Secret) bool { return s.Name == name })
				if i < 0 || r.Secrets[i].Value != value {
					t.Errorf("secret %s: %v, want %q", name, r.Secrets, value)
				}
			}
			for _, name := range c.missing {
				if !slices.ContainsFunc(r.Missing, func(m MissingSecret) bool { return m.Name == name }) {
					t.Errorf("secret %s is not reported missing: %v", name, r.Missing)
				}
			}
			// A passphrase or key is never shown.
			for _, u := range slices.Concat(r.Untranslated, r.Read) {
				if strings.Contains(u.Shown, "Phrase") || strings.Contains(u.Shown, "PRIVATE") || strings.Contains(u.Shown, "Graf-Pass") {
					t.Errorf("%s shows its value: %s", u.Name, u.Shown)
				}
			}
			if strings.Contains(string(r.Config), "Phrase") || strings.Contains(string(r.Config), "Graf-Pass") {
				t.Errorf("a secret is in the config:\n%s", r.Config)
			}
		})
	}
}
