package render

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// defaultBackupDir is where backup.sh writes when not told where: outside
// the data directory, so that copying the data directory to another server
// does not drag every backup along.
const defaultBackupDir = "/var/backups/matrixgen"

// maintenanceData is what the maintenance scripts print. Scalars pass
// through the sh escaper; the rows of heredoc tables are names and paths the
// schema restricts to characters without meaning to sh.
type maintenanceData struct {
	Script                                            string // the script's name, for messages
	Domain, DataDir, SecretsDir, User, Group, Backups string

	// The bundled PostgreSQL server; Unit is empty when the databases are
	// elsewhere.
	Postgres struct {
		Unit, Major, Data, Superuser string
		Ready                        []string // exits 0 once the server takes connections
	}
	// Databases are the bundled server's databases: name and role.
	Databases []databaseRow
	// Dependants are the units stopped while databases or media are
	// replaced, in start order; MediaUnits those stopped while only the
	// media store is.
	Dependants, MediaUnits string

	Synapse struct {
		Unit, Image, Config, MediaStore, Database, Network, ConfigFile string
		// StoreDir is the homeserver's own database directory, copied
		// with Unit stopped; Implementation names the program.
		StoreDir, Implementation string
		// Mounts are the unit's bind mounts as docker run arguments, so
		// that a one-off container of its image reads what Synapse reads.
		Mounts []string
	}
	// Accounts is the homeserver's account tool, for register-user.sh.
	Accounts *plan.AccountTool
	Secrets  []secretFileRow
	Networks []string

	// Auth is the authentication service syn2mas.sh moves Synapse's
	// accounts into; Unit is empty without one.
	Auth struct {
		Unit, Image, Network, ConfigFile, DataDir string
		Mounts                                    []string // the unit's bind mounts as docker run arguments
		HomeserverUnits                           string   // Synapse's processes, separated by spaces
	}
	// Backup is the scheduled backup's settings, for its scripts.
	Backup plan.Backup
}

type databaseRow struct{ Name, Role, Secret string }

type secretFileRow struct{ Name, Path string }

func newMaintenanceData(p *plan.Plan) maintenanceData {
	h := p.Host
	d := maintenanceData{
		Domain: h.Domain, DataDir: h.DataDir, SecretsDir: h.SecretsDir, User: h.User, Group: h.Group,
		Backups: defaultBackupDir, Networks: p.Networks,
	}
	if p.Backup != nil {
		d.Backup, d.Backups = *p.Backup, p.Backup.Directory
	}
	// With an external server, nothing here stops, dumps or upgrades it.
	bundled, pg := p.Postgres != nil, plan.Postgres{}
	if bundled {
		pg = *p.Postgres
		d.Postgres.Unit, d.Postgres.Major, d.Postgres.Data = pg.Unit, strconv.Itoa(pg.Major), pg.DataDir
		d.Postgres.Ready = readyCommand(p, pg.Unit)
		for _, db := range p.Databases {
			if db.Server == pg.Unit {
				d.Postgres.Superuser = db.Superuser
				d.Databases = append(d.Databases, databaseRow{db.Name, db.Role, db.PasswordSecret})
			}
		}
	}
	hs := p.Homeserver
	d.Synapse.Unit, d.Synapse.Config, d.Synapse.MediaStore = hs.Unit, hs.ConfigFile, hs.MediaStore
	d.Synapse.StoreDir, d.Synapse.Implementation = hs.StoreDir, hs.Implementation
	d.Accounts = hs.Accounts
	if bundled {
		d.Synapse.Database = hs.Database
	}
	for _, s := range p.Services {
		if s.Unit != hs.Unit {
			continue
		}
		d.Synapse.Image = s.Image
		if len(s.Networks) > 0 {
			d.Synapse.Network = s.Networks[0]
		}
		d.Synapse.Mounts = mountArgs(s.Mounts)
		for _, m := range s.Mounts {
			if m.Target == path.Dir(hs.ConfigFile) {
				d.Synapse.ConfigFile = path.Join(m.Source, path.Base(hs.ConfigFile))
			}
		}
	}
	if a := p.AuthService; a != nil {
		d.Auth.Unit, d.Auth.Image, d.Auth.Network, d.Auth.ConfigFile, d.Auth.DataDir = a.Unit, a.Image, a.Network, a.ConfigFile, a.DataDir
		d.Auth.Mounts = mountArgs(a.Mounts)
		d.Auth.HomeserverUnits = strings.Join(homeserverUnits(p, d.Synapse.ConfigFile), " ")
	}
	d.Dependants = strings.Join(maintenanceStops(p, pg.Unit, bundled), " ")
	d.MediaUnits = strings.Join(maintenanceStops(p, pg.Unit, false), " ")
	for _, s := range p.Secrets {
		d.Secrets = append(d.Secrets, secretFileRow{s.Name, secretPath(h, s)})
	}
	return d
}

// mountArgs are bind mounts as docker run arguments, so that a one-off
// container of a unit's image reads what the unit reads.
func mountArgs(mounts []plan.Mount) []string {
	var out []string
	for _, m := range mounts {
		mount := "type=bind,src=" + m.Source + ",dst=" + m.Target
		if m.ReadOnly {
			mount += ",readonly"
		}
		out = append(out, "--mount="+mount)
	}
	return out
}

// homeserverUnits are Synapse's processes: the units that mount the
// directory of its homeserver.yaml, in start order.
func homeserverUnits(p *plan.Plan, configFile string) []string {
	var out []string
	for _, s := range p.Services {
		if slices.ContainsFunc(s.Mounts, func(m plan.Mount) bool { return m.Source == path.Dir(configFile) }) {
			out = append(out, s.Unit)
		}
	}
	return out
}

