package pipeline

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/apply"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// These tests apply one bundle over another on a host where the first is
// installed, and hold install.sh to the decision internal/apply makes for
// matrixgen diff: the same steps, and the commands that carry them out.

// buildVariant builds examples/<name>.yaml with extra YAML appended: the
// example leaves the keys it sets unset, so appending changes one thing.
func buildVariant(t testing.TB, name, extra string) builtBundle {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, problems := Run("examples/"+name+".yaml", append(data, extra...))
	if len(problems) > 0 {
		t.Fatalf("%s with %q: %v", name, extra, problems)
	}
	return writeBundle(t, name, res)
}

// decided is what matrixgen diff says applying next over installed does.
func decided(t *testing.T, installed, next builtBundle) []string {
	t.Helper()
	var steps []string
	for _, s := range apply.Decide(bundleTables(t, installed), bundleTables(t, next), nil) {
		steps = append(steps, s.String())
	}
	return steps
}

func bundleTables(t *testing.T, b builtBundle) apply.Bundle {
	t.Helper()
	tables, err := apply.FromTree(b.res.Tree)
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// printedSteps are the steps install.sh printed under "changes:".
// dryRunAsDecided runs install.sh --dry-run of out on h, which must print
// the steps matrixgen diff decided and change nothing, and returns the run.
func dryRunAsDecided(t *testing.T, h *testHost, out string, want []string) installRun {
	t.Helper()
	before := snapshot(t, h.root)
	dry := h.install(t, out, "--dry-run")
	dry.mustSucceed(t)
	if got := dry.printedSteps(); !slices.Equal(got, want) {
		t.Errorf("install.sh --dry-run prints\n%s\nmatrixgen diff decides\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if after := snapshot(t, h.root); !maps.Equal(after, before) {
		t.Errorf("--dry-run changed the host")
	}
	return dry
}

func (r installRun) printedSteps() []string {
	var steps []string
	in := false
	for _, line := range strings.Split(r.stdout, "\n") {
		switch {
		case line == "changes:":
			in = true
		case in && strings.HasPrefix(line, "  "):
			steps = append(steps, strings.TrimPrefix(line, "  "))
		default:
			in = false
		}
	}
	return steps
}

// ran lists the arguments other than options of every command that starts
// with prefix: the units, images or paths one kind of command acted on.
func (r installRun) ran(prefix string) []string {
	var out []string
	for _, c := range r.commands {
		if rest, ok := strings.CutPrefix(c, prefix+" "); ok {
			for _, arg := range strings.Fields(rest) {
				if !strings.HasPrefix(arg, "-") {
					out = append(out, strings.TrimSuffix(arg, ".service"))
				}
			}
		}
	}
	return out
}

// subjects are the subjects of the steps of one action; restarts made by
// systemd with a required unit are left out, since install.sh runs no
// command for them (see commandRestarts for where a pool changes that).
func subjects(steps []string, action string) []string {
	var out []string
	for _, s := range steps {
		f := strings.Fields(s)
		if f[0] == action && (len(f) == 2 || f[2] != "with") {
			out = append(out, f[1])
		}
	}
	return out
}

// commandRestarts are the units install.sh names in systemctl restart
// commands for the steps: those of subjects, and, where a unit of a pool
// requires a unit restarted on its own, the units that follow it, which
// then restart in its command instead of by systemd.
func commandRestarts(p *plan.Plan, steps []string) []string {
	pooled := map[string]bool{}
	for _, s := range p.Services {
		if s.RestartGroup != "" {
			for _, r := range s.Requires {
				pooled[r] = true
			}
		}
	}
	var out []string
	for _, root := range subjects(steps, "restart") {
		batch := []string{root}
		for _, s := range steps {
			if f := strings.Fields(s); len(f) == 4 && f[2] == "with" && slices.Contains(batch, f[3]) {
				batch = append(batch, f[1])
			}
		}
		if !slices.ContainsFunc(batch, func(u string) bool { return pooled[u] }) {
			batch = batch[:1]
		}
		out = append(out, batch...)
	}
	return inRounds(p, out)
}

// inRounds reorders the pools' servers among units as install.sh restarts
// them: the first server of every pool, then the second of every pool, and
// so on (roll in install.sh).
func inRounds(p *plan.Plan, units []string) []string {
	group := map[string]string{}
	for _, s := range p.Services {
		group[s.Unit] = s.RestartGroup
	}
	var at []int
	var pooled []string
	for i, u := range units {
		if group[u] != "" {
			at, pooled = append(at, i), append(pooled, u)
		}
	}
	nth := map[string]int{}
	round := map[string]int{}
	for _, u := range pooled {
		round[u] = nth[group[u]]
		nth[group[u]]++
	}
	slices.SortStableFunc(pooled, func(a, b string) int { return round[a] - round[b] })
	out := slices.Clone(units)
	for i, u := range pooled {
		out[at[i]] = u
	}
	return out
}

// checkCommands asserts that install.sh ran exactly the commands its
// printed steps call for.
func checkCommands(t *testing.T, r installRun, steps []string) {
	t.Helper()
	all := strings.Join(r.commands, "\n")
	for _, c := range []struct{ command, action string }{
		{"systemctl restart", "restart"},
		{"systemctl start", "start"},
		{"systemctl stop", "stop"},
	} {
		if got, want := r.ran(c.command), subjects(steps, c.action); !slices.Equal(got, want) {
			t.Errorf("%s ran for %q, the steps say %q:\n%s", c.command, got, want, all)
		}
	}
	// An image the host has already is not pulled again, and install.sh
	// says so.
	pulls := slices.DeleteFunc(subjects(steps, "pull"), func(image string) bool {
		return strings.Contains(r.stdout, image+" is on the host already")
	})
	if got := r.ran("docker pull --quiet"); !slices.Equal(got, pulls) {
		t.Errorf("docker pull ran for %q, the steps and the images on the host say %q:\n%s", got, pulls, all)
	}
	if got, want := r.index("systemctl daemon-reload") >= 0, slices.Contains(steps, "daemon-reload"); got != want {
		t.Errorf("daemon-reload run: %v, in the steps: %v:\n%s", got, want, all)
	}
}

// applyCase is one change of config, applied over the example.
type applyCase struct {
	name, extra string
	// The steps, with paths relative to the data directory.
	want []string
}

var applyCases = []applyCase{
	{
		name:  "upload size",
		extra: "synapse:\n  max_upload_size_mb: 77\n",
		// Traefik applies the limit too, in its dynamic configuration,
		// which it reloads without a restart: clients keep their
		// connections.
		want: []string{
			"install DATA/synapse/config/homeserver.yaml",
			"install DATA/traefik/config/dynamic/matrixgen.yml",
			"restart matrix-synapse",
		},
	},
	{
		name:  "upload size over 1 GiB",
		extra: "synapse:\n  max_upload_size_mb: 2048\n",
		// An upload that large needs a longer deadline, which Traefik
		// reads only when it starts.
		want: []string{
			"install DATA/synapse/config/homeserver.yaml",
			"install DATA/traefik/config/dynamic/matrixgen.yml",
			"install DATA/traefik/config/traefik.yml",
			// The proxy needs nothing and restarts in the first stage.
			"restart matrix-traefik",
			"restart matrix-synapse",
		},
	},
	{
		name:  "coturn enabled",
		extra: "coturn:\n  enabled: true\n  external_ip: 203.0.113.7\n",
		want: []string{
			"install /etc/systemd/system/matrix-coturn.service",
			"install /etc/systemd/system/matrix-synapse.service",
			// The new secret is backed up and restored; the SQLite
			// import mounts what Synapse mounts.
			"install DATA/bin/backup.sh",
			"install DATA/bin/import-synapse-sqlite.sh",
			"install DATA/bin/restore.sh",
			// self-check.sh checks every unit.
			"install DATA/bin/self-check.sh",
			"install DATA/coturn/turnserver.conf",
			"install DATA/synapse/config/homeserver.yaml",
			"daemon-reload",
			"pull docker.io/coturn/coturn:4.7.0",
			"start matrix-coturn",
			"restart matrix-synapse",
		},
	},
	{
		name:  "element disabled",
		extra: "element:\n  enabled: false\n",
		want: []string{
			"install DATA/bin/self-check.sh",
			"install DATA/traefik/config/dynamic/matrixgen.yml",
			"remove /etc/systemd/system/matrix-client-element.service",
			"remove DATA/client-element/config.json",
			"remove DATA/matrixgen/env/matrix-client-element.env",
			"daemon-reload",
			"stop matrix-client-element",
		},
	},
	{
		name:  "element image",
		extra: "element:\n  image: docker.io/vectorim/element-web:v1.99.0\n",
		want: []string{
			"install /etc/systemd/system/matrix-client-element.service",
			"daemon-reload",
			"pull docker.io/vectorim/element-web:v1.99.0",
			"restart matrix-client-element",
		},
	},
	{
		name:  "postgres setting",
		extra: "postgres:\n  bundled:\n    max_connections: 150\n",
		want: []string{
			"install /etc/systemd/system/matrix-postgres.service",
			"daemon-reload",
			"restart matrix-postgres",
			"restart matrix-synapse with matrix-postgres",
		},
	},
	{
		name: "monitoring on",
		// Synapse and Traefik restart to serve their metrics; the scripts
		// change with the list of secrets (Grafana's admin password) and
		// the units that use the databases (postgres_exporter).
		extra: "monitoring:\n  enabled: true\n",
		want: []string{
			"install /etc/systemd/system/matrix-grafana.service",
			"install /etc/systemd/system/matrix-prometheus-node-exporter.service",
			"install /etc/systemd/system/matrix-prometheus-postgres-exporter.service",
			"install /etc/systemd/system/matrix-prometheus.service",
			"install DATA/bin/backup.sh",
			"install DATA/bin/import-postgres.sh",
			"install DATA/bin/import-synapse-sqlite.sh",
			"install DATA/bin/postgres-upgrade.sh",
			"install DATA/bin/restore.sh",
			"install DATA/bin/self-check.sh",
			"install DATA/bin/vacuum.sh",
			"install DATA/grafana/dashboards/host.json",
			"install DATA/grafana/dashboards/postgres.json",
			"install DATA/grafana/dashboards/synapse.json",
			"install DATA/grafana/provisioning/dashboards/matrixgen.yml",
			"install DATA/grafana/provisioning/datasources/prometheus.yml",
			"install DATA/matrixgen/env/matrix-grafana.env",
			"install DATA/matrixgen/env/matrix-prometheus-postgres-exporter.env",
			"install DATA/prometheus/config/prometheus.yml",
			"install DATA/prometheus/config/rules/alerts.yml",
			"install DATA/prometheus/config/rules/recording.yml",
			"install DATA/synapse/config/homeserver.yaml",
			"install DATA/traefik/config/dynamic/matrixgen.yml",
			"install DATA/traefik/config/traefik.yml",
			"daemon-reload",
			"pull quay.io/prometheus/node-exporter:v1.9.1",
			"pull docker.io/prom/prometheus:v2.53.3",
			"pull quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
			"pull docker.io/grafana/grafana-oss:11.6.0",
			"restart matrix-traefik",
			"start matrix-prometheus-node-exporter",
			"start matrix-prometheus",
			"restart matrix-synapse",
			"start matrix-prometheus-postgres-exporter",
			"start matrix-grafana",
		},
	},
	{
		name: "backup on",
		// Nothing restarts: install.sh enables and starts the new timer
		// after the steps; a later change of schedule is the timer's file
		// and daemon-reload, which gives the timer its new schedule.
		extra: "backup:\n  enabled: true\n",
		want: []string{
			"install /etc/systemd/system/matrix-backup.service",
			"install /etc/systemd/system/matrix-backup.timer",
			"install DATA/bin/scheduled-backup.sh",
			"install DATA/bin/self-check.sh",
			"daemon-reload",
		},
	},
	{
		name: "state compressor on",
		// Nothing restarts either: its job reads Synapse's database
		// password from a file of its own, and install.sh enables its
		// timer after the steps; self-check.sh checks the timer.
		extra: "maintenance:\n  state_compressor:\n    enabled: true\n",
		want: []string{
			"install /etc/systemd/system/matrix-synapse-auto-compressor.service",
			"install /etc/systemd/system/matrix-synapse-auto-compressor.timer",
			"install DATA/bin/compress-state.sh",
			"install DATA/bin/self-check.sh",
			"install DATA/synapse-auto-compressor/env",
			"daemon-reload",
		},
	},
}

func (c applyCase) steps(dataDir string) []string {
	var out []string
	for _, s := range c.want {
		out = append(out, strings.Replace(s, "DATA/", dataDir+"/", 1))
	}
	return out
}

func TestApplyChanges(t *testing.T) {
	const example = "quickstart"
	old := writeBundle(t, example, buildExample(t, example))
	for _, c := range applyCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			next := buildVariant(t, example, c.extra)
			want := c.steps(old.host().DataDir)
			if got := decided(t, old, next); !slices.Equal(got, want) {
				t.Fatalf("matrixgen diff decides\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			h := newTestHost(t)
			old.provide(t, h)
			h.install(t, old.out).mustSucceed(t)
			dryRunAsDecided(t, h, next.out, want)

			r := h.install(t, next.out)
			r.mustSucceed(t)
			if got := r.printedSteps(); !slices.Equal(got, want) {
				t.Errorf("install.sh prints\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			checkCommands(t, r, want)
			next.checkInstalled(t, h, next.readSecrets(t, h))
			for _, s := range want {
				if p, ok := strings.CutPrefix(s, "remove "); ok {
					if _, err := os.Lstat(h.at(p)); err == nil {
						t.Errorf("%s is still on the host", p)
					}
				}
			}
			if r.index("systemctl disable") >= 0 && !slices.Equal(r.ran("systemctl disable"), subjects(want, "stop")) {
				t.Errorf("disabled %q, want the stopped units", r.ran("systemctl disable"))
			}
			for _, d := range old.res.Plan.Dirs {
				if _, err := os.Stat(h.at(d.Path)); err != nil {
					t.Errorf("data directory %s is gone: %v", d.Path, err)
				}
			}

			again := h.install(t, next.out)
			again.mustSucceed(t)
			checkNoOp(t, again)
		})
	}
}

// checkNoOp asserts that a run changed nothing that costs time or service.
func checkNoOp(t *testing.T, r installRun) {
	t.Helper()
	if steps := r.printedSteps(); len(steps) > 0 || !strings.Contains(r.stdout, "no changes") {
		t.Errorf("a repeated run plans %q", steps)
	}
	for _, c := range []string{"systemctl start", "systemctl restart", "systemctl stop", "systemctl enable", "systemctl daemon-reload", "docker pull", "docker exec -i"} {
		if i := r.index(c); i >= 0 {
			t.Errorf("a repeated run ran %q:\n%s", r.commands[i], strings.Join(r.commands, "\n"))
		}
	}
}

func TestApplyNoOp(t *testing.T) {
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		b.provide(t, h)
		h.install(t, b.out).mustSucceed(t)
		checkNoOp(t, h.install(t, b.out))
		if steps := decided(t, b, b); len(steps) > 0 {
			t.Errorf("matrixgen diff of a bundle with itself: %q", steps)
		}
	})
}

func TestApplyOnlyAndNoStart(t *testing.T) {
	const example = "quickstart"
	old := writeBundle(t, example, buildExample(t, example))
	next := buildVariant(t, example, "postgres:\n  bundled:\n    max_connections: 150\n")
	for _, c := range []struct {
		name string
		args []string
		// restarted is what the first run restarts; kept what it leaves for the next.
		restarted []string
		kept      string
	}{
		{"only synapse", []string{"--only", "matrix-synapse.service"}, []string{"matrix-synapse"}, "matrix-postgres"},
		{"only postgres", []string{"--only", "matrix-postgres"}, []string{"matrix-postgres"}, ""},
		{"no start", []string{"--no-start"}, nil, "matrix-postgres"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newTestHost(t)
			old.provide(t, h)
			h.install(t, old.out).mustSucceed(t)
			r := h.install(t, next.out, c.args...)
			r.mustSucceed(t)
			if got := r.ran("systemctl restart"); !slices.Equal(got, c.restarted) {
				t.Errorf("restarted %q, want %q:\n%s", got, c.restarted, strings.Join(r.commands, "\n"))
			}
			if i := r.index("systemctl start"); i >= 0 {
				t.Errorf("ran %q", r.commands[i])
			}
			// The next plain run makes the restart left out, although no
			// file differs any more, and then nothing is left.
			later := h.install(t, next.out)
			later.mustSucceed(t)
			var want []string
			if c.kept != "" {
				want = []string{c.kept}
			}
			if got := later.ran("systemctl restart"); !slices.Equal(got, want) {
				t.Errorf("the next run restarted %q, want %q:\n%s", got, want, later)
			}
			checkNoOp(t, h.install(t, next.out))
		})
	}
	h := newTestHost(t)
	old.provide(t, h)
	h.install(t, old.out, "--only", "matrix-nothing").mustFail(t, "matrix-nothing", "no such unit")
}

