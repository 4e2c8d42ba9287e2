package validate

import (
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

// botRules are the rules that span bots, and bots and the rest of the
// config. They run as one rule of semanticRules; the uniqueness of
// databases and host ports is checked over bridges and bots together
// (semantic_bridges.go).
var botRules = []rule{
	botNamesFree,
	botPublicPathsUnique,
	botExtraLeavesWiring,
}

func botChecks(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, r := range botRules {
		out = append(out, r(c, ix)...)
	}
	return out
}

// entry is an enabled bridge or bot, as the rules that span both see it.
type entry struct {
	path     string // bridges.<name> or bots.<name>
	database string // "" without a database of its own
	hostPort int    // 0 when it publishes nothing
}

// bridgesAndBots lists the enabled bridges, then the enabled bots, each in
// name order: the first to claim a value keeps it.
func bridgesAndBots(c *config.Config) []entry {
	var out []entry
	for _, name := range c.Bridges.Enabled() {
		b := c.Bridges[name]
		out = append(out, entry{joinPath("bridges", name), b.DatabaseName, b.HostPort})
	}
	for _, name := range c.Bots.Enabled() {
		b := c.Bots[name]
		out = append(out, entry{joinPath("bots", name), b.DatabaseName, b.HostPort})
	}
	return out
}

// botNamesFree: a bot's unit (matrix-<name>) and directory
// (<data_dir>/<name>) must be no other part's, nor a bridge's, whether
// that bridge runs or not: a disabled bridge's data stays in its directory.
func botNamesFree(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, name := range c.Bots.Names() {
		what, taken := reservedFor(name)
		if _, bridge := c.Bridges[name]; bridge {
			what, taken = "bridges."+name, true
		}
		if taken {
			out = append(out, nameTaken(c, ix, joinPath("bots", name), name, what))
		}
	}
	return out
}

// botPublicPathsUnique: two bots serving one public path cannot both be
// routed to.
func botPublicPathsUnique(c *config.Config, ix *index) diag.List {
	var out diag.List
	taken := firstClaim{}
	for _, name := range c.Bots.Enabled() {
		typ := c.Bots[name].Type
		p := reserved.BotPublicPath(typ)
		if p == "" {
			continue
		}
		if prev, dup := taken.take(p, name); dup {
			out = append(out, problem(ix, joinPath(joinPath("bots", name), "type"),
				"bots.%s serves %s already, which this one would need too; one %s runs any number of bots", prev, p, typ)...)
		}
	}
	return out
}

// BotWiring tells whether a key (a dotted path) of a bot type's config is
// one matrixgen writes itself, and which option sets it ("" for none).
func BotWiring(botType, key string) (option string, wired bool) {
	option, wired = botTypeRules[botType].wiring[key]
	return option, wired
}

func botExtraLeavesWiring(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, name := range c.Bots.Names() {
		b := c.Bots[name]
		out = append(out, extraLeavesWiring(ix, joinPath("bots", name), b.Extra, botTypeRules[b.Type].wiring,
			"other parts of the bundle rely on it")...)
	}
	return out
}
