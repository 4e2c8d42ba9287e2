package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// These tests hold install.sh to restarting the servers of a pool one at a
// time, each healthy before the next, so that a change never leaves the
// pool's routes without a server.

// restartGroups are the units of each restart group, in start order.
func restartGroups(p *plan.Plan) map[string][]string {
	groups := map[string][]string{}
	for _, s := range p.Services {
		if s.RestartGroup != "" {
			groups[s.RestartGroup] = append(groups[s.RestartGroup], s.Unit)
		}
	}
	return groups
}

// healthCheck is the command install.sh runs to know unit is healthy.
func healthCheck(t *testing.T, p *plan.Plan, unit string) string {
	t.Helper()
	for _, h := range p.Health {
		if h.Unit == unit {
			return strings.Join(h.Command, " ")
		}
	}
	t.Fatalf("%s has no health check", unit)
	return ""
}

// restartedAlone is the position of the command that restarts unit and
// nothing else, or -1.
func (r installRun) restartedAlone(unit string) int {
	return slices.Index(r.commands, "systemctl restart "+unit+".service")
}

// checkRolled asserts that the units were restarted one at a time, in
// order, each by a command of its own followed by its health check before
// the next one's restart, and after the command at position after.
func checkRolled(t *testing.T, p *plan.Plan, r installRun, after int, units []string) {
	t.Helper()
	last := after
	for _, u := range units {
		restart := r.restartedAlone(u)
		if restart <= last {
			t.Fatalf("%s restarted at command %d, want on its own after command %d:\n%s", u, restart, last, strings.Join(r.commands, "\n"))
		}
		if u != units[0] {
			// The proxy must have the one before back in the pool first.
			pause := fmt.Sprintf("sleep %d", p.Proxy.PoolRejoinSeconds)
			if !slices.Contains(r.commands[last:restart], pause) {
				t.Fatalf("no %q between the last server's health check and %s's restart:\n%s", pause, u, strings.Join(r.commands, "\n"))
			}
		}
		health := slices.Index(r.commands[restart:], healthCheck(t, p, u))
		if health < 0 {
			t.Fatalf("no health check of %s after its restart:\n%s", u, strings.Join(r.commands, "\n"))
		}
		last = restart + health
	}
}

// rollingHost is a test host whose sleep calls are logged, so that the
// pauses between a pool's restarts show among its commands.
func rollingHost(t *testing.T) *testHost {
	h := newTestHost(t)
	h.shim(t, "sleep", "exec "+shQuote(mustLook(t, "sleep"))+` "$@"`)
	return h
}

