package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/apply"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// These tests hold install.sh to starting units stage by stage: the units
// of a stage with one systemctl call, all of them healthy before the next
// stage, and a stage that does not get healthy named unit by unit with
// the end of each one's journal.

// unitsRows reads the bundle's UNITS table, a row of five columns a unit
// (name, image, requires, pool, stage), in start order.
func (b builtBundle) unitsRows(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(b.out, "UNITS"))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Fatalf("UNITS row %q: want 5 columns", line)
		}
		rows = append(rows, f)
	}
	return rows
}

// unitStage is each unit's stage, from UNITS.
func (b builtBundle) unitStage(t *testing.T) map[string]string {
	t.Helper()
	stage := map[string]string{}
	for _, row := range b.unitsRows(t) {
		stage[row[0]] = row[4]
	}
	return stage
}

// startOrder is the bundle's units as UNITS lists them, in start order.
func (b builtBundle) startOrder(t *testing.T) []string {
	t.Helper()
	var units []string
	for _, row := range b.unitsRows(t) {
		units = append(units, row[0])
	}
	return units
}

// workerUnits are the units of Synapse's workers.
func (b builtBundle) workerUnits() []string {
	var out []string
	for _, s := range b.res.Plan.Services {
		if strings.HasPrefix(s.Unit, "matrix-synapse-worker-") {
			out = append(out, s.Unit)
		}
	}
	return out
}

// checkedUnits are those of units that have a health check.
func (b builtBundle) checkedUnits(units []string) []string {
	return slices.DeleteFunc(slices.Clone(units), func(u string) bool {
		return !slices.ContainsFunc(b.res.Plan.Health, func(h plan.HealthCheck) bool { return h.Unit == u })
	})
}

func TestStagesOfWorkers(t *testing.T) {
	b := writeBundle(t, "workers", buildExample(t, "workers"))
	stage := b.unitStage(t)
	want := map[string]string{"matrix-postgres": "0", "matrix-valkey": "0", "matrix-synapse": "1", "matrix-traefik": "0"}
	for _, u := range b.workerUnits() {
		want[u] = "2"
	}
	for u, s := range want {
		if stage[u] != s {
			t.Errorf("%s is in stage %q, want %s", u, stage[u], s)
		}
	}
}

// TestInstallStartsStageTogether: a fresh install starts every worker
// with one systemctl call, once the main process is healthy, and only then
// asks the workers whether they are healthy.
func TestInstallStartsStageTogether(t *testing.T) {
	b := writeBundle(t, "workers", buildExample(t, "workers"))
	h := newTestHost(t)
	b.provide(t, h)
	r := h.install(t, b.out)
	r.mustSucceed(t)
	all := strings.Join(r.commands, "\n")
	workers := b.workerUnits()
	start := r.started(workers[0])
	if start < 0 {
		t.Fatalf("%s is never started:\n%s", workers[0], all)
	}
	for _, u := range workers {
		if !slices.Contains(strings.Fields(r.commands[start]), u+".service") {
			t.Errorf("%s is not started with the other workers: %s", u, r.commands[start])
		}
	}
	// The proxy needs nothing to start: it starts with the databases,
	// and its start overlaps theirs and Synapse's.
	if first := r.started("matrix-postgres"); first < 0 || !slices.Contains(strings.Fields(r.commands[first]), "matrix-traefik.service") {
		t.Errorf("matrix-traefik is not started with matrix-postgres:\n%s", all)
	}
	if n := strings.Count(all, "systemctl start "); n != 3 {
		t.Errorf("%d systemctl start commands, want 3, one a stage:\n%s", n, all)
	}
	main := slices.Index(r.commands, healthCheck(t, b.res.Plan, "matrix-synapse"))
	if main < 0 || main > start {
		t.Errorf("the workers start before the main process is healthy:\n%s", all)
	}
	for _, u := range b.checkedUnits(workers) {
		if i := slices.Index(r.commands, healthCheck(t, b.res.Plan, u)); i < start {
			t.Errorf("%s's health is not checked after the workers start:\n%s", u, all)
		}
	}
}