func TestApplyRepairsHost(t *testing.T) {
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		b.provide(t, h)
		h.install(t, b.out).mustSucceed(t)
		// A deleted config file comes back and its unit restarts; a
		// stopped unit starts again.
		server := b.res.Plan.Homeserver.Unit
		config := homeserverConfigFile(t, b.res.Plan)
		if err := os.Remove(h.at(config)); err != nil {
			t.Fatal(err)
		}
		stopped := "matrix-static-files"
		if err := os.Remove(filepath.Join(h.state, "active-"+stopped+".service")); err != nil {
			t.Fatal(err)
		}
		r := h.install(t, b.out)
		r.mustSucceed(t)
		var want []string
		for _, s := range apply.Decide(bundleTables(t, b), bundleTables(t, b), func(p string) bool { return p == config }) {
			want = append(want, s.String())
		}
		if got := r.printedSteps(); !slices.Equal(got, want) || !slices.Equal(want[:2], []string{"install " + config, "restart " + server}) {
			t.Errorf("steps\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if got := r.ran("systemctl restart"); !slices.Equal(got, commandRestarts(b.res.Plan, want)) {
			t.Errorf("restarted %q, want %q", got, commandRestarts(b.res.Plan, want))
		}
		if got := r.ran("systemctl start"); !slices.Equal(got, []string{stopped}) {
			t.Errorf("started %q, want the stopped %s", got, stopped)
		}
		b.checkInstalled(t, h, b.readSecrets(t, h))
	})
}

