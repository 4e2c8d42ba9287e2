package compile

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// Dendrite runs as one process (its monolith) that serves the client and
// federation APIs on one port, keeps its state in PostgreSQL and its
// media, JetStream queues and search index on disk.
const (
	dendriteUnit      = "matrix-dendrite"
	dendritePort      = 8008
	dendriteConfigDir = "/etc/dendrite"
	dendriteDataDir   = "/var/dendrite"
)

func init() { registerHomeserver("dendrite", addDendrite) }

func addDendrite(b *builder) {
	db := b.database(dendriteUnit, "dendrite", true)
	configDir := b.dataPath("dendrite", "config")
	data := b.dataPath("dendrite", "data")
	for _, d := range []string{b.dataPath("dendrite"), configDir, data, data + "/media", data + "/jetstream", data + "/searchindex"} {
		b.dir(d, 0o750)
	}
	b.plan.Homeserver = plan.Homeserver{
		Unit: dendriteUnit, ConfigFile: dendriteConfigDir + "/dendrite.yaml", ClientPort: dendritePort, FederationPort: dendritePort,
		Database: db.Database, Implementation: "dendrite",
		// JetStream's queues and the media belong together: a copy of
		// the directory is whole only with Dendrite stopped.
		StoreDir: data,
		// Dendrite's image carries create-account, which reads the
		// shared secret from dendrite.yaml. It has no flag for a user
		// that exists; the server's answer names it M_USER_IN_USE.
		Accounts: &plan.AccountTool{
			Command: []string{"create-account", "-config", dendriteConfigDir + "/dendrite.yaml", "-passwordstdin",
				"-url", fmt.Sprintf("http://localhost:%d", dendritePort)},
			UserFlag: "-username", AdminFlag: "-admin", InUse: "M_USER_IN_USE",
		},
	}
	keyFile := b.cfg.Domain + ".key"
	b.plan.Secrets = append(b.plan.Secrets, plan.Secret{
		Name: "dendrite-signing-key", Kind: plan.MatrixPEMKey, Description: "Dendrite's ed25519 signing key",
		Readers: []string{dendriteUnit}, Path: configDir + "/" + keyFile,
	})
	sharedSecret := b.secret("dendrite-registration-secret", "Dendrite registration_shared_secret", dendriteUnit)
	turn := b.turnServer()
	secrets := []string{string(db.Password), string(sharedSecret)}
	if turn != nil {
		secrets = append(secrets, turn.secret)
		b.secret(turn.secret, "", dendriteUnit)
	}
	b.file(plan.File{
		Path: configDir + "/dendrite.yaml", Format: plan.YAML,
		Value:   deepMerge(dendriteConfig(b, db, keyFile, sharedSecret, turn), b.cfg.Dendrite.Extra),
		Secrets: secrets, Restarts: []string{dendriteUnit},
	})
	command := []string{"--config", dendriteConfigDir + "/dendrite.yaml", "--http-bind-address", fmt.Sprintf(":%d", dendritePort)}
	if r := b.cfg.Homeserver.Registration; r.Mode == "open" && r.AllowUnverified {
		// Dendrite refuses open registration without a captcha unless
		// told so (v0.13.8's ClientAPI.Verify). Validation refuses the
		// token mode: v0.13.8 never asks for a token at /register.
		command = append(command, "--really-enable-open-registration")
	}
	mounts := []plan.Mount{
		{Source: configDir, Target: dendriteConfigDir, ReadOnly: true},
		{Source: data, Target: dendriteDataDir},
	}
	mounts = append(mounts, appserviceMounts(b)...)
	var requires []string
	if db.Unit != "" {
		requires = append(requires, db.Unit)
	}
	b.service(plan.Service{
		Unit:        dendriteUnit,
		Description: "Dendrite Matrix homeserver",
		Image:       b.cfg.Dendrite.Image,
		Command:     command,
		Mounts:      mounts,
		Tmpfs:       []string{"/tmp"},
		Networks:    []string{b.cfg.Host.Networks.Homeserver, b.cfg.Host.Networks.Proxy},
		Listens:     []plan.Listen{{Name: "client", Port: dendritePort, HostPort: homeserverHostPort}},
		Requires:    requires,
		StopTimeout: 60,
	})
	// The image is Alpine's: busybox wget, no curl.
	b.health(dendriteUnit, 300, "docker", "exec", dendriteUnit, "wget", "-q", "-O", "/dev/null",
		fmt.Sprintf("http://localhost:%d/_matrix/client/versions", dendritePort))
	addHomeserverRoutes(b, dendriteUnit, dendritePort)
}

