package compile

import (
	"fmt"
	"sort"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	prometheusUnit       = "matrix-prometheus"
	prometheusPort       = 9090
	nodeExporterUnit     = "matrix-prometheus-node-exporter"
	nodeExporterPort     = 9100
	postgresExporterUnit = "matrix-prometheus-postgres-exporter"
	postgresExporterPort = 9187
	grafanaUnit          = "matrix-grafana"
	grafanaPort          = 3000
	grafanaAdminSecret   = "grafana-admin-password"
	// grafanaDatasource is the uid every dashboard's panels name their
	// data source by.
	grafanaDatasource = "prometheus"

	// The container paths of Prometheus's configuration and samples.
	prometheusConfigDir = "/etc/prometheus"
	prometheusDataDir   = "/prometheus"
)

// metricsTarget is one endpoint Prometheus scrapes.
type metricsTarget struct {
	job, instance, address, path string
}

// addMonitoring runs Prometheus with the exporters and Grafana. Prometheus
// finds its targets in the plan: every service's "metrics" listener
// (Synapse's main process, each worker, any bridge that declares one), the
// exporters added here, and Traefik's metrics on its ping entrypoint. It
// runs after every component that adds a service. Nothing here publishes
// a port but Grafana's, for the operator's own webserver.
func addMonitoring(b *builder) {
	m := b.cfg.Monitoring
	homeserverNet := b.cfg.Host.Networks.Homeserver
	if b.cfg.Postgres.Mode == "bundled" {
		addPostgresExporter(b)
	}
	addNodeExporter(b)

	targets := metricsTargets(b)
	root := b.dataPath("prometheus")
	configDir, dataDir := root+"/config", root+"/data"
	b.dir(root, 0o750)
	b.dir(configDir, 0o750)
	b.dir(configDir+"/rules", 0o750)
	b.dir(dataDir, 0o700)
	b.plan.Dirs = append(b.plan.Dirs, plan.Dir{Path: textfileDir(b), Mode: 0o755, Owner: "root"})
	b.file(plan.File{Path: configDir + "/prometheus.yml", Format: plan.YAML, Value: prometheusConfig(m.Prometheus, targets), Restarts: []string{prometheusUnit}})
	for _, f := range prometheusRuleFiles(b.plan.Backup) {
		b.file(plan.File{Path: configDir + "/" + f.path, Format: plan.YAML, Value: f.value, Restarts: []string{prometheusUnit}})
	}
	networks := []string{homeserverNet}
	if b.cfg.ReverseProxy.Type == "traefik" {
		networks = append(networks, b.cfg.Host.Networks.Proxy) // where Traefik's metrics are
	}
	command := []string{
		"--config.file=" + prometheusConfigDir + "/prometheus.yml",
		"--storage.tsdb.path=" + prometheusDataDir,
		"--storage.tsdb.retention.time=" + m.Prometheus.RetentionTime,
		"--web.listen-address=:" + itoa(prometheusPort),
	}
	if m.Prometheus.RetentionSize != "" {
		command = append(command, "--storage.tsdb.retention.size="+m.Prometheus.RetentionSize)
	}
	b.service(plan.Service{
		Unit:        prometheusUnit,
		Description: "Prometheus, which keeps the metrics of the homeserver and the host",
		Image:       m.Prometheus.Image,
		Command:     command,
		Mounts: []plan.Mount{
			{Source: configDir, Target: prometheusConfigDir, ReadOnly: true},
			{Source: dataDir, Target: prometheusDataDir},
		},
		Networks:    networks,
		Listens:     []plan.Listen{{Name: "http", Port: prometheusPort}},
		StopTimeout: 60, // it writes its head block out on a clean stop
	})
	b.health(prometheusUnit, 60, "docker", "exec", prometheusUnit, "wget", "-q", "-O", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/-/ready", prometheusPort))
	addGrafana(b)
}

// metricsTargets lists every scrape target in the order of the plan's
// services: the metrics listeners components declared, then Traefik's.
func metricsTargets(b *builder) []metricsTarget {
	var out []metricsTarget
	for _, s := range b.plan.Services {
		for _, l := range s.Listens {
			if l.Name != "metrics" {
				continue
			}
			job, path := l.Job, l.Path
			if job == "" {
				job = s.Unit
			}
			if path == "" {
				path = "/metrics"
			}
			out = append(out, metricsTarget{job: job, instance: s.Unit, address: fmt.Sprintf("%s:%d", s.Address, l.Port), path: path})
		}
	}
	if b.cfg.ReverseProxy.Type == "traefik" {
		out = append(out, metricsTarget{job: "traefik", instance: traefikUnit, address: fmt.Sprintf("%s:%d", containerHostname(traefikUnit), traefikPingPort), path: "/metrics"})
	}
	return out
}

// prometheusConfig groups the targets into one scrape job per job name,
// each target labelled with its unit as instance, so that the dashboards
// name units rather than addresses. Rule files are named relative to the
// configuration, which is how promtool finds them in the bundle too.
func prometheusConfig(p config.Prometheus, targets []metricsTarget) obj {
	type job struct {
		path   string
		groups []any
	}
	jobs := map[string]*job{}
	var order []string
	for _, t := range targets {
		j := jobs[t.job]
		if j == nil {
			j = &job{path: t.path}
			jobs[t.job] = j
			order = append(order, t.job)
		}
		if j.path != t.path {
			panic(fmt.Sprintf("metrics job %s is served at %s and %s", t.job, j.path, t.path))
		}
		j.groups = append(j.groups, obj{"targets": []any{t.address}, "labels": obj{"instance": t.instance}})
	}
	sort.Strings(order)
	scrapes := []any{obj{
		"job_name":       "prometheus",
		"static_configs": []any{obj{"targets": []any{fmt.Sprintf("localhost:%d", prometheusPort)}, "labels": obj{"instance": prometheusUnit}}},
	}}
	for _, name := range order {
		scrapes = append(scrapes, obj{"job_name": name, "metrics_path": jobs[name].path, "static_configs": jobs[name].groups})
	}
	var rules []any
	for _, f := range prometheusRuleFiles(nil) {
		rules = append(rules, f.path)
	}
	return obj{
		"global": obj{
			"scrape_interval":     p.ScrapeInterval,
			"evaluation_interval": p.ScrapeInterval,
		},
		"rule_files":     rules,
		"scrape_configs": scrapes,
	}
}

// textfileDir holds the metrics host jobs write for node_exporter (the
// scheduled backup's last success); the jobs run as root, node_exporter
// reads as the matrix user.
func textfileDir(b *builder) string { return b.dataPath("prometheus", "textfile") }

const textfileTarget = "/host/textfile"

// addNodeExporter reads the host's /proc, /sys and root file system,
// mounted read-only, from a container on the homeserver network: the
// host's network stack stays out of reach, so no exporter port is ever on
// a public address. The network counters it reports are then the
// container's own; CPU, memory, load and file systems are the host's.
func addNodeExporter(b *builder) {
	b.service(plan.Service{
		Unit:        nodeExporterUnit,
		Description: "Prometheus node_exporter: the host's CPU, memory and disks",
		Image:       b.cfg.Monitoring.NodeExporter.Image,
		Command: []string{
			"--path.procfs=/host/proc",
			"--path.sysfs=/host/sys",
			"--path.rootfs=/host/root",
			"--web.listen-address=:" + itoa(nodeExporterPort),
			"--collector.textfile.directory=" + textfileTarget,
			// Docker's and the containers' mounts would repeat the host's file systems.
			"--collector.filesystem.mount-points-exclude=^/(dev|proc|run|sys|var/lib/docker/.+)($|/)",
		},
		Mounts: []plan.Mount{
			{Source: "/proc", Target: "/host/proc", ReadOnly: true},
			{Source: "/sys", Target: "/host/sys", ReadOnly: true},
			{Source: "/", Target: "/host/root", ReadOnly: true},
			{Source: textfileDir(b), Target: textfileTarget, ReadOnly: true},
		},
		Networks: []string{b.cfg.Host.Networks.Homeserver},
		Listens:  []plan.Listen{{Name: "metrics", Port: nodeExporterPort, Job: "node"}},
	})
}

// addPostgresExporter connects to the bundled server as its superuser,
// the one role that may read every database's statistics; the password
// comes from the secret's file.
func addPostgresExporter(b *builder) {
	pg := b.cfg.Postgres.Bundled
	secret := b.secret("postgres-password", "password of the postgres superuser", postgresExporterUnit)
	b.service(plan.Service{
		Unit:        postgresExporterUnit,
		Description: "Prometheus postgres_exporter: PostgreSQL's statistics",
		Image:       b.cfg.Monitoring.PostgresExporter.Image,
		Command:     []string{"--web.listen-address=:" + itoa(postgresExporterPort)},
		Env: []plan.EnvVar{
			{Name: "DATA_SOURCE_URI", Value: fmt.Sprintf("%s:%d/%s?sslmode=disable", postgresUnit, postgresPort, pg.Superuser)},
			{Name: "DATA_SOURCE_USER", Value: pg.Superuser},
			{Name: "DATA_SOURCE_PASS_FILE", Value: secretMount(string(secret))},
		},
		Mounts:   []plan.Mount{b.secretFileMount(string(secret))},
		Networks: []string{b.cfg.Host.Networks.Homeserver},
		Requires: []string{postgresUnit},
		Listens:  []plan.Listen{{Name: "metrics", Port: postgresExporterPort, Job: "postgres"}},
	})
}

// addGrafana serves Grafana behind the proxy, with its own login as the
// only way in: no anonymous access, no sign-up, the admin's password a
// host secret. Its data source and dashboards are provisioned from files,
// so that they follow the bundle.
func addGrafana(b *builder) {
	g := b.cfg.Monitoring.Grafana
	root := b.dataPath("grafana")
	provisioning, dashboards, data := root+"/provisioning", root+"/dashboards", root+"/data"
	for _, d := range []string{root, provisioning, provisioning + "/datasources", provisioning + "/dashboards", dashboards} {
		b.dir(d, 0o750)
	}
	b.dir(data, 0o700)
	restart := []string{grafanaUnit}
	b.file(plan.File{Path: provisioning + "/datasources/prometheus.yml", Format: plan.YAML, Value: grafanaDatasources(), Restarts: restart})
	b.file(plan.File{Path: provisioning + "/dashboards/matrixgen.yml", Format: plan.YAML, Value: grafanaDashboardProvider(), Restarts: restart})
	for _, d := range grafanaDashboards() {
		// Grafana reads dashboard files again by itself; no restart.
		b.file(plan.File{Path: dashboards + "/" + d.file, Format: plan.JSON, Value: d.json()})
	}
	admin := b.secret(grafanaAdminSecret, "password of Grafana's admin user", grafanaUnit)
	rootURL := "https://" + g.Hostname + "/"
	if !g.OwnHostname() {
		rootURL = "https://" + b.cfg.Hostnames.Homeserver + g.Path + "/"
	}
	b.service(plan.Service{
		Unit:        grafanaUnit,
		Description: "Grafana, the dashboards of the homeserver's metrics",
		Image:       g.Image,
		Env: []plan.EnvVar{
			{Name: "GF_SERVER_HTTP_PORT", Value: itoa(grafanaPort)},
			{Name: "GF_SERVER_ROOT_URL", Value: rootURL},
			// The proxy strips the path (the route's StripPrefix), so
			// Grafana serves from its root and only links under the path.
			{Name: "GF_SERVER_SERVE_FROM_SUB_PATH", Value: "false"},
			{Name: "GF_SECURITY_ADMIN_USER", Value: "admin"},
			{Name: "GF_SECURITY_ADMIN_PASSWORD__FILE", Value: secretMount(string(admin))},
			{Name: "GF_SECURITY_COOKIE_SECURE", Value: "true"},
			{Name: "GF_SECURITY_DISABLE_GRAVATAR", Value: "true"},
			{Name: "GF_AUTH_ANONYMOUS_ENABLED", Value: "false"},
			{Name: "GF_USERS_ALLOW_SIGN_UP", Value: "false"},
			{Name: "GF_ANALYTICS_REPORTING_ENABLED", Value: "false"},
			{Name: "GF_ANALYTICS_CHECK_FOR_UPDATES", Value: "false"},
			{Name: "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", Value: "false"},
			{Name: "GF_LOG_MODE", Value: "console"},
			{Name: "GF_PATHS_DATA", Value: "/var/lib/grafana"},
			{Name: "GF_PATHS_PROVISIONING", Value: "/etc/grafana/provisioning"},
		},
		Mounts: []plan.Mount{
			{Source: provisioning, Target: "/etc/grafana/provisioning", ReadOnly: true},
			{Source: dashboards, Target: grafanaDashboardsDir, ReadOnly: true},
			{Source: data, Target: "/var/lib/grafana"},
			b.secretFileMount(string(admin)),
		},
		Tmpfs:    []string{"/tmp"},
		Networks: []string{b.cfg.Host.Networks.Proxy, b.cfg.Host.Networks.Homeserver},
		Wants:    []string{prometheusUnit},
		Listens:  []plan.Listen{{Name: "http", Port: grafanaPort, HostPort: g.HostPort}},
	})
	b.health(grafanaUnit, 120, "docker", "exec", grafanaUnit, "wget", "-q", "-O", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/api/health", grafanaPort))
	b.route(grafanaRoute(b.cfg))
}

// grafanaDashboardsDir is where Grafana's container reads the dashboards.
const grafanaDashboardsDir = "/etc/grafana/dashboards"

// grafanaRoute serves Grafana at the root of its own hostname, or under
// its path on the homeserver's with the prefix stripped, as Ketesa is.
func grafanaRoute(c *config.Config) plan.Route {
	g := c.Monitoring.Grafana
	r := plan.Route{Name: "grafana", Entrypoint: plan.EntrypointClient, Service: grafanaUnit, Port: grafanaPort}
	if g.OwnHostname() {
		r.Host, r.PathPrefix = g.Hostname, "/"
		return r
	}
	r.Host, r.PathPrefix, r.StripPrefix = c.Hostnames.Homeserver, g.Path+"/", true
	return r
}

func grafanaDatasources() obj {
	return obj{
		"apiVersion": 1,
		"datasources": []any{obj{
			"name":      "Prometheus",
			"uid":       grafanaDatasource,
			"type":      "prometheus",
			"access":    "proxy",
			"url":       fmt.Sprintf("http://%s:%d", prometheusUnit, prometheusPort),
			"isDefault": true,
			"editable":  false,
		}},
	}
}

func grafanaDashboardProvider() obj {
	return obj{
		"apiVersion": 1,
		"providers": []any{obj{
			"name":                  "matrixgen",
			"type":                  "file",
			"disableDeletion":       true,
			"allowUiUpdates":        false,
			"updateIntervalSeconds": 60,
			"options":               obj{"path": grafanaDashboardsDir},
		}},
	}
}