// homeserverConfigFile is the file the homeserver's main process is
// restarted for: homeserver.yaml, dendrite.yaml, continuwuity.toml.
func homeserverConfigFile(t *testing.T, p *plan.Plan) string {
	t.Helper()
	for _, f := range p.Files {
		if filepath.Base(f.Path) == filepath.Base(p.Homeserver.ConfigFile) && slices.Contains(f.Restarts, p.Homeserver.Unit) {
			return f.Path
		}
	}
	t.Fatalf("no %s restarts %s", p.Homeserver.ConfigFile, p.Homeserver.Unit)
	return ""
}

func TestApplyHealthFailure(t *testing.T) {
	const example = "quickstart"
	old := writeBundle(t, example, buildExample(t, example))
	next := buildVariant(t, example, "synapse:\n  max_upload_size_mb: 77\n")
	h := newTestHost(t)
	old.provide(t, h)
	h.install(t, old.out).mustSucceed(t)
	if err := os.WriteFile(filepath.Join(h.state, "unhealthy-matrix-synapse"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.install(t, next.out, "--timeout", "0").mustFail(t, "matrix-synapse did not become healthy", "journalctl -u matrix-synapse.service")
	// The failed bundle is not recorded as applied: the next run tries
	// the same restart again.
	if err := os.Remove(filepath.Join(h.state, "unhealthy-matrix-synapse")); err != nil {
		t.Fatal(err)
	}
	r := h.install(t, next.out)
	r.mustSucceed(t)
	// Traefik takes the new upload limit from its dynamic configuration.
	if got := r.ran("systemctl restart"); !slices.Equal(got, []string{"matrix-synapse"}) {
		t.Errorf("the retry restarted %q, want matrix-synapse", got)
	}
}

func TestRollback(t *testing.T) {
	const example = "quickstart"
	old := writeBundle(t, example, buildExample(t, example))
	next := buildVariant(t, example, "element:\n  enabled: false\n")
	h := newTestHost(t)
	old.provide(t, h)
	h.runScript(t, filepath.Join(old.out, "rollback.sh")).mustFail(t, "no previous bundle")
	h.install(t, old.out).mustSucceed(t)
	h.install(t, next.out).mustSucceed(t)
	r := h.runScript(t, filepath.Join(next.out, "rollback.sh"))
	r.mustSucceed(t)
	want := decided(t, next, old)
	if got := r.printedSteps(); !slices.Equal(got, want) {
		t.Errorf("rollback.sh does\n%s\nwant what matrixgen diff says of going back\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	checkCommands(t, r, want)
	old.checkInstalled(t, h, old.readSecrets(t, h))
	// Rolling back again goes forward: the host keeps one step of history.
	r = h.runScript(t, filepath.Join(next.out, "rollback.sh"))
	r.mustSucceed(t)
	if got, want := r.printedSteps(), decided(t, old, next); !slices.Equal(got, want) {
		t.Errorf("a second rollback does %q, want %q", got, want)
	}
}

func TestUpgradeSamePostgres(t *testing.T) {
	const example = "quickstart"
	old := writeBundle(t, example, buildExample(t, example))
	next := buildVariant(t, example, "element:\n  image: docker.io/vectorim/element-web:v1.99.0\n")
	h := newTestHost(t)
	old.provide(t, h)
	h.install(t, old.out).mustSucceed(t)
	// What the server writes on its first start.
	major := ""
	for _, s := range next.res.Plan.Services {
		if s.Unit == "matrix-postgres" {
			_, tag, _ := strings.Cut(s.Image, ":")
			major, _, _ = strings.Cut(tag, "-")
		}
	}
	writeSecret(t, h.at(next.host().DataDir+"/postgres/data/PG_VERSION"), major+"\n")
	r := h.runScript(t, filepath.Join(next.out, "upgrade.sh"))
	r.mustSucceed(t)
	pull, restart := r.index("docker pull"), r.index("systemctl restart")
	if pull < 0 || restart < 0 || pull > restart {
		t.Errorf("want the image pulled before the restart:\n%s", strings.Join(r.commands, "\n"))
	}
	checkCommands(t, r, decided(t, old, next))
}
