package compile

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// continuwuity and Tuwunel are both successors of conduwuit: one Rust
// process serving every API on one port, its state in an embedded RocksDB
// that also holds its signing key (made by the server on its first start,
// on the host), its media in the database directory, and one TOML file
// whose [global] table their example configs document key by key.
type conduwuitKind struct {
	name string // the program, its unit's suffix and its directory under the data directory
	// envPrefix names its environment variables (CONTINUWUITY_CONFIG).
	envPrefix string
	// appserviceDir: it loads registration files from a directory
	// (Tuwunel's appservice_dir); without it, registering an appservice
	// is a command in the admin room, which a build cannot send.
	appserviceDir bool
	// health is the image's own readiness check, run in its container;
	// continuwuity's image holds the binary alone and has none.
	health  []string
	section func(*config.Config) config.OtherHomeserver
}

const (
	conduwuitPort       = 8008
	conduwuitConfigDir  = "/etc/matrix-homeserver"
	conduwuitDataTarget = "/var/lib/matrix-homeserver"
)

// conduwuitKinds are the homeservers of this family, by name.
var conduwuitKinds = map[string]conduwuitKind{}

func init() {
	for _, k := range []conduwuitKind{
		{name: "continuwuity", envPrefix: "CONTINUWUITY",
			section: func(c *config.Config) config.OtherHomeserver { return c.Continuwuity }},
		{name: "tuwunel", envPrefix: "TUWUNEL", appserviceDir: true, health: []string{"tuwunel", "--health-check"},
			section: func(c *config.Config) config.OtherHomeserver { return c.Tuwunel }},
	} {
		conduwuitKinds[k.name] = k
		registerHomeserver(k.name, k.add)
	}
}

func (k conduwuitKind) add(b *builder) {
	unit := "matrix-" + k.name
	configDir := b.dataPath(k.name, "config")
	data := b.dataPath(k.name, "data")
	for _, d := range []string{b.dataPath(k.name), configDir, data} {
		b.dir(d, 0o750)
	}
	b.plan.Homeserver = plan.Homeserver{
		Unit: unit, ConfigFile: conduwuitConfigDir + "/" + k.name + ".toml", ClientPort: conduwuitPort, FederationPort: conduwuitPort,
		Implementation: k.name, StoreDir: data,
	}
	var secrets []string
	mounts := []plan.Mount{
		{Source: configDir, Target: conduwuitConfigDir, ReadOnly: true},
		{Source: data, Target: conduwuitDataTarget},
	}
	if b.cfg.Homeserver.Registration.Mode == "token" {
		token := b.secret(unit+"-registration-token", k.name+" registration token new users give", unit)
		secrets = append(secrets, string(token))
	}
	turn := b.turnServer()
	if turn != nil {
		b.secret(turn.secret, "", unit)
		secrets = append(secrets, turn.secret)
	}
	for _, name := range secrets {
		mounts = append(mounts, b.secretFileMount(name))
	}
	if k.appserviceDir {
		mounts = append(mounts, appserviceMounts(b)...)
	}
	b.file(plan.File{
		Path: configDir + "/" + k.name + ".toml", Format: plan.TOML,
		Value:    obj{"global": deepMerge(k.global(b, unit, turn), k.section(b.cfg).Extra)},
		Restarts: []string{unit},
	})
	b.service(plan.Service{
		Unit:        unit,
		Description: k.name + " Matrix homeserver",
		Image:       k.section(b.cfg).Image,
		Env:         []plan.EnvVar{{Name: k.envPrefix + "_CONFIG", Value: b.plan.Homeserver.ConfigFile}},
		Mounts:      mounts,
		Tmpfs:       []string{"/tmp"},
		Networks:    []string{b.cfg.Host.Networks.Homeserver, b.cfg.Host.Networks.Proxy},
		Listens:     []plan.Listen{{Name: "client", Port: conduwuitPort, HostPort: homeserverHostPort}},
		StopTimeout: 60,
	})
	if k.health != nil {
		b.health(unit, 300, append([]string{"docker", "exec", unit}, k.health...)...)
	}
	addHomeserverRoutes(b, unit, conduwuitPort)
}

// global is the [global] table.
func (k conduwuitKind) global(b *builder, unit string, turn *homeserverTURN) obj {
	c, hs := b.cfg, b.cfg.Homeserver
	reg := hs.Registration
	g := obj{
		"server_name":   c.Domain,
		"database_path": conduwuitDataTarget,
		"address":       []any{"0.0.0.0"},
		"port":          conduwuitPort,
		// Bytes: the proxy allows the same body size.
		"max_request_size":   int64(hs.MaxUploadSizeMB) << 20,
		"allow_registration": reg.Mode != "closed",
		"allow_federation":   hs.Federation.Enabled,
		"trusted_servers":    plan.AnyList(hs.TrustedKeyServers),
		"auto_join_rooms":    plan.AnyList(hs.AutoJoinRooms),
		// The default puts a flag after every new user's display name.
		"new_user_displayname_suffix": "",
		"allow_local_presence":        hs.Presence,
		"allow_incoming_presence":     hs.Presence,
		"allow_outgoing_presence":     hs.Presence,
	}
	if reg.Mode == "token" {
		g["registration_token_file"] = secretMount(unit + "-registration-token")
	}
	if reg.Mode == "open" && reg.AllowUnverified {
		g["yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse"] = true
	}
	if c.Synapse.URLPreviews.Enabled {
		// Previews are off until some domain is allowed; the default
		// ip_range_denylist keeps private addresses out.
		g["url_preview_domain_contains_allowlist"] = []any{"*"}
	}
	if turn != nil {
		g["turn_uris"] = plan.AnyList(turn.uris)
		g["turn_secret_file"] = secretMount(turn.secret)
		g["turn_ttl"] = turnSeconds(turn.lifetime)
	}
	if k.appserviceDir && len(appserviceRegistrations(b)) > 0 {
		g["appservice_dir"] = appserviceDir
	}
	if c.Mailer.Enabled {
		m := c.Mailer
		g["smtp"] = obj{
			"connection_uri": fmt.Sprintf("smtp://%s:%d", mailerUnit, mailerPort),
			"sender":         fmt.Sprintf("%s <%s>", m.SenderName, m.Sender),
		}
	}
	return g
}

// turnSeconds reads a lifetime as homeserver.turn gives it ("1h", "90m"):
// the schema allows a number and one of ms, s, m, h, d, w, y.
func turnSeconds(lifetime string) int {
	m := lifetimePattern.FindStringSubmatch(lifetime)
	if m == nil {
		panic("homeserver.turn.user_lifetime " + lifetime + " passed the schema")
	}
	n, _ := strconv.Atoi(m[1])
	seconds := map[string]int{"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
	if m[2] == "ms" {
		return max(n/1000, 1)
	}
	return n * seconds[m[2]]
}

var lifetimePattern = regexp.MustCompile(`^([0-9]+)(ms|s|m|h|d|w|y)$`)
