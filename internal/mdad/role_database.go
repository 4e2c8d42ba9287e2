package mdad

import "fmt"

// bundledPostgresHost is the playbook's PostgreSQL container, where its
// bridges' and bots' databases are when it runs.
const bundledPostgresHost = "matrix-postgres"

// dbOwner is a bridge or bot with a database, as the messages about it
// name it: "this bridge's" data, matrixgen runs "bridges" on PostgreSQL
// only, "the bridge" would start without "its logins and rooms", and
// matrixgen keeps "the bridges' databases" on its server.
type dbOwner struct {
	its, runs, subject, lost, kept string
	// dir is its directory under /matrix, where SQLite keeps its data.
	dir string
	// sqliteWithoutPostgres: without the playbook's Postgres, the
	// playbook keeps its data in SQLite.
	sqliteWithoutPostgres bool
}

// databaseRefusal says why a role's database cannot be taken over: the
// playbook keeps the data in SQLite, or on another server than the one
// matrixgen gives it ("" when it can).
func (r *roleVars) databaseRefusal(o dbOwner) string {
	t := r.t
	external := t.postgresExternal()
	engine, ev, err := r.text("database_engine")
	if err != nil {
		return fmt.Sprintf("%s (line %d) cannot be read: %v", ev.name, ev.line, err)
	}
	host, hv, err := r.text("database_hostname")
	if err != nil {
		return fmt.Sprintf("%s (line %d) cannot be read: %v", hv.name, hv.line, err)
	}
	if engine == "" {
		engine = "postgres"
		if external && o.sqliteWithoutPostgres {
			engine = "sqlite"
		}
	}
	sqlite := fmt.Sprintf("the playbook keeps %s data in SQLite (under /matrix/%s/data), and matrixgen runs %s on PostgreSQL only: %s would start without %s; move its data into PostgreSQL first, or leave %s to the playbook",
		o.its, o.dir, o.runs, o.subject, o.lost, o.subject)
	switch {
	case engine != "postgres":
		return sqlite
	case !external && host != "" && host != bundledPostgresHost:
		return fmt.Sprintf("its database is on %s (%s), not on the playbook's PostgreSQL, and matrixgen keeps %s on its bundled server", host, hv.name, o.kept)
	case !external:
		return ""
	case host == "":
		if o.sqliteWithoutPostgres {
			return sqlite
		}
		return fmt.Sprintf("without the playbook's PostgreSQL (postgres_enabled: false), the playbook gives %s no database server unless database_hostname names one, and vars.yml does not", o.subject)
	}
	if synapseHost, _ := t.text("matrix_synapse_database_host"); host != synapseHost {
		return fmt.Sprintf("its database is on %s (%s), not on Synapse's server (matrix_synapse_database_host), where matrixgen keeps %s with postgres.mode external", host, hv.name, o.kept)
	}
	return ""
}

// databaseRole reads the variables that say how a role reaches its
// database, once its name is settled: matrixgen logs in as a role named
// after the database, on the server databaseRefusal accepted.
func (r *roleVars) databaseRole(dbName string) {
	if v, n, ok := r.take("database_username"); ok {
		if user, err := scalarText(n); err != nil || user != dbName {
			r.t.notTranslated(v, fmt.Sprintf("matrixgen logs in to a database as a role named after it (%s); rename the role first (ALTER ROLE … RENAME TO %s, then set its password again, as renaming clears an MD5 password)", dbName, dbName))
		} else {
			r.t.readVar(v, "the role named after the database, as matrixgen's")
		}
	}
	where := "the bundled PostgreSQL, where matrixgen keeps it"
	if r.t.postgresExternal() {
		where = "Synapse's database server (postgres.external), where matrixgen keeps it"
	}
	for _, suffix := range []string{"database_engine", "database_hostname", "database_port", "database_sslmode"} {
		r.readAs(suffix, "the database is on "+where)
	}
}
