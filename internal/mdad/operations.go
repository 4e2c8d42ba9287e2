package mdad

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// operationsRows translate how the playbook watches, backs up and tidies
// the server: its Prometheus and Grafana (monitoring), its borg backup
// (backup with off_host.tool borg) and Synapse's state compressor. Each
// has a current name and the matrix_-prefixed one from before the
// playbook moved the role out; the first row of an option wins.
var operationsRows = []row{
	{name: "prometheus_enabled", fn: monitoringSwitch},
	{name: "matrix_prometheus_enabled", fn: monitoringSwitch},
	{name: "grafana_enabled", fn: grafanaSwitch},
	{name: "matrix_grafana_enabled", fn: grafanaSwitch},
	{name: "grafana_hostname", option: "monitoring.grafana.hostname", conv: str, when: grafanaUsed},
	{name: "matrix_server_fqn_grafana", option: "monitoring.grafana.hostname", conv: str, when: grafanaUsed},
	{name: "grafana_default_admin_password", secret: grafanaAdminSecret, when: grafanaUsed},
	{name: "matrix_grafana_default_admin_password", secret: grafanaAdminSecret, when: grafanaUsed},
	{name: "grafana_default_admin_user", why: whyGrafanaAdmin},
	{name: "matrix_grafana_default_admin_user", why: whyGrafanaAdmin},
	{name: "grafana_anonymous_access", why: whyAnonymousGrafana},
	{name: "matrix_grafana_anonymous_access", why: whyAnonymousGrafana},
	{name: "prometheus_node_exporter_enabled", fn: exporterSwitch},
	{name: "matrix_prometheus_node_exporter_enabled", fn: exporterSwitch},
	{name: "prometheus_postgres_exporter_enabled", fn: exporterSwitch},
	{name: "matrix_prometheus_postgres_exporter_enabled", fn: exporterSwitch},

	{name: "backup_borg_enabled", fn: borgSwitch},
	{name: "matrix_backup_borg_enabled", fn: borgSwitch},
	{name: "backup_borg_location_repositories", fn: borgRepositories, when: borgUsed},
	{name: "matrix_backup_borg_location_repositories", fn: borgRepositories, when: borgUsed},
	{name: "backup_borg_storage_encryption_passphrase", secret: backupPasswordSecret, when: borgUsed},
	{name: "matrix_backup_borg_storage_encryption_passphrase", secret: backupPasswordSecret, when: borgUsed},
	{name: "backup_borg_schedule", option: "backup.schedule", conv: str, when: borgUsed},
	{name: "matrix_backup_borg_schedule", option: "backup.schedule", conv: str, when: borgUsed},
	{name: "backup_borg_retention_keep_daily", option: "backup.off_host.keep_daily", conv: integer, when: borgUsed},
	{name: "matrix_backup_borg_retention_keep_daily", option: "backup.off_host.keep_daily", conv: integer, when: borgUsed},
	{name: "backup_borg_retention_keep_weekly", option: "backup.off_host.keep_weekly", conv: integer, when: borgUsed},
	{name: "matrix_backup_borg_retention_keep_weekly", option: "backup.off_host.keep_weekly", conv: integer, when: borgUsed},
	{name: "backup_borg_retention_keep_monthly", option: "backup.off_host.keep_monthly", conv: integer, when: borgUsed},
	{name: "matrix_backup_borg_retention_keep_monthly", option: "backup.off_host.keep_monthly", conv: integer, when: borgUsed},
	{name: "backup_borg_ssh_key_private", why: whyBorgKey},
	{name: "matrix_backup_borg_ssh_key_private", why: whyBorgKey},

	{name: "matrix_synapse_auto_compressor_enabled", option: "maintenance.state_compressor.enabled", conv: boolean},
	{name: "matrix_synapse_auto_compressor_schedule", option: "maintenance.state_compressor.schedule", conv: str, when: compressorUsed},
	{name: "matrix_synapse_auto_compressor_calendar", option: "maintenance.state_compressor.schedule", conv: str, when: compressorUsed},
	{name: "matrix_synapse_auto_compressor_chunk_size", option: "maintenance.state_compressor.chunk_size", conv: integer, when: compressorUsed},
	{name: "matrix_synapse_auto_compressor_chunks_to_compress", option: "maintenance.state_compressor.chunks", conv: integer, when: compressorUsed},
}