// maintenanceStops are the units that must not run while the databases or
// the media store are replaced: those that use the bundled server and those
// that mount the media store, in start order.
func maintenanceStops(p *plan.Plan, server string, bundled bool) []string {
	var users []string
	if bundled {
		users = dependants(p, server)
	}
	media, store := p.Homeserver.MediaStore, p.Homeserver.StoreDir
	var out []string
	for _, s := range p.Services {
		stop := slices.Contains(users, s.Unit)
		for _, m := range s.Mounts {
			if media != "" && (m.Source == media || strings.HasPrefix(media, m.Source+"/")) {
				stop = true
			}
			if store != "" && m.Source == store {
				stop = true
			}
		}
		if stop {
			out = append(out, s.Unit)
		}
	}
	return out
}

// maintenanceScripts are the scripts install.sh puts in DATA_DIR/bin
// besides postgres-upgrade.sh; postgres says the script needs the bundled
// server.
// synapse says it runs Synapse's own tools or reads Synapse's media
// layout (Homeserver.SynapseTools).
var maintenanceScripts = []struct {
	name     string
	postgres bool
	synapse  bool // uses Synapse's own tools or media layout
	accounts bool // runs the homeserver's account tool (or the auth service's)
	auth     bool // needs the authentication service
	// authTemplate replaces the script's template when the
	// authentication service owns the accounts.
	authTemplate string
}{
	{"backup.sh", false, false, false, false, ""},
	{"restore.sh", false, false, false, false, ""},
	{"register-user.sh", false, false, true, false, "register-user-mas.sh"},
	{"import-media-store.sh", false, true, false, false, ""},
	{"uninstall.sh", false, false, false, false, ""},
	{"psql.sh", true, false, false, false, ""},
	{"vacuum.sh", true, false, false, false, ""},
	{"import-postgres.sh", true, true, false, false, ""},
	{"import-synapse-sqlite.sh", true, true, false, false, ""},
	{"syn2mas.sh", false, true, false, true, ""},
}

// plainWord is what the scripts' heredoc tables and help text carry
// unquoted: names and absolute paths, never a space, quote, $ or newline.
var plainWord = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/:@-]*$|^/[A-Za-z0-9._/-]*$`)

// checkPlain refuses a value that a table row or comment could not carry;
// the schema should have refused it already.
func (d maintenanceData) checkPlain() error {
	words := []string{d.Domain, d.Synapse.MediaStore, d.Synapse.Database, d.Postgres.Superuser, d.Synapse.StoreDir, d.Auth.DataDir, d.Backup.PasswordFile, d.Backup.Tool}
	for _, db := range d.Databases {
		words = append(words, db.Name, db.Role, db.Secret)
	}
	if a := d.Accounts; a != nil {
		// register-user.sh names the program in a comment and matches
		// InUse as a case pattern.
		words = append(words, a.Command[0], a.InUse)
	}
	for _, s := range d.Secrets {
		words = append(words, s.Name, s.Path)
	}
	for _, w := range words {
		if w != "" && !plainWord.MatchString(w) {
			return fmt.Errorf("maintenance scripts: %q is not a plain name or path", w)
		}
	}
	return nil
}

func renderMaintenance(p *plan.Plan, t Tree) error {
	d := newMaintenanceData(p)
	if err := d.checkPlain(); err != nil {
		return err
	}
	for _, s := range maintenanceScripts {
		if s.postgres && d.Postgres.Unit == "" || s.synapse && !p.Homeserver.SynapseTools || s.auth && d.Auth.Unit == "" ||
			s.accounts && d.Accounts == nil && d.Auth.Unit == "" {
			continue
		}
		d.Script = s.name
		template := s.name
		if s.authTemplate != "" && d.Auth.Unit != "" {
			template = s.authTemplate
		}
		var b strings.Builder
		if err := parsed.ExecuteTemplate(&b, template+".tmpl", d); err != nil {
			return err
		}
		if err := t.add(hostPath(path.Join(binDir(p.Host), s.name)), 0o750, []byte(b.String())); err != nil {
			return err
		}
	}
	if err := renderSelfCheck(p, t); err != nil {
		return err
	}
	if err := renderStateCompressor(p, t); err != nil {
		return err
	}
	return renderBackupScripts(p, d, t)
}

// stateCompressorData is what compress-state.sh.tmpl prints.
type stateCompressorData struct {
	plan.StateCompressor
	Script string
}

// renderStateCompressor adds the script matrix-synapse-auto-compressor
// runs, when the compressor is on.
func renderStateCompressor(p *plan.Plan, t Tree) error {
	if p.StateCompressor == nil {
		return nil
	}
	d := stateCompressorData{*p.StateCompressor, "compress-state.sh"}
	var b strings.Builder
	if err := parsed.ExecuteTemplate(&b, "compress-state.sh.tmpl", d); err != nil {
		return err
	}
	return t.add(hostPath(path.Join(binDir(p.Host), d.Script)), 0o750, []byte(b.String()))
}

// renderBackupScripts adds the scheduled backup's script, and with a
// repository off the host the one that fetches a backup from it.
func renderBackupScripts(p *plan.Plan, d maintenanceData, t Tree) error {
	if p.Backup == nil {
		return nil
	}
	scripts := []string{"scheduled-backup.sh"}
	if p.Backup.Tool != "" {
		scripts = append(scripts, "fetch-backup.sh")
	}
	for _, name := range scripts {
		d.Script = name
		var b strings.Builder
		if err := parsed.ExecuteTemplate(&b, name+".tmpl", d); err != nil {
			return err
		}
		if err := t.add(hostPath(path.Join(binDir(p.Host), name)), 0o750, []byte(b.String())); err != nil {
			return err
		}
	}
	return nil
}
