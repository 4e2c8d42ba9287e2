package compile

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	postgresUnit = "matrix-postgres"
	postgresPort = 5432
	// postgresDataTarget is where the image keeps its data.
	postgresDataTarget = "/var/lib/postgresql/data"
)

// dbConn is how a service reaches its database, bundled or external alike.
type dbConn struct {
	Host, Database, User, SSLMode string
	Port                          int
	Password                      plan.SecretRef
	// Unit is the bundled server's unit, to order after; "" when external.
	Unit string
}

// database gives the service owner a database and role of its own and
// returns how to connect. Every component asks here, so postgres.mode
// repoints all of them at once.
func (b *builder) database(owner, name string, cLocale bool) dbConn {
	pg := b.cfg.Postgres
	secret := name + "-db-password"
	conn := b.connection(name)
	if pg.Mode == "external" {
		ext := pg.External
		conn.Password = b.providedSecret(secret, fmt.Sprintf("password of role %s on %s (see %s)", conn.User, ext.Host, b.externalNotePath()), owner)
		b.external = append(b.external, plan.Database{Name: conn.Database, Role: conn.User, Owner: owner, PasswordSecret: secret, CLocale: cLocale})
		return conn
	}
	conn.Password = b.secret(secret, "password of database role "+name, owner, postgresUnit)
	b.plan.Databases = append(b.plan.Databases, plan.Database{
		Name: name, Role: name, Owner: owner, Server: postgresUnit, Superuser: pg.Bundled.Superuser,
		PasswordSecret: secret, CLocale: cLocale,
	})
	return conn
}

// connection is how database name is reached, without its password:
// the part of database that another reader of an existing database
// shares.
func (b *builder) connection(name string) dbConn {
	pg := b.cfg.Postgres
	if pg.Mode != "external" {
		return dbConn{Host: postgresUnit, Port: postgresPort, Database: name, User: name, SSLMode: "disable", Unit: postgresUnit}
	}
	ext := pg.External
	conn := dbConn{Host: ext.Host, Port: ext.Port, Database: name, User: name, SSLMode: ext.SSLMode}
	if name == "synapse" {
		conn.Database, conn.User = ext.Database, ext.User
	}
	return conn
}

func addPostgres(b *builder) {
	pg := b.cfg.Postgres.Bundled
	superuser := b.secret("postgres-password", "password of the postgres superuser", postgresUnit)
	dataDir := b.dataPath("postgres", "data")
	b.dir(b.dataPath("postgres"), 0o750)
	b.dir(dataDir, 0o700)
	b.plan.Postgres = &plan.Postgres{Unit: postgresUnit, Major: pg.Major, DataDir: dataDir}
	b.service(plan.Service{
		Unit:        postgresUnit,
		Description: fmt.Sprintf("PostgreSQL %d", pg.Major),
		Image:       fmt.Sprintf("docker.io/library/postgres:%d-alpine", pg.Major),
		Command:     append([]string{"postgres"}, postgresSettings(b)...),
		Env: []plan.EnvVar{
			{Name: "POSTGRES_USER", Value: pg.Superuser},
			{Name: "POSTGRES_DB", Value: pg.Superuser},
			{Name: "POSTGRES_PASSWORD_FILE", Value: secretMount(string(superuser))},
			{Name: "POSTGRES_INITDB_ARGS", Value: "--encoding=UTF8 --locale=C"},
			{Name: "PGDATA", Value: postgresDataTarget},
		},
		Mounts: []plan.Mount{
			{Source: dataDir, Target: postgresDataTarget},
			b.secretFileMount(string(superuser)),
		},
		Tmpfs:       []string{"/tmp", "/var/run/postgresql"},
		Networks:    []string{b.cfg.Host.Networks.Homeserver},
		Listens:     []plan.Listen{{Name: "postgres", Port: postgresPort}},
		StopTimeout: 120, // a clean shutdown avoids crash recovery on the next start
	})
	b.health(postgresUnit, 120, postgresReady(pg.Superuser)...)
}

// postgresReady exits 0 once the server accepts TCP connections. The
// image's entrypoint first runs a temporary server for its initialisation
// that listens on the Unix socket only and is shut down when done: a check
// over the socket passes while that one runs, and whatever is then created
// on it meets "terminating connection due to administrator command". The
// final server listens on every address, so loopback in its own container
// reaches it.
func postgresReady(superuser string) []string {
	return []string{"docker", "exec", postgresUnit, "pg_isready", "-h", "127.0.0.1", "-p", strconv.Itoa(postgresPort), "-U", superuser}
}

// postgresSettings derives memory settings from the memory PostgreSQL may
// use, in the proportions PostgreSQL's own tuning guides give.
func postgresSettings(b *builder) []string {
	pg := b.cfg.Postgres.Bundled
	mem := pg.MemoryMB
	conns := postgresMaxConnections(b)
	settings := map[string]string{
		"max_connections":      strconv.Itoa(conns),
		"shared_buffers":       fmt.Sprintf("%dMB", mem/4),
		"effective_cache_size": fmt.Sprintf("%dMB", mem*3/4),
		"maintenance_work_mem": fmt.Sprintf("%dMB", max(mem/16, 16)),
		"work_mem":             fmt.Sprintf("%dkB", max(mem*1024/(4*conns), 1024)),
		"wal_buffers":          "16MB",
		"listen_addresses":     "*",
	}
	for k, v := range pg.Extra {
		settings[k] = fmt.Sprint(v)
	}
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	var args []string
	for _, k := range names {
		args = append(args, "-c", k+"="+settings[k])
	}
	return args
}

// postgresConnectionHeadroom is left for everything but Synapse's pools:
// other services' databases, maintenance sessions, a migration running
// beside the server.
const postgresConnectionHeadroom = 50

// postgresConnectionStep rounds a raised limit up. PostgreSQL reads
// max_connections only when it starts, and its restart restarts every
// Synapse process: in steps, adding or removing a worker or two leaves the
// limit, and the server, alone.
const postgresConnectionStep = 100

// postgresMaxConnections is the configured limit, raised when Synapse's
// processes could open more: every worker has a pool of its own, and a
// server that runs out of connections fails requests at random.
func postgresMaxConnections(b *builder) int {
	needed := synapseProcesses(b.cfg)*synapseCPMax + postgresConnectionHeadroom
	if needed <= b.cfg.Postgres.Bundled.MaxConnections {
		return b.cfg.Postgres.Bundled.MaxConnections
	}
	return (needed + postgresConnectionStep - 1) / postgresConnectionStep * postgresConnectionStep
}
