package compile

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

func init() { registerBotType("maubot", addMaubot) }

const (
	maubotPort = 29316
	// maubotPathPrefix is where maubot serves its management UI, its API
	// (below /v1, a path fixed in maubot) and its plugins' web endpoints
	// (below /plugin/), on the homeserver's hostname as MDAD does.
	maubotPathPrefix = reserved.MaubotUI
	maubotConfigDir  = "/config"
	maubotDataDir    = "/data"
	// maubotFrontend is where the image keeps the built management UI,
	// which maubot's own package does not hold.
	maubotFrontend = "/opt/maubot/frontend"
	// Plugins are uploaded as zip files of up to maubot's own limit.
	maubotMaxBodyBytes = 100 << 20
	// synapseRegistrationSecret is the secret behind Synapse's
	// registration_shared_secret_path (synapse.go).
	synapseRegistrationSecret = "synapse-registration-secret"
)

// maubotOptions are maubot's own options (schema/bot_maubot.cue).
type maubotOptions struct {
	AdminUsername string `json:"admin_username"`
	LogLevel      string `json:"log_level"`
}

// addMaubot adds maubot, which runs bots from plugins; it and its plugins
// keep their data in its PostgreSQL database, uploaded plugins in its
// data directory.
//
// maubot merges its config into the example config it ships on every
// start and saves the result back, replacing a "generate" unshared secret
// with a random one and plaintext admin passwords with bcrypt hashes; when
// it cannot save, it logs a warning and goes on with the merged config in
// memory (mautrix-python's BaseFileConfig.save). The config directory is
// read-only here, and maubot runs with --no-update, which skips the save
// altogether. So every value maubot would generate comes from the host's
// secrets instead, unchanged across starts: the unshared secret (a fresh
// one would log everyone out of the UI at every restart), and the admin
// password, which maubot hashes anew in memory on each start.
func addMaubot(b *builder, bt bot) {
	var opts maubotOptions
	bt.DecodeOptions(&opts)
	db := b.database(bt.unit, bt.DatabaseName, false)
	unshared := b.secret(bt.name+"-unshared-secret", "key signing the management API tokens of "+bt.name, bt.unit)
	admin := b.secret(bt.name+"-admin-password", "password of "+opts.AdminUsername+" in the management UI of "+bt.name, bt.unit)
	secrets := []string{string(unshared), string(admin)}
	homeserver := obj{"url": b.clientAPIURL()}
	if reg, ok := b.registrationSecret(bt.unit); ok {
		// Lets mbc auth --register and the UI create bot users.
		homeserver["secret"] = reg
		secrets = append(secrets, string(reg))
	}
	data := func(sub string) string { return maubotDataDir + "/" + sub }
	for _, sub := range []string{"plugins", "trash", "dbs"} {
		b.dir(bt.dataDir()+"/"+sub, 0o750)
	}
	cfg := obj{
		"database":        maubotDatabaseURL(db),
		"crypto_database": "default",
		"plugin_directories": obj{
			"upload": data("plugins"), "load": []any{data("plugins")}, "trash": data("trash"),
		},
		// Plugins written for asyncpg get a schema of their own in maubot's
		// database; older ones keep SQLite files.
		"plugin_databases": obj{"sqlite": data("dbs"), "postgres": "default"},
		"server": obj{
			"hostname":               "0.0.0.0",
			"port":                   maubotPort,
			"public_url":             "https://" + b.cfg.Hostnames.Homeserver,
			"ui_base_path":           maubotPathPrefix,
			"plugin_base_path":       maubotPathPrefix + "/plugin/",
			"override_resource_path": maubotFrontend,
			"unshared_secret":        unshared,
		},
		"homeservers": obj{b.cfg.Domain: homeserver},
		"admins":      obj{"root": "", opts.AdminUsername: admin},
		"logging":     maubotLogging(opts.LogLevel),
	}
	b.file(plan.File{
		Path: bt.configDir() + "/config.yaml", Format: plan.YAML, Value: deepMerge(cfg, bt.Extra),
		Secrets: secrets, Restarts: []string{bt.unit},
	})
	// The database URL holds no password: one the operator provides may
	// hold characters a URL would need escaped. asyncpg reads PGPASSWORD,
	// which docker passes from a file install.sh fills and keeps private.
	envFile := bt.dir + "/env-secret"
	b.file(plan.File{Path: envFile, Format: plan.Raw, Owner: "root",
		Content: []byte("PGPASSWORD=" + db.Password.Placeholder() + "\n"),
		Secrets: []string{string(db.Password)}, Restarts: []string{bt.unit}})
	var requires []string
	if db.Unit != "" {
		requires = append(requires, db.Unit)
	}
	b.service(plan.Service{
		Unit:        bt.unit,
		Description: bt.description("maubot bot manager"),
		Image:       bt.Image,
		// The image's own start script rewrites the config and switches
		// users; maubot itself needs neither.
		Command: []string{"python3", "-m", "maubot", "-c", maubotConfigDir + "/config.yaml", "--no-update"},
		EnvFile: envFile,
		Mounts: []plan.Mount{
			{Source: bt.configDir(), Target: maubotConfigDir, ReadOnly: true},
			{Source: bt.dataDir(), Target: maubotDataDir},
		},
		// Plugins may keep temporary files.
		Tmpfs:    []string{"/tmp"},
		Networks: []string{b.cfg.Host.Networks.Homeserver, b.cfg.Host.Networks.Proxy},
		Listens:  []plan.Listen{{Name: "http", Port: maubotPort, HostPort: bt.HostPort, Origin: bt.option("host_port")}},
		Requires: requires,
		Wants:    []string{b.homeserverUnit()},
	})
	// maubot listens once its database is open; /features answers
	// without a login. The image has Python, not curl.
	b.health(bt.unit, 300, "docker", "exec", bt.unit, "python3", "-c",
		fmt.Sprintf("import urllib.request; urllib.request.urlopen('http://localhost:%d%s/v1/features')", maubotPort, maubotPathPrefix))
	b.route(plan.Route{
		Name: bt.unit, Host: b.cfg.Hostnames.Homeserver, PathPrefix: maubotPathPrefix,
		Entrypoint: plan.EntrypointClient, Service: bt.unit, Port: maubotPort,
		Settings: plan.RouteSettings{MaxBodyBytes: maubotMaxBodyBytes, WebSocket: true},
	})
}

