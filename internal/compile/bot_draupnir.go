package compile

import (
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

func init() { registerBotType("draupnir", addDraupnir) }

// Where Draupnir's container sees its files. The config directory is not
// the image's NODE_CONFIG_DIR (/data/config) below the data directory,
// so that no mount lies inside another.
const (
	draupnirConfigDir  = "/config"
	draupnirConfigFile = draupnirConfigDir + "/production.yaml"
	draupnirDataDir    = "/data"
	// Its web API takes upstream's 8080 when turned on through extra, so
	// the health listener takes another port.
	draupnirHealthPort = 8081
)

// draupnirOptions are Draupnir's own options (schema/bot_draupnir.cue).
type draupnirOptions struct {
	ManagementRoom string `json:"management_room"`
	LogLevel       string `json:"log_level"`
}

// addDraupnir adds Draupnir in bot mode: a client of the homeserver with a
// user and an access token of its own, state in files under its data
// directory, no database. Its requests go to the main Synapse process (or
// Traefik's internal entrypoint) on the homeserver network, never through
// the public hostname, so the admin API under /_synapse/admin is always
// reachable for it, whatever reverse_proxy.admin_api says; Synapse only
// answers it once its user is a server admin (docs/bridges.md, Bots).
func addDraupnir(b *builder, bt bot) {
	var opts draupnirOptions
	bt.DecodeOptions(&opts)
	token := b.providedSecret(bt.name+"-access-token",
		"access token of "+bt.name+"'s Matrix user (docs/bridges.md, Bots)", bt.unit)
	homeserver := b.clientAPIURL()
	cfg := obj{
		"homeserverUrl": homeserver,
		// For reports and the admin API: the same process, which serves
		// both, as no Pantalaimon sits in between.
		"rawHomeserverUrl": homeserver,
		"dataPath":         draupnirDataDir,
		"managementRoom":   opts.ManagementRoom,
		"logLevel":         strings.ToUpper(opts.LogLevel),
		"health": obj{"healthz": obj{
			"enabled": true, "address": "127.0.0.1", "port": draupnirHealthPort, "endpoint": "/healthz",
		}},
	}
	b.file(plan.File{
		Path: bt.configDir() + "/production.yaml", Format: plan.YAML,
		Value: deepMerge(cfg, bt.Extra), Restarts: []string{bt.unit},
	})
	b.service(plan.Service{
		Unit:        bt.unit,
		Description: bt.description("Draupnir moderation bot"),
		Image:       bt.Image,
		// The image's entrypoint runs the bot for "bot"; the token is read
		// from its file, so the config holds no secret.
		Command: []string{"bot", "--draupnir-config", draupnirConfigFile, "--access-token-path", secretMount(string(token))},
		// The config library Draupnir loads reads its directory at start.
		Env: []plan.EnvVar{{Name: "NODE_CONFIG_DIR", Value: draupnirConfigDir}},
		Mounts: []plan.Mount{
			{Source: bt.configDir(), Target: draupnirConfigDir, ReadOnly: true},
			{Source: bt.dataDir(), Target: draupnirDataDir},
			b.secretFileMount(string(token)),
		},
		Tmpfs:    []string{"/tmp"},
		Networks: []string{b.cfg.Host.Networks.Homeserver},
		Listens:  []plan.Listen{{Name: "health", Port: draupnirHealthPort}},
		Wants:    []string{b.homeserverUnit()},
	})
	// Healthy once Draupnir has joined its rooms and processes commands,
	// which proves the token and the management room. On a large server
	// that takes minutes. The image has Node, not curl.
	b.health(bt.unit, 600, "docker", "exec", bt.unit, "node", "-e", draupnirHealthScript)
}

// draupnirHealthScript exits 0 when the healthz endpoint says healthy.
var draupnirHealthScript = "require('http').get('http://127.0.0.1:" + itoa(draupnirHealthPort) +
	"/healthz', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"
