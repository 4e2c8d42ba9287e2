package compile

import (
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// bridgeTypes are the components of the bridge types, by the type's name
// in the schema (schema/bridge_*.cue). Each type's own file registers its
// component (registerBridgeType in an init), so adding a type touches no
// file shared with the others.
var bridgeTypes = map[string]func(*builder, bridge){}

// registerBridgeType makes add the component of the bridge type typ.
func registerBridgeType(typ string, add func(*builder, bridge)) {
	if _, taken := bridgeTypes[typ]; taken {
		panic("bridge type " + typ + " registered twice")
	}
	bridgeTypes[typ] = add
}

// bridge is one enabled entry of bridges, as its component sees it.
type bridge struct {
	name string // the instance name
	config.Bridge
	unit string // its unit and container, also its address on the networks
	dir  string // its directory on the host
}

func (br bridge) configDir() string { return br.dir + "/config" }

// option is the config path of one of the entry's options.
func (br bridge) option(name string) plan.Origin {
	return plan.Origin("bridges." + br.name + "." + name)
}

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
		b.origin = plan.Origin("bridges." + name)
		b.dir(br.dir, 0o750)
		b.dir(br.configDir(), 0o750)
		add(b, br)
	}
}
