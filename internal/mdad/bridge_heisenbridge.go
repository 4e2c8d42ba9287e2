package mdad

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/reserved"
)

// heisenbridge: the playbook's role becomes bridges.heisenbridge, with
// the owner vars.yml names.
var _ = registerBridgeKind(&bridgeKind{
	name: "heisenbridge", typ: "heisenbridge", role: "heisenbridge",
	id: "heisenbridge", bot: "heisenbridge", userPrefix: "hbirc_", ourID: "heisenbridge",
	ourBotName: "heisenbridge", ourPrefix: "irc_",
	salts: bridgeSalts{as: "heisen.as.tok", hs: "heisen.hs.tok"},
	image: "docker.io/hif1/heisenbridge",

	refusal: (*bridgeRun).heisenbridgeRefusal,
	options: (*bridgeRun).heisenbridge,
	extra:   (*bridgeRun).heisenbridgeExtra,
	left:    (*bridgeRun).heisenbridgeLeft,
	noOption: func(b *bridgeRun) string {
		return "matrixgen has no option for it; bridges." + b.k.name + ".extra goes into the heisenbridge block of its registration"
	},
})

// heisenbridgeRefusal: matrixgen's heisenbridge is told its owner, whom
// the playbook's may have learnt only at run time.
func (b *bridgeRun) heisenbridgeRefusal() string {
	owner, v, err := b.text("owner")
	if err != nil {
		return fmt.Sprintf("%s (line %d) cannot be read: %v", v.name, v.line, err)
	}
	if owner == "" {
		return fmt.Sprintf("matrixgen's heisenbridge needs its owner (bridges.%s.owner), and vars.yml names none (%sowner): the playbook's bridge belongs to the first local user who talked to it; add the bridge by hand with that user as its owner", b.k.name, b.prefix)
	}
	return ""
}

func (b *bridgeRun) heisenbridge() {
	if v, n, ok := b.take("owner"); ok {
		if owner, err := str(n); err == nil {
			b.set("owner", owner, v)
		} else {
			b.t.notTranslated(v, err.Error())
		}
	}
	if v, on, ok := b.takeBool("identd_enabled"); ok {
		if on {
			b.t.notTranslated(v, "matrixgen's heisenbridge runs no identd (the playbook's answers on port 113)")
		} else {
			b.t.readVar(v, "no identd, as matrixgen's")
		}
	}
}

func (b *bridgeRun) heisenbridgeExtra(put putExtra) {
	if v, n, ok := b.take("config_displayname"); ok {
		if val, err := str(n); err == nil {
			put("displayname", val, v)
		} else {
			b.t.notTranslated(v, err.Error())
		}
	}
}

// heisenbridgeLeft: the media proxy's path is matrixgen's.
func (b *bridgeRun) heisenbridgeLeft(v *variable, suffix string) bool {
	if suffix != "path_prefix" && !strings.HasPrefix(suffix, "container_labels_traefik_media") {
		return false
	}
	b.t.notTranslated(v, "matrixgen serves heisenbridge's media proxy at "+reserved.HeisenbridgeMedia+" on the homeserver's hostname; links the playbook's bridge gave out under another path stop working")
	return true
}
