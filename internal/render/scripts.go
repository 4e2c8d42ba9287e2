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
// requires or wants, and the proxy a stage after the units before it that
// its routes lead to, so that its first requests find them up: PostgreSQL
// and Valkey, then Synapse's main process, then its workers, the proxy and
// whatever else needs the main process. Stages never go down along the
// start order, so that the steps install.sh and matrixgen diff print in
// that order are also the order they happen in.
func unitStages(p *plan.Plan) map[string]int {
	after := map[string][]string{}
	for _, s := range p.Services {
		after[s.Unit] = append(slices.Clone(s.Requires), s.Wants...)
	}
	if u := p.Proxy.Unit; u != "" {
		for _, r := range p.Routes {
			for _, b := range r.Servers() {
				after[u] = append(after[u], b.Service)
			}
		}
	}
	stage := map[string]int{}
	last := 0
	for _, s := range p.Services {
		n := last
		for _, d := range after[s.Unit] {
			if before, ok := stage[d]; ok {
				n = max(n, before+1)
			}
		}
		stage[s.Unit], last = n, n
	}
	return stage
}
