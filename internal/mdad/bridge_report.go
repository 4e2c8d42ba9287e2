package mdad

import (
	"fmt"
	"strings"
)

// What the bridge stage reports rather than translates.

// reportBridgeGlobals reports the variables for all bridges that no
// bridge's option names.
func (t *translator) reportBridgeGlobals(g *bridgeGlobals) {
	for _, v := range t.bridgeVars {
		if bridgeVarOfKind(v.name) || g.handled[v] || t.outcome[v] {
			continue
		}
		switch v.name {
		case varAdmin, varEncryption, varEncryptionOn, varRelay:
			if !g.anyMautrix {
				t.readVar(v, "it concerns the mautrix bridges, and this config has none")
			} else {
				t.readVar(v, "no translated bridge takes it: each sets its own, or it is off as in matrixgen's bridges")
			}
		case varDoublePuppet:
			switch {
			case !g.anyMautrix:
				t.readVar(v, "it concerns the mautrix bridges, and this config has none")
			case g.doublePuppet:
				t.readVar(v, "the bridges double-puppet, as matrixgen's do by default (docs/bridges.md)")
			default:
				t.readVar(v, "off, so the bridges do not double-puppet")
			}
		case varDoublePuppetAS, varDoublePuppetHS:
			t.notTranslated(v, "no translated bridge double-puppets, so the bundle has no double-puppeting appservice to give it to")
		case "matrix_bridges_exposure_enabled":
			t.reportSwitch(v, whyNotExposed, "the bridges' HTTP APIs are not published, as in matrixgen")
		case "matrix_bridges_exposure_hostname", "matrix_bridges_exposure_path_prefix":
			if on, set := t.flag("matrix_bridges_exposure_enabled"); set && !on {
				t.readVar(v, "the bridges' HTTP APIs are not published (matrix_bridges_exposure_enabled), as in matrixgen")
			} else {
				t.notTranslated(v, whyNotExposed)
			}
		default:
			if strings.HasPrefix(v.name, "matrix_appservice_double_puppet_") {
				t.notTranslated(v, "matrixgen registers a double-puppeting appservice of its own (docs/bridges.md) and has no option for it")
			} else {
				t.notTranslated(v, "matrixgen has no option for it; a setting of a bridge's own config can go into bridges.NAME.extra")
			}
		}
	}
}

const whyNotExposed = "matrixgen does not publish the bridges' HTTP APIs (the playbook's /bridges/… paths for tools such as mautrix-manager)"

// reportSwitch reports a true/false variable for something matrixgen does
// not do: on, it is not translated; off, there is nothing to carry over.
func (t *translator) reportSwitch(v *variable, whyOn, whyOff string) {
	n, err := t.r.variable(v.name)
	on := false
	if err == nil {
		on, err = toBool(n)
	}
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case on:
		t.notTranslated(v, whyOn)
	default:
		t.readVar(v, whyOff)
	}
}

// reportLeft reports what a translated bridge's variables set that
// matrixgen has no option for.
func (b *bridgeRun) reportLeft() {
	b.reportStale()
	for _, v := range b.left() {
		suffix := strings.TrimPrefix(v.name, b.prefix)
		if b.k.left != nil && b.k.left(b, v, suffix) {
			continue
		}
		switch {
		case suffix == "exposure_enabled":
			b.t.reportSwitch(v, whyNotExposed, "off, as in matrixgen")
		case suffix == "container_image_self_build":
			b.t.reportSwitch(v, "matrixgen runs published images and builds none; set bridges."+b.k.name+".image to an image you build", "off, as in matrixgen")
		case strings.HasPrefix(suffix, "container_") || strings.HasPrefix(suffix, "systemd_"):
			b.t.notTranslated(v, "matrixgen has no option for it: the bundle's units and containers are its own (docs/bridges.md)")
		case b.k.noOption != nil:
			b.t.notTranslated(v, b.k.noOption(b))
		default:
			b.t.notTranslated(v, fmt.Sprintf("matrixgen has no option for it; a setting of the bridge's own config can go into bridges.%s.extra (the playbook's config is /matrix/%s/config/config.yaml on the server)", b.k.name, b.k.name))
		}
	}
}
