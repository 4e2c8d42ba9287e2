package compile

import (
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// botTypes are the components of the bot types, by the type's name in the
// schema (schema/bot_*.cue), each registered from the type's own file
// (registerBotType in an init).
var botTypes = map[string]func(*builder, bot){}

// registerBotType makes add the component of the bot type typ.
func registerBotType(typ string, add func(*builder, bot)) {
	if _, taken := botTypes[typ]; taken {
		panic("bot type " + typ + " registered twice")
	}
	botTypes[typ] = add
}

// bot is one enabled entry of bots, as its component sees it. Bots are
// Matrix clients with users of their own, not appservices: Synapse knows
// nothing of them, and they reach it like any client.
type bot struct {
	name string // the instance name
	config.Bot
	unit string // its unit and container, also its address on the networks
	dir  string // its directory on the host
}

func (bt bot) configDir() string { return bt.dir + "/config" }

// option is the config path of one of the entry's options.
func (bt bot) option(name string) plan.Origin { return plan.Origin("bots." + bt.name + "." + name) }

// dataDir holds what the bot writes; everything else it sees is read-only.
func (bt bot) dataDir() string { return bt.dir + "/data" }

func hasBots(c *config.Config) bool { return len(c.Bots.Enabled()) > 0 }

// addBots runs each enabled bot's component.
func addBots(b *builder) {
	for _, name := range b.cfg.Bots.Enabled() {
		cfg := b.cfg.Bots[name]
		add, ok := botTypes[cfg.Type]
		if !ok {
			panic("no component for bot type " + cfg.Type) // the schema and this table disagree
		}
		bt := bot{name: name, Bot: cfg, unit: "matrix-" + name, dir: b.dataPath(name)}
		b.origin = plan.Origin("bots." + name)
		for _, d := range []string{bt.dir, bt.configDir(), bt.dataDir()} {
			b.dir(d, 0o750)
		}
		add(b, bt)
	}
}

// description names the instance when it is not named after its type.
func (bt bot) description(what string) string {
	if bt.name == bt.Type {
		return what
	}
	return what + " (" + bt.name + ")"
}