// dendriteConfig is dendrite.yaml (config version 2) for the monolith with
// one PostgreSQL database for every component.
func dendriteConfig(b *builder, db dbConn, keyFile string, sharedSecret plan.SecretRef, turn *homeserverTURN) obj {
	c, hs := b.cfg, b.cfg.Homeserver
	conn := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=%s",
		db.User, db.Password.Placeholder(), db.Host, db.Port, db.Database, db.SSLMode)
	reg := hs.Registration
	clientAPI := obj{
		"registration_disabled": reg.Mode == "closed",
		// Accounts of a closed server: create-account registers them
		// with this secret, which Dendrite takes whatever the mode.
		"registration_shared_secret": sharedSecret,
		"guests_disabled":            true,
		"rate_limiting":              obj{"enabled": true, "threshold": 20, "cooloff_ms": 500},
	}
	if turn != nil {
		clientAPI["turn"] = obj{
			"turn_uris":          plan.AnyList(turn.uris),
			"turn_shared_secret": plan.SecretRef(turn.secret),
			"turn_user_lifetime": turn.lifetime,
		}
	}
	var perspectives []any
	for _, server := range hs.TrustedKeyServers {
		if keys, ok := knownKeyServers[server]; ok {
			perspectives = append(perspectives, obj{"server_name": server, "keys": keys})
		}
	}
	return obj{
		"version": 2,
		"global": obj{
			"server_name": c.Domain,
			"private_key": dendriteConfigDir + "/" + keyFile,
			"database": obj{
				"connection_string": conn, "max_open_conns": 90, "max_idle_conns": 5, "conn_max_lifetime": -1,
			},
			"disable_federation":             !hs.Federation.Enabled,
			"presence":                       obj{"enable_inbound": hs.Presence, "enable_outbound": hs.Presence},
			"report_stats":                   obj{"enabled": false},
			"jetstream":                      obj{"storage_path": dendriteDataDir + "/jetstream", "topic_prefix": "Dendrite"},
			"trusted_third_party_id_servers": []any{},
		},
		"client_api":      clientAPI,
		"federation_api":  obj{"key_perspectives": perspectives},
		"app_service_api": obj{"config_files": appserviceConfigFiles(b)},
		"media_api": obj{
			"base_path":           dendriteDataDir + "/media",
			"max_file_size_bytes": int64(hs.MaxUploadSizeMB) << 20,
		},
		"sync_api": obj{"search": obj{"enabled": true, "index_path": dendriteDataDir + "/searchindex", "language": "en"}},
		"user_api": obj{"auto_join_rooms": plan.AnyList(hs.AutoJoinRooms)},
		"logging":  []any{obj{"type": "std", "level": strings.ToLower(dendriteLogLevel)}},
	}
}

// dendriteLogLevel: Dendrite logs requests at info; warnings are what an
// operator reads.
const dendriteLogLevel = "warn"

// knownKeyServers are the notary servers whose keys Dendrite needs up
// front (it fetches none from a name alone): matrix.org's, as Dendrite's
// own sample config lists them. Validation refuses other names.
var knownKeyServers = map[string][]any{
	"matrix.org": {
		obj{"key_id": "ed25519:auto", "public_key": "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw"},
		obj{"key_id": "ed25519:a_RXGa", "public_key": "l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ"},
	},
}
