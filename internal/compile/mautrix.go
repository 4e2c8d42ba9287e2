package compile

import (
	"fmt"
	"slices"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// mautrixNetwork is what one mautrix bridgev2 bridge adds to the part of
// the config all of them share (mautrix-go's bridgev2 example config).
type mautrixNetwork struct {
	description string // of the unit
	binary      string // the bridge program in the image
	port        int    // the appservice listener; upstream's default port
	// network is the config's network section, the bridge's own options.
	network obj
	// env is given to the bridge besides its config; secrets are the host
	// secrets it reads from files under /run/secrets.
	env     []plan.EnvVar
	secrets []string
	// envPrefix is the config's env_config_prefix: variables starting with
	// it override config fields, a _FILE suffix reads the value from a
	// file. Only values a config file cannot carry as a placeholder (a
	// number from a secret) go this way.
	envPrefix string
}

// mautrixOptions are the options every mautrix bridge has
// (#MautrixBridge in schema/bridges.cue).
type mautrixOptions struct {
	Permissions  map[string]string `json:"permissions"`
	DoublePuppet bool              `json:"double_puppet"`
	Encryption   struct {
		Allow   bool `json:"allow"`
		Default bool `json:"default"`
	} `json:"encryption"`
	LogLevel string `json:"log_level"`
}

// mautrixDataDir holds the bridge's config and registration, read-only:
// the bridge runs with --no-update and never writes its config.
const mautrixDataDir = "/data"

// mautrixBridge is what every mautrix bridge has, whichever shape its
// config file takes: the values its config holds, and the secrets the
// file's placeholders name.
type mautrixBridge struct {
	bridge
	opts    mautrixOptions
	db      dbConn
	as, hs  plan.SecretRef
	address string // where Synapse reaches the bridge
	// permissions and doublePuppet are the config's maps: who may use the
	// bridge, and this server's double-puppeting secret (if on).
	permissions, doublePuppet obj
	secrets                   []string
}

// newMautrixBridge declares a mautrix bridge's database and appservice
// registration.
func newMautrixBridge(b *builder, br bridge, port int) *mautrixBridge {
	m := &mautrixBridge{bridge: br, address: fmt.Sprintf("http://%s:%d", br.unit, port)}
	br.DecodeOptions(&m.opts)
	m.db = b.database(br.unit, br.DatabaseName, false)
	m.as, m.hs = b.appserviceTokens(br)
	m.secrets = []string{string(m.db.Password), string(m.as), string(m.hs)}
	b.writeRegistration(br, registration{
		id: br.AppserviceID, url: m.address, asToken: m.as, hsToken: m.hs,
		senderLocalpart: br.BotUsername, ephemeral: true,
		users: []namespace{
			{regex: userRegex(b.cfg.Domain, br.BotUsername, false), exclusive: true},
			{regex: userRegex(b.cfg.Domain, br.UsernamePrefix, true), exclusive: true},
		},
	})
	m.permissions = obj{}
	for who, level := range m.opts.Permissions {
		m.permissions[who] = level
	}
	if len(m.permissions) == 0 {
		m.permissions[b.cfg.Domain] = "user"
	}
	m.doublePuppet = obj{}
	if m.opts.DoublePuppet {
		m.doublePuppet[b.cfg.Domain] = b.doublePuppetToken(br.unit)
		m.secrets = append(m.secrets, doublePuppetName+"-as-token")
	}
	return m
}

// secret declares a value the bridge would otherwise make up on every
// start, since it cannot write it back to a read-only config: sessions and
// signed URLs would not survive a restart.
func (m *mautrixBridge) secret(b *builder, suffix, what string) plan.SecretRef {
	ref := b.secret(m.name+"-"+suffix, what+" of "+m.name, m.unit)
	m.secrets = append(m.secrets, string(ref))
	return ref
}

// directMediaKey is the key signing direct media (mxc://) URIs, an
// ed25519 key in Synapse's key file format.
func (m *mautrixBridge) directMediaKey(b *builder) plan.SecretRef {
	ref := b.signingKey(m.name+"-direct-media-key", "key signing direct media (mxc://) URIs of "+m.name, m.unit)
	m.secrets = append(m.secrets, string(ref))
	return ref
}

// logging writes to the journal: the image's root is read-only.
func (m *mautrixBridge) logging() obj {
	return obj{
		"min_level": m.opts.LogLevel,
		"writers":   []any{obj{"type": "stdout", "format": "pretty"}},
	}
}

// run installs the config file and adds the bridge's unit.
func (m *mautrixBridge) run(b *builder, cfg obj, n mautrixNetwork) {
	b.file(plan.File{
		Path: m.configDir() + "/config.yaml", Format: plan.YAML, Value: deepMerge(cfg, m.Extra),
		Secrets: slices.Sorted(slices.Values(m.secrets)), Restarts: []string{m.unit},
	})
	// Large media goes through temporary files, which can outgrow a tmpfs.
	tmp := m.dir + "/tmp"
	b.dir(tmp, 0o750)
	mounts := []plan.Mount{
		{Source: m.configDir(), Target: mautrixDataDir, ReadOnly: true},
		{Source: tmp, Target: "/tmp"},
	}
	for _, s := range n.secrets {
		mounts = append(mounts, b.secretFileMount(s))
	}
	var requires []string
	if m.db.Unit != "" {
		requires = append(requires, m.db.Unit)
	}
	description := n.description
	if m.name != m.Type {
		description += " (" + m.name + ")"
	}
	b.service(plan.Service{
		Unit:        m.unit,
		Description: description,
		Image:       m.Image,
		// The image's own entrypoint writes into /data and switches users;
		// the program itself needs neither.
		Entrypoint: n.binary,
		Command:    []string{"-c", mautrixDataDir + "/config.yaml", "--no-update"},
		Env:        n.env,
		Mounts:     mounts,
		Networks:   []string{b.cfg.Host.Networks.Homeserver},
		Listens:    []plan.Listen{{Name: "appservice", Port: n.port}},
		Requires:   requires,
		Wants:      []string{b.homeserverUnit()},
	})
	// Ready once the bridge has reached Synapse with its token: the
	// registration, the tokens and the database all work.
	b.health(m.unit, 300, "docker", "exec", m.unit, "curl", "-fsS", "-o", "/dev/null",
		fmt.Sprintf("http://localhost:%d/_matrix/mau/ready", n.port))
}

// addMautrixBridgev2 adds a bridge built on mautrix-go's bridgev2, whose
// config is the bridge's network section and the part all of them share.
func addMautrixBridgev2(b *builder, br bridge, n mautrixNetwork) {
	m := newMautrixBridge(b, br, n.port)
	cfg := obj{
		"network":  n.network,
		"bridge":   obj{"permissions": m.permissions},
		"database": obj{"type": "postgres", "uri": mautrixDatabaseURI(m.db)},
		"homeserver": obj{
			"address":  b.clientAPIURL(),
			"domain":   b.cfg.Domain,
			"software": "standard",
		},
		"appservice": obj{
			"address":           m.address,
			"hostname":          "0.0.0.0",
			"port":              n.port,
			"id":                br.AppserviceID,
			"bot":               obj{"username": br.BotUsername},
			"ephemeral_events":  true,
			"as_token":          m.as,
			"hs_token":          m.hs,
			"username_template": br.UsernamePrefix + "{{.}}",
		},
		// A room can only federate if the server does.
		"matrix":       obj{"federate_rooms": b.cfg.Homeserver.Federation.Enabled},
		"provisioning": obj{"shared_secret": m.secret(b, "provisioning-secret", "shared secret of the provisioning API")},
		"public_media": obj{"signing_key": m.secret(b, "public-media-key", "key signing public media URLs")},
		"direct_media": obj{"server_key": m.directMediaKey(b)},
		// Only other servers go in servers; this server's users use the
		// double-puppeting appservice's token.
		"double_puppet": obj{"servers": obj{}, "allow_discovery": false, "secrets": m.doublePuppet},
		"encryption": obj{
			"allow":      m.opts.Encryption.Allow,
			"default":    m.opts.Encryption.Default,
			"pickle_key": m.secret(b, "pickle-key", "key encrypting the end-to-bridge encryption keys"),
		},
		"logging": m.logging(),
	}
	if n.envPrefix != "" {
		cfg["env_config_prefix"] = n.envPrefix
	}
	m.run(b, cfg, n)
}

// mautrixDatabaseURI is a libpq keyword/value string rather than a URL: a
// password the operator provides may hold characters a URL would need
// escaped, and none that this form does (install.sh accepts no spaces,
// quotes or backslashes in secrets).
func mautrixDatabaseURI(db dbConn) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=%s",
		db.Host, db.Port, db.User, db.Password.Placeholder(), db.Database, db.SSLMode)
}

// signingKey declares an ed25519 key in Synapse's key file format, made
// on the host like Synapse's own, for a config value that takes one.
func (b *builder) signingKey(name, description string, readers ...string) plan.SecretRef {
	ref := b.secret(name, description, readers...)
	for i := range b.plan.Secrets {
		if b.plan.Secrets[i].Name == name {
			b.plan.Secrets[i].Kind = plan.SigningKey
		}
	}
	return ref
}
