package compile

import (
	"fmt"
	"slices"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// The recording and alerting rules Prometheus evaluates, and the
// dashboards Grafana shows. They follow what Synapse's documentation
// (docs/metrics-howto.md, contrib/prometheus) says to watch: the reactor's
// tick time (a blocked process), how long database transactions wait for
// a connection, events persisted, the federation sender's queue, request
// rates and times by servlet, memory and CPU by process. Every metric they
// name is one the scrape targets export; a test holds them against the
// exporters' and Synapse's documented metric names.

type ruleFile struct {
	path  string // relative to Prometheus's configuration directory
	value obj
}

type rule struct {
	record, alert, expr, duration, severity, summary string
}

// prometheusRuleFiles are the rule files; with backups, an alert watches
// that they succeed.
func prometheusRuleFiles(backup *plan.Backup) []ruleFile {
	alerts := alertRules
	if backup != nil {
		alerts = append(slices.Clone(alerts), backupAlert(backup.MaxAgeHours))
	}
	return []ruleFile{
		{"rules/recording.yml", ruleGroups("matrixgen-recording", recordingRules)},
		{"rules/alerts.yml", ruleGroups("matrixgen-alerts", alerts)},
	}
}

// backupAlert: the scheduled backup writes the time of its last success
// (bin/scheduled-backup.sh); the alert fires when that is older than
// backup.max_age_hours, the age bin/self-check.sh accepts too, or when no
// backup has succeeded since monitoring started.
func backupAlert(maxAgeHours int) rule {
	return rule{alert: "BackupTooOld",
		expr: fmt.Sprintf(`time() - max(matrixgen_backup_last_success_timestamp_seconds) > %d * 3600 or absent(matrixgen_backup_last_success_timestamp_seconds)`,
			maxAgeHours),
		duration: "1h", severity: "critical",
		summary: fmt.Sprintf("no backup has succeeded for %d hours: systemctl status matrix-backup.service", maxAgeHours)}
}

// recordingRules precompute what the dashboards draw over long ranges.
var recordingRules = []rule{
	{record: "synapse:http_requests:rate5m", expr: `sum by (instance, servlet, method) (rate(synapse_http_server_response_count_total[5m]))`},
	{record: "synapse:http_response_time_seconds:p95_5m", expr: `histogram_quantile(0.95, sum by (instance, le) (rate(synapse_http_server_response_time_seconds_bucket[5m])))`},
	{record: "synapse:reactor_tick_seconds:p99_5m", expr: `histogram_quantile(0.99, sum by (instance, le) (rate(python_twisted_reactor_tick_time_bucket[5m])))`},
	{record: "synapse:db_schedule_seconds:p95_5m", expr: `histogram_quantile(0.95, sum by (instance, le) (rate(synapse_storage_schedule_time_bucket[5m])))`},
	{record: "synapse:events_persisted:rate5m", expr: `sum by (instance) (rate(synapse_storage_events_persisted_events_total[5m]))`},
	{record: "synapse:federation_pending_pdus:sum", expr: `sum(synapse_federation_transaction_queue_pending_pdus)`},
}

// alertRules fire in Prometheus's own alert list and in Grafana; there is
// no Alertmanager to send them on.
var alertRules = []rule{
	{alert: "TargetDown", expr: `up == 0`, duration: "5m", severity: "critical",
		summary: "{{ $labels.job }} target {{ $labels.instance }} has not answered Prometheus for 5 minutes"},
	{alert: "SynapseReactorBlocked", expr: `synapse:reactor_tick_seconds:p99_5m > 0.5`, duration: "10m", severity: "warning",
		summary: "{{ $labels.instance }}: reactor ticks take over 0.5 s: the process is overloaded or blocked"},
	{alert: "SynapseDatabaseWait", expr: `synapse:db_schedule_seconds:p95_5m > 1`, duration: "10m", severity: "warning",
		summary: "{{ $labels.instance }}: database transactions wait over 1 s for a connection"},
	{alert: "SynapseSlowResponses", expr: `synapse:http_response_time_seconds:p95_5m > 10`, duration: "15m", severity: "warning",
		summary: "{{ $labels.instance }}: the slowest 5 % of requests take over 10 s"},
	{alert: "SynapseFederationBacklog", expr: `synapse:federation_pending_pdus:sum > 1000`, duration: "30m", severity: "warning",
		summary: "over 1000 events wait to be sent to other servers"},
	{alert: "PostgresDown", expr: `pg_up == 0`, duration: "2m", severity: "critical",
		summary: "postgres_exporter cannot reach PostgreSQL"},
	{alert: "DiskAlmostFull", expr: `node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes < 0.1`, duration: "15m", severity: "warning",
		summary: "{{ $labels.mountpoint }} has less than 10 % space left"},
	{alert: "MemoryAlmostFull", expr: `node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.05`, duration: "15m", severity: "warning",
		summary: "the host has less than 5 % memory available"},
}

func ruleGroups(name string, rules []rule) obj {
	var out []any
	for _, r := range rules {
		o := obj{"expr": r.expr}
		if r.record != "" {
			o["record"] = r.record
		} else {
			o["alert"] = r.alert
			o["for"] = r.duration
			o["labels"] = obj{"severity": r.severity}
			o["annotations"] = obj{"summary": r.summary}
		}
		out = append(out, o)
	}
	return obj{"groups": []any{obj{"name": name, "rules": out}}}
}

// dashboard is one Grafana dashboard of time series panels, two a row.
type dashboard struct {
	file, uid, title string
	panels           []panel
}

type panel struct {
	title, unit string
	queries     []query
}

type query struct{ expr, legend string }

// Queries returns every PromQL expression of the dashboard.
func (d dashboard) Queries() []string {
	var out []string
	for _, p := range d.panels {
		for _, q := range p.queries {
			out = append(out, q.expr)
		}
	}
	return out
}

func (d dashboard) json() obj {
	var panels []any
	for i, p := range d.panels {
		var targets []any
		for j, q := range p.queries {
			targets = append(targets, obj{
				"refId":        string(rune('A' + j)),
				"expr":         q.expr,
				"legendFormat": q.legend,
				"datasource":   obj{"type": "prometheus", "uid": grafanaDatasource},
			})
		}
		panels = append(panels, obj{
			"id":         i + 1,
			"type":       "timeseries",
			"title":      p.title,
			"datasource": obj{"type": "prometheus", "uid": grafanaDatasource},
			"gridPos":    obj{"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8},
			"fieldConfig": obj{
				"defaults":  obj{"unit": p.unit},
				"overrides": []any{},
			},
			"targets": targets,
		})
	}
	return obj{
		"uid":           d.uid,
		"title":         d.title,
		"tags":          []any{"matrixgen"},
		"editable":      false,
		"schemaVersion": 39,
		"version":       1,
		"refresh":       "1m",
		"time":          obj{"from": "now-6h", "to": "now"},
		"timezone":      "browser",
		"panels":        panels,
	}
}

func grafanaDashboards() []dashboard {
	return []dashboard{
		{file: "synapse.json", uid: "matrixgen-synapse", title: "Synapse", panels: []panel{
			{"Requests by servlet", "reqps", []query{{`topk(10, sum by (servlet) (synapse:http_requests:rate5m))`, "{{servlet}}"}}},
			{"Response time, 95th percentile", "s", []query{{`synapse:http_response_time_seconds:p95_5m`, "{{instance}}"}}},
			{"Reactor tick time, 99th percentile", "s", []query{{`synapse:reactor_tick_seconds:p99_5m`, "{{instance}}"}}},
			{"Database connection wait, 95th percentile", "s", []query{{`synapse:db_schedule_seconds:p95_5m`, "{{instance}}"}}},
			{"Events persisted", "ops", []query{{`synapse:events_persisted:rate5m`, "{{instance}}"}}},
			{"Federation", "ops", []query{
				{`sum(rate(synapse_federation_client_sent_transactions_total[5m]))`, "transactions sent"},
				{`sum(rate(synapse_federation_server_received_pdus_total[5m]))`, "events received"},
				{`synapse:federation_pending_pdus:sum`, "events waiting to be sent"},
			}},
			{"Memory by process", "bytes", []query{{`process_resident_memory_bytes{job="synapse"}`, "{{instance}}"}}},
			{"CPU by process", "percentunit", []query{{`rate(process_cpu_seconds_total{job="synapse"}[5m])`, "{{instance}}"}}},
			{"Monthly active users", "short", []query{{`synapse_admin_mau_current`, "{{instance}}"}}},
			{"Responses by status code", "reqps", []query{{`sum by (code) (rate(synapse_http_server_responses_total[5m]))`, "{{code}}"}}},
		}},
		{file: "postgres.json", uid: "matrixgen-postgres", title: "PostgreSQL", panels: []panel{
			{"Server up", "short", []query{{`pg_up`, "up"}}},
			{"Connections", "short", []query{
				{`sum(pg_stat_database_numbackends)`, "open"},
				{`pg_settings_max_connections`, "max"},
			}},
			{"Database size", "bytes", []query{{`pg_database_size_bytes`, "{{datname}}"}}},
			{"Transactions", "ops", []query{
				{`sum by (datname) (rate(pg_stat_database_xact_commit[5m]))`, "{{datname}} commits"},
				{`sum by (datname) (rate(pg_stat_database_xact_rollback[5m]))`, "{{datname}} rollbacks"},
			}},
			{"Deadlocks", "short", []query{{`sum by (datname) (increase(pg_stat_database_deadlocks[1h]))`, "{{datname}}"}}},
		}},
		{file: "host.json", uid: "matrixgen-host", title: "Host", panels: []panel{
			{"CPU busy", "percentunit", []query{{`1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m]))`, "busy"}}},
			{"Load", "short", []query{{`node_load1`, "1 min"}, {`node_load15`, "15 min"}}},
			{"Memory available", "bytes", []query{
				{`node_memory_MemAvailable_bytes`, "available"},
				{`node_memory_MemTotal_bytes`, "total"},
			}},
			{"Disk space left", "percentunit", []query{{`node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay"}`, "{{mountpoint}}"}}},
			{"Disk throughput", "Bps", []query{
				{`sum(rate(node_disk_read_bytes_total[5m]))`, "read"},
				{`sum(rate(node_disk_written_bytes_total[5m]))`, "written"},
			}},
			{"Scrape targets up", "short", []query{{`sum by (job) (up)`, "{{job}}"}}},
			{"Hours since the last backup", "h", []query{{`(time() - matrixgen_backup_last_success_timestamp_seconds) / 3600`, "scheduled backup"}}},
		}},
	}
}
