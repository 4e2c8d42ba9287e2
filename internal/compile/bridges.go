package compile

import (
	"github.com/matrixgen/matrixgen/internal/config"
)

// bridgeTypes are the components of the bridge types, by the type's name
// in the schema (schema/bridge_*.cue); adding a bridge adds a line here.
var bridgeTypes = map[string]func(*builder, bridge){
	"heisenbridge":           addHeisenbridge,
	"matrix-hookshot":        addMatrixHookshot,
	"mautrix-bluesky":        addMautrixBluesky,
	"mautrix-discord":        addMautrixDiscord,
	"mautrix-gmessages":      addMautrixGmessages,
	"mautrix-meta-instagram": addMautrixMetaInstagram,
	"mautrix-meta-messenger": addMautrixMetaMessenger,
	"mautrix-signal":         addMautrixSignal,
	"mautrix-slack":          addMautrixSlack,
	"mautrix-telegram":       addMautrixTelegram,
	"mautrix-whatsapp":       addMautrixWhatsapp,
}

// bridge is one enabled entry of bridges, as its component sees it.
type bridge struct {
	name string // the instance name
	config.Bridge
	unit string // its unit and container, also its address on the networks
	dir  string // its directory on the host
}

func (br bridge) configDir() string { return br.dir + "/config" }

func hasBridges(c *config.Config) bool { return len(c.Bridges.Enabled()) > 0 }

// addBridges runs each enabled bridge's component. It comes after
// Synapse's, which mounts the registrations these write, and before the
// workers', which copy Synapse's mounts and follow its restarts.
func addBridges(b *builder) {
	for _, name := range b.cfg.Bridges.Enabled() {
		cfg := b.cfg.Bridges[name]
		add, ok := bridgeTypes[cfg.Type]
		if !ok {
			panic("no component for bridge type " + cfg.Type) // the schema and this table disagree
		}
		br := bridge{name: name, Bridge: cfg, unit: "matrix-" + name, dir: b.dataPath(name)}
		b.dir(br.dir, 0o750)
		b.dir(br.configDir(), 0o750)
		add(b, br)
	}
}