// registrationSecret is Synapse's registration shared secret, with reader
// added to its readers, when Synapse has one.
func (b *builder) registrationSecret(reader string) (plan.SecretRef, bool) {
	for _, s := range b.plan.Secrets {
		if s.Name == synapseRegistrationSecret {
			return b.secret(s.Name, s.Description, reader), true
		}
	}
	return "", false
}

// maubotDatabaseURL is the URL form maubot requires, without the password.
func maubotDatabaseURL(db dbConn) string {
	return fmt.Sprintf("postgresql://%s@%s:%d/%s?sslmode=%s", db.User, db.Host, db.Port, db.Database, db.SSLMode)
}

// maubotLogging writes to the journal only: upstream's example also
// writes a file below the working directory, which is read-only here.
func maubotLogging(level string) obj {
	lvl := strings.ToUpper(level)
	if lvl == "WARN" {
		lvl = "WARNING"
	}
	logger := obj{"level": lvl}
	return obj{
		"version":    1,
		"formatters": obj{"normal": obj{"format": "[%(levelname)s@%(name)s] %(message)s"}},
		"handlers":   obj{"console": obj{"class": "logging.StreamHandler", "formatter": "normal"}},
		"loggers":    obj{"maubot": logger, "mau": logger, "aiohttp": logger},
		"root":       obj{"level": lvl, "handlers": []any{"console"}},
	}
}