const (
	grafanaAdminSecret   = "grafana-admin-password"
	backupPasswordSecret = "backup-repository-password"

	whyGrafanaAdmin     = "matrixgen's Grafana admin user is admin; its password comes from grafana_default_admin_password when given"
	whyAnonymousGrafana = "matrixgen's Grafana always asks for a login: its graphs show when the server's users are active"
	whyBorgKey          = "the scheduled backup runs as root on the host and uses root's SSH key and known_hosts: put the key in /root/.ssh, or name it with BORG_RSH in backup.off_host.environment_file"
)

// monitoringSwitch: the playbook's Prometheus is matrixgen's monitoring,
// which brings the exporters and Grafana with it.
func monitoringSwitch(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case on:
		t.set(v, "monitoring.enabled", boolNode(true))
	default:
		t.readVar(v, "off, as monitoring is by default")
	}
}

// grafanaSwitch: Grafana comes with monitoring here; on its own it turns
// monitoring on, since it has nothing to show without Prometheus. The
// playbook serves it on a hostname of its own, stats.DOMAIN unless told
// otherwise, which is kept so that bookmarks keep working.
func grafanaSwitch(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
		return
	case !on && t.monitoringOn():
		t.notTranslated(v, "matrixgen runs Grafana whenever monitoring is on; it is reached through the proxy only after a login")
		return
	case !on:
		t.readVar(v, "off, as monitoring is by default")
		return
	}
	if !t.monitoringOn() {
		t.set(v, "monitoring.enabled", boolNode(true))
	} else {
		t.readVar(v, "matrixgen runs Grafana with monitoring")
	}
	if !t.isSet("grafana_hostname") && !t.isSet("matrix_server_fqn_grafana") {
		t.setDefault("monitoring.grafana.hostname", strNode("stats."+t.domain()), "the playbook's Grafana hostname")
	}
}

// exporterSwitch: the exporters run whenever monitoring does.
func exporterSwitch(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case !t.monitoringOn():
		t.notTranslated(v, "matrixgen runs the exporters only with its Prometheus (prometheus_enabled)")
	case on:
		t.readVar(v, "matrixgen runs node exporter and the PostgreSQL exporter with monitoring")
	default:
		t.notTranslated(v, "matrixgen runs node exporter and the PostgreSQL exporter whenever monitoring is on")
	}
}

// borgSwitch: the playbook's borgmatic becomes the scheduled backup, sent
// off the host with borg.
func borgSwitch(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case on:
		if t.set(v, "backup.enabled", boolNode(true)) {
			t.set(v, "backup.off_host.tool", strNode("borg"))
		}
	default:
		t.readVar(v, "off, as scheduled backups are by default")
	}
}

// borgRepositories: matrixgen sends each backup to one repository.
func borgRepositories(t *translator, v *variable, n *yaml.Node) {
	list, err := stringList(n)
	if err != nil {
		t.notTranslated(v, err.Error())
		return
	}
	switch len(list.Content) {
	case 0:
		t.notTranslated(v, "no repository: backup.off_host.repository must name one")
	case 1:
		t.set(v, "backup.off_host.repository", list.Content[0])
	default:
		if t.set(v, "backup.off_host.repository", list.Content[0]) {
			t.notes = append(t.notes, fmt.Sprintf("backup.off_host.repository: %s, the first of %d repositories of %s; matrixgen sends each backup to one",
				list.Content[0].Value, len(list.Content), v.name))
		}
	}
}

func (t *translator) monitoringOn() bool {
	n, ok := t.out.get("monitoring.enabled")
	return ok && n.Value == "true"
}

func grafanaUsed(t *translator) string {
	if t.monitoringOn() {
		return ""
	}
	return "monitoring is off here (prometheus_enabled, grafana_enabled), so there is no Grafana"
}

func borgUsed(t *translator) string {
	if n, ok := t.out.get("backup.off_host.tool"); ok && n.Value == "borg" {
		return ""
	}
	return "the borg backup is off here (backup_borg_enabled)"
}

func compressorUsed(t *translator) string {
	if n, ok := t.out.get("maintenance.state_compressor.enabled"); ok && n.Value == "true" {
		return ""
	}
	return "the state compressor is off here (matrix_synapse_auto_compressor_enabled)"
}
