package render

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// readyCommand is what install.sh runs to know unit is ready, for the
// scripts that start or find it to wait the same way: one definition of
// ready, decided by the component.
func readyCommand(p *plan.Plan, unit string) []string {
	for _, h := range p.Health {
		if h.Unit == unit {
			return h.Command
		}
	}
	return nil
}

// binDir is where maintenance scripts are installed on the host.
func binDir(h plan.Host) string { return path.Join(h.DataDir, "bin") }

type upgradeData struct {
	PostgresMajor, PostgresData, PostgresUpgrade string
}

type rollbackData struct{ DataDir string }

// bundleScripts adds the scripts the operator runs from the bundle.
func bundleScripts(p *plan.Plan, t Tree) error {
	var rollback strings.Builder
	if err := parsed.ExecuteTemplate(&rollback, "rollback.sh.tmpl", rollbackData{p.Host.DataDir}); err != nil {
		return err
	}
	if err := t.addBundleFile("rollback.sh", 0o755, []byte(rollback.String())); err != nil {
		return err
	}
	d := upgradeData{}
	if pg := p.Postgres; pg != nil {
		d = upgradeData{PostgresMajor: strconv.Itoa(pg.Major), PostgresData: pg.DataDir, PostgresUpgrade: path.Join(binDir(p.Host), "postgres-upgrade.sh")}
	}
	var upgrade strings.Builder
	if err := parsed.ExecuteTemplate(&upgrade, "upgrade.sh.tmpl", d); err != nil {
		return err
	}
	return t.addBundleFile("upgrade.sh", 0o755, []byte(upgrade.String()))
}

type postgresUpgradeData struct {
	DataDir, Unit, Major, Data, Superuser, User, Group, Dependants, Script string
	Ready                                                                  []string // exits 0 once the server takes connections
}

// hostScripts adds the maintenance scripts install.sh puts in DATA_DIR/bin.
// They run as root from there, so they are root's and no one else may
// write them.
func hostScripts(p *plan.Plan, t Tree) error {
	if err := renderMaintenance(p, t); err != nil {
		return err
	}
	pg := p.Postgres
	if pg == nil {
		return nil
	}
	script := path.Join(binDir(p.Host), "postgres-upgrade.sh")
	d := postgresUpgradeData{
		DataDir: p.Host.DataDir, Unit: pg.Unit, Major: strconv.Itoa(pg.Major), Data: pg.DataDir,
		User: p.Host.User, Group: p.Host.Group, Dependants: strings.Join(dependants(p, pg.Unit), " "), Script: script,
		Ready: readyCommand(p, pg.Unit),
	}
	for _, db := range p.Databases {
		if db.Server == pg.Unit {
			d.Superuser = db.Superuser
		}
	}
	var b strings.Builder
	if err := parsed.ExecuteTemplate(&b, "postgres-upgrade.sh.tmpl", d); err != nil {
		return err
	}
	return t.add(hostPath(script), 0o750, []byte(b.String()))
}

// dependants are the units that need server: those that require it and
// those whose databases it holds, in start order.
func dependants(p *plan.Plan, server string) []string {
	uses := map[string]bool{}
	for _, db := range p.Databases {
		if db.Server == server {
			uses[db.Owner] = true
		}
	}
	var out []string
	for _, s := range p.Services {
		if uses[s.Unit] || slices.Contains(s.Requires, server) {
			out = append(out, s.Unit)
		}
	}
	return out
}

// unitStages numbers the stages install.sh starts units in: it starts or
// restarts the units of one stage together and waits until all of them
// are healthy before the next. A unit comes a stage after the units it
// requires or wants, and as early as that allows: PostgreSQL and Valkey
// with everything that needs nothing (the proxy, static files, Element),
// then Synapse's main process, then its workers and whatever else needs
// the main process. The proxy does not wait for the services its routes
// lead to: it answers 502 for them until they are up, which on a fresh
// install nobody sees, and its start (seconds on a small host) overlaps
// theirs.
func unitStages(p *plan.Plan) map[string]int {
	stage := map[string]int{}
	var stageOf func(unit string, seen map[string]bool) int
	needs := map[string][]string{}
	for _, s := range p.Services {
		needs[s.Unit] = append(slices.Clone(s.Requires), s.Wants...)
	}
	stageOf = func(unit string, seen map[string]bool) int {
		if n, ok := stage[unit]; ok {
			return n
		}
		// A cycle is a plan's defect; systemd would refuse it first.
		seen[unit] = true
		n := 0
		for _, d := range needs[unit] {
			if _, known := needs[d]; known && !seen[d] {
				n = max(n, stageOf(d, seen)+1)
			}
		}
		stage[unit] = n
		return n
	}
	for _, s := range p.Services {
		stageOf(s.Unit, map[string]bool{})
	}
	return stage
}

// startOrder is the plan's services by stage, in the plan's order within
// one: the order install.sh and matrixgen diff print their steps in is
// then the order they happen in.
func startOrder(p *plan.Plan) ([]plan.Service, map[string]int) {
	stages := unitStages(p)
	services := slices.Clone(p.Services)
	slices.SortStableFunc(services, func(a, b plan.Service) int { return stages[a.Unit] - stages[b.Unit] })
	return services, stages
}
