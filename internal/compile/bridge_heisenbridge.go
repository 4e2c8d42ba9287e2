package compile

import (
	"regexp"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

func init() { registerBridgeType("heisenbridge", addHeisenbridge) }

const heisenbridgePort = 9898

// heisenbridgeOptions are heisenbridge's own options
// (schema/bridge_heisenbridge.cue).
type heisenbridgeOptions struct {
	Owner    string `json:"owner"`
	LogLevel string `json:"log_level"`
}

// addHeisenbridge: the IRC bridge has no config file and no database. It
// reads its registration, the homeserver's address and its owner from the
// command line, and keeps its networks and settings in the bot's account
// data on the homeserver.
func addHeisenbridge(b *builder, br bridge) {
	var opts heisenbridgeOptions
	br.DecodeOptions(&opts)
	as, hs := b.appserviceTokens(br)
	// Heisenbridge takes its users' prefix from the first user namespace
	// that is not its own bot, and wants it unanchored: @irc_.*
	users := "@" + regexp.QuoteMeta(br.UsernamePrefix) + ".*:" + regexp.QuoteMeta(b.cfg.Domain)
	// IRC users follow links to Matrix media through the bridge's media
	// proxy, on the homeserver's public hostname.
	own := deepMerge(obj{"media_url": "https://" + b.cfg.Hostnames.Homeserver}, br.Extra)
	b.writeRegistration(br, registration{
		id: br.AppserviceID, url: "http://" + br.unit + ":" + itoa(heisenbridgePort),
		asToken: as, hsToken: hs, senderLocalpart: br.BotUsername,
		users: []namespace{{regex: users, exclusive: true}},
		extra: obj{"heisenbridge": own},
	})
	args := []string{"-c", "/data/registration.yaml", "-o", opts.Owner}
	switch opts.LogLevel {
	case "info":
		args = append(args, "-v")
	case "debug":
		args = append(args, "-v", "-v")
	}
	b.service(plan.Service{
		Unit:        br.unit,
		Description: "Heisenbridge IRC bridge (" + br.name + ")",
		Image:       br.Image,
		// The image's entrypoint listens on every address of the container.
		Command:  append(args, b.clientAPIURL()),
		Mounts:   []plan.Mount{{Source: br.configDir(), Target: "/data", ReadOnly: true}},
		Tmpfs:    []string{"/tmp"},
		Networks: []string{b.cfg.Host.Networks.Homeserver, b.cfg.Host.Networks.Proxy},
		Listens:  []plan.Listen{{Name: "http", Port: heisenbridgePort, HostPort: br.HostPort, Origin: br.option("host_port")}},
		Wants:    []string{b.homeserverUnit()},
	})
	// Heisenbridge opens its listener once Synapse accepted its token; the
	// image has Python, not curl.
	b.health(br.unit, 300, "docker", "exec", br.unit, "python3", "-c",
		"import urllib.request; urllib.request.urlopen('http://localhost:"+itoa(heisenbridgePort)+"/_matrix/mau/live')")
	b.route(plan.Route{
		Name: br.unit + "-media", Host: b.cfg.Hostnames.Homeserver, PathPrefix: reserved.HeisenbridgeMedia,
		Entrypoint: plan.EntrypointClient, Service: br.unit, Port: heisenbridgePort,
	})
}
