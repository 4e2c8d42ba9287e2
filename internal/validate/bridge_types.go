package validate

import (
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// bridgeTypeRule is what validation knows of one bridge type beyond its
// schema. The mautrix bridges share theirs (mautrix.go builds their
// configs alike); a bridge of another kind declares its own in its own
// file (bridge_<type>.go), so that adding one touches no shared file here.
type bridgeTypeRule struct {
	typeRule
	// check reports what else is wrong with one enabled instance.
	check func(name string, br config.Bridge, ix *index) diag.List
}

// typeRule is what bridge and bot types alike may declare. A fixed
// public path is declared in internal/reserved, which compile reads too.
type typeRule struct {
	// wiring are the config keys matrixgen writes itself (with the
	// option to set instead, or ""); for a bridge, nil means the mautrix
	// bridges' own.
	wiring map[string]string
}

// bridgeTypeRules and botTypeRules are the types that declare a rule, by
// type; bots declare theirs in bot_<type>.go.
var (
	bridgeTypeRules = map[string]bridgeTypeRule{}
	botTypeRules    = map[string]typeRule{}
)

func declareBridgeType(typ string, r bridgeTypeRule) { bridgeTypeRules[typ] = r }

func declareBotType(typ string, r typeRule) { botTypeRules[typ] = r }

// wiringOf is the keys of a bridge type's config that extra may not set.
func wiringOf(bridgeType string) map[string]string {
	if w := bridgeTypeRules[bridgeType].wiring; w != nil {
		return w
	}
	return bridgeWiring
}

// bridgeTypeChecks runs each enabled bridge's own check.
func bridgeTypeChecks(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, name := range c.Bridges.Enabled() {
		br := c.Bridges[name]
		if check := bridgeTypeRules[br.Type].check; check != nil {
			out = append(out, check(name, br, ix)...)
		}
	}
	return out
}