// TestInstallNamesUnhealthyUnits: when units of a stage do not get
// healthy, install.sh names each one with the end of its journal and
// fails, once it has waited for them all together.
func TestInstallNamesUnhealthyUnits(t *testing.T) {
	b := writeBundle(t, "workers", buildExample(t, "workers"))
	workers := b.checkedUnits(b.workerUnits())
	sick := []string{workers[1], workers[len(workers)-1]}
	h := newTestHost(t)
	for _, u := range sick {
		for _, f := range []struct{ name, content string }{
			{"unhealthy-" + u, ""},
			{"journal-" + u + ".service", "Dec 07 12:00:00 host " + u + "[1]: synapse.config: cannot reach the main process\n"},
		} {
			if err := os.WriteFile(filepath.Join(h.state, f.name), []byte(f.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.provide(t, h)
	r := h.install(t, b.out, "--timeout", "1")
	r.mustFail(t, sick[0]+" did not become healthy", sick[1]+" did not become healthy",
		sick[0]+"[1]: synapse.config: cannot reach the main process", sick[1]+"[1]: synapse.config: cannot reach the main process")
	for _, u := range sick {
		if want := "journalctl -u " + u + ".service -n 20 --no-pager"; !slices.Contains(r.commands, want) {
			t.Errorf("no %q:\n%s", want, strings.Join(r.commands, "\n"))
		}
	}
	if strings.Count(r.stderr, "did not become healthy") != len(sick) {
		t.Errorf("want only %q named:\n%s", sick, r.stderr)
	}
}

// TestApplyRestartsWorkersTogether: a change to several workers outside
// pools restarts them with one call, and matrixgen diff says so.
func TestApplyRestartsWorkersTogether(t *testing.T) {
	b := writeBundle(t, "workers", buildExample(t, "workers"))
	var writers []string
	for _, u := range b.workerUnits() {
		if strings.Contains(u, "-stream-writer-") {
			writers = append(writers, u)
		}
	}
	h := newTestHost(t)
	b.provide(t, h)
	h.install(t, b.out).mustSucceed(t)
	missing := map[string]bool{}
	for _, u := range writers {
		config := b.host().DataDir + "/synapse/config/workers/" + strings.TrimPrefix(u, "matrix-synapse-worker-") + ".yaml"
		if err := os.Remove(h.at(config)); err != nil {
			t.Fatal(err)
		}
		missing[config] = true
	}
	want := applyDecide(t, b, b, func(p string) bool { return missing[p] })
	for _, u := range writers {
		if !slices.Contains(want, "restart "+u+" (together: stage 2)") {
			t.Errorf("matrixgen diff does not restart %s with the other stream writers:\n%s", u, strings.Join(want, "\n"))
		}
	}
	r := h.install(t, b.out)
	r.mustSucceed(t)
	if got := r.printedSteps(); !slices.Equal(got, want) {
		t.Errorf("install.sh prints\n%s\nmatrixgen diff decides\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var restarts []string
	for _, c := range r.commands {
		if strings.HasPrefix(c, "systemctl restart ") {
			restarts = append(restarts, c)
		}
	}
	if len(restarts) != 1 {
		t.Fatalf("want one systemctl restart, ran:\n%s", strings.Join(restarts, "\n"))
	}
	if got := r.ran("systemctl restart"); !slices.Equal(got, writers) {
		t.Errorf("restarted %q, want the stream writers %q", got, writers)
	}
}

// applyDecide is what matrixgen diff says applying next over installed
// does on a host where the files missing reports are gone.
func applyDecide(t *testing.T, installed, next builtBundle, missing func(string) bool) []string {
	t.Helper()
	var steps []string
	for _, s := range apply.Decide(bundleTables(t, installed), bundleTables(t, next), missing) {
		steps = append(steps, s.String())
	}
	return steps
}
