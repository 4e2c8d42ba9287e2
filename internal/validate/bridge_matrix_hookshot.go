package validate

import (
	"slices"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

func init() {
	declareBridgeType("matrix-hookshot", bridgeTypeRule{typeRule: typeRule{
		wiring: map[string]string{
			"bridge.url": "", "bridge.domain": "domain", "bridge.port": "", "bridge.bindAddress": "",
			"generic.userIdPrefix": "username_prefix",
			// Host secrets, mounted or filled in by install.sh, which a
			// value in extra would replace with one in the bundle.
			"passFile": "", "github.auth.id": "github.app_id", "github.auth.privateKeyFile": "",
			"github.webhook.secret": "", "github.oauth": "github.oauth", "gitlab.webhook.secret": "",
		}},
		check: hookshotServes,
	})
}

// hookshotServices are the sections of hookshot's config that turn on a
// service of it, through its options or extra.
var hookshotServices = []string{"generic", "feeds", "github", "gitlab", "jira", "figma", "openProject", "challengeHound"}

// hookshotServes: hookshot refuses to start without a service.
func hookshotServes(name string, br config.Bridge, ix *index) diag.List {
	if br.Options["webhooks"] == true || br.Options["feeds"] == true ||
		br.Options["github"] != nil || br.Options["gitlab"] != nil ||
		slices.ContainsFunc(hookshotServices, func(s string) bool { return br.Extra[s] != nil }) {
		return nil
	}
	return problem(ix, bridgePath(name, "webhooks"),
		"hookshot refuses to start without a service: turn on webhooks or feeds, set github or gitlab, or configure another service through extra")
}