func TestApplyRollsPoolOnWorkerChange(t *testing.T) {
	const example = "workers"
	b := writeBundle(t, example, buildExample(t, example))
	p := b.res.Plan
	// Only workers that balancing routes share form a pool: not the four
	// federation senders, which serve no requests, nor any single worker.
	groups := restartGroups(p)
	pool := groups["generic-worker"]
	if len(groups) != 1 || len(pool) != 4 {
		t.Fatalf("restart groups %q, want the 4 generic workers'", groups)
	}
	h := rollingHost(t)
	b.provide(t, h)
	h.install(t, b.out).mustSucceed(t)
	// Only the generic workers read their own config files: with those
	// gone from the host, the change touches the pool and nothing else.
	var want []string
	for _, u := range pool {
		name := strings.TrimPrefix(u, "matrix-synapse-worker-")
		config := b.host().DataDir + "/synapse/config/workers/" + name + ".yaml"
		if err := os.Remove(h.at(config)); err != nil {
			t.Fatal(err)
		}
		want = append(want, "install "+config)
	}
	for _, u := range pool {
		want = append(want, "restart "+u+" (one at a time: generic-worker pool)")
	}
	r := h.install(t, b.out)
	r.mustSucceed(t)
	if got := r.printedSteps(); !slices.Equal(got, want) {
		t.Fatalf("install.sh prints\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := r.ran("systemctl restart"); !slices.Equal(got, pool) {
		t.Errorf("restarted %q, want only the pool %q:\n%s", got, pool, strings.Join(r.commands, "\n"))
	}
	checkRolled(t, p, r, -1, pool)
}

func TestApplyRollsPoolAfterMainProcess(t *testing.T) {
	const example = "workers"
	old := writeBundle(t, example, buildExample(t, example))
	next := buildEdited(t, example, "\nsynapse:\n", "\nsynapse:\n  max_upload_size_mb: 77\n")
	p := next.res.Plan
	pool := restartGroups(p)["generic-worker"]
	want := decided(t, old, next)
	for _, u := range pool {
		if !slices.Contains(want, "restart "+u+" (one at a time: generic-worker pool)") {
			t.Errorf("matrixgen diff does not restart %s in its pool's turn:\n%s", u, strings.Join(want, "\n"))
		}
	}

	h := rollingHost(t)
	old.provide(t, h)
	h.install(t, old.out).mustSucceed(t)
	dry := dryRunAsDecided(t, h, next.out, want)
	if !strings.Contains(dry.stdout, "would run: systemctl restart --job-mode=ignore-requirements matrix-synapse.service ") {
		t.Errorf("--dry-run does not show the main process restarting without the pool:\n%s", dry.stdout)
	}

	r := h.install(t, next.out)
	r.mustSucceed(t)
	if got := r.printedSteps(); !slices.Equal(got, want) {
		t.Errorf("install.sh prints\n%s\nmatrixgen diff decides\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := r.ran("systemctl restart"), commandRestarts(p, want); !slices.Equal(got, want) {
		t.Errorf("restarted %q, want %q", got, want)
	}
	// The main process restarts first, with the workers outside the pool
	// (as systemd would restart them with it), and is healthy before the
	// pool's turn.
	main := slices.IndexFunc(r.commands, func(c string) bool {
		return strings.HasPrefix(c, "systemctl restart --job-mode=ignore-requirements matrix-synapse.service ")
	})
	if main < 0 {
		t.Fatalf("matrix-synapse not restarted without its pool:\n%s", strings.Join(r.commands, "\n"))
	}
	for _, u := range pool {
		if strings.Contains(r.commands[main], " "+u+".service") {
			t.Errorf("%s restarts with the main process: %s", u, r.commands[main])
		}
	}
	healthy := slices.Index(r.commands, healthCheck(t, p, "matrix-synapse"))
	if healthy < main {
		t.Fatalf("no health check of the main process after its restart:\n%s", strings.Join(r.commands, "\n"))
	}
	checkRolled(t, p, r, healthy, pool)
	checkNoOp(t, h.install(t, next.out))
}

// A config without a pool restarts as it always did: no unit is in a
// restart group, and a unit others require restarts them with it.
func TestApplyWithoutPoolUnchanged(t *testing.T) {
	const example = "quickstart"
	old := writeBundle(t, example, buildExample(t, example))
	if groups := restartGroups(old.res.Plan); len(groups) > 0 {
		t.Errorf("%s has restart groups %q", example, groups)
	}
	next := buildVariant(t, example, "postgres:\n  bundled:\n    max_connections: 150\n")
	h := rollingHost(t)
	old.provide(t, h)
	h.install(t, old.out).mustSucceed(t)
	r := h.install(t, next.out)
	r.mustSucceed(t)
	if got := r.ran("systemctl restart"); !slices.Equal(got, []string{"matrix-postgres"}) {
		t.Errorf("restarted %q, want matrix-postgres, and matrix-synapse with it by systemd", got)
	}
	if i := r.index("systemctl restart --job-mode=ignore-requirements"); i >= 0 {
		t.Errorf("ran %q without a pool", r.commands[i])
	}
}

// buildEdited builds examples/<name>.yaml with one piece of its text
// replaced, for a change to a key the example sets.
func buildEdited(t testing.TB, name, old, new string) builtBundle {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("examples/%s.yaml has no %q", name, old)
	}
	edited := strings.Replace(string(data), old, new, 1)
	res, problems := Run("examples/"+name+".yaml", []byte(edited))
	if len(problems) > 0 {
		t.Fatalf("%s edited: %v", name, problems)
	}
	return writeBundle(t, name, res)
}

// A worker added to a pool starts alone: the proxy takes it in with its
// next configuration, and nothing else restarts. (PostgreSQL's connection
// limit, which grows with the processes, grows in steps, so that one more
// worker does not restart the database and every process with it.)
func TestApplyWorkerAddedStartsAlone(t *testing.T) {
	const example = "workers"
	old := writeBundle(t, example, buildExample(t, example))
	next := buildEdited(t, example, "generic: 4", "generic: 5")
	const added = "matrix-synapse-worker-generic-worker-4"
	var units []string
	for _, step := range decided(t, old, next) {
		if verb, _, _ := strings.Cut(step, " "); verb == "start" || verb == "restart" || verb == "stop" {
			units = append(units, step)
		}
	}
	if want := []string{"start " + added}; !slices.Equal(units, want) {
		t.Errorf("adding a generic worker: matrixgen diff decides\n%s\nwant\n%s", strings.Join(units, "\n"), strings.Join(want, "\n"))
	}
}

// With several pools, each round restarts the next server of every pool
// with one command, so that the pools do not wait for each other, and
// never two servers of one pool at once; each round is healthy, and the
// proxy has had time to see it so, before the next round stops anything.
func TestApplyRollsPoolsInRounds(t *testing.T) {
	const example = "specialized"
	old := writeBundle(t, example, buildExample(t, example))
	next := buildEdited(t, example, "\nsynapse:\n", "\nsynapse:\n  max_upload_size_mb: 77\n")
	p := next.res.Plan
	groups := restartGroups(p)
	if len(groups) < 2 {
		t.Fatalf("restart groups %q, want several pools", groups)
	}
	var rounds [][]string
	for _, s := range p.Services {
		if s.RestartGroup == "" {
			continue
		}
		n := slices.Index(groups[s.RestartGroup], s.Unit)
		if n == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[n] = append(rounds[n], s.Unit+".service")
	}

	h := rollingHost(t)
	old.provide(t, h)
	h.install(t, old.out).mustSucceed(t)
	r := h.install(t, next.out)
	r.mustSucceed(t)
	last := slices.Index(r.commands, healthCheck(t, p, "matrix-synapse"))
	if last < 0 {
		t.Fatalf("no health check of the main process:\n%s", strings.Join(r.commands, "\n"))
	}
	pause := fmt.Sprintf("sleep %d", p.Proxy.PoolRejoinSeconds)
	for i, round := range rounds {
		restart := slices.Index(r.commands, "systemctl restart "+strings.Join(round, " "))
		if restart <= last {
			t.Fatalf("round %d (%s) not restarted with one command after command %d:\n%s", i+1, round, last, strings.Join(r.commands, "\n"))
		}
		if i > 0 && !slices.Contains(r.commands[last:restart], pause) {
			t.Errorf("no %q before round %d", pause, i+1)
		}
		for _, unit := range round {
			health := slices.Index(r.commands[restart:], healthCheck(t, p, strings.TrimSuffix(unit, ".service")))
			if health < 0 {
				t.Fatalf("no health check of %s after round %d:\n%s", unit, i+1, strings.Join(r.commands, "\n"))
			}
			last = max(last, restart+health)
		}
	}
}
