package validate

import "fmt"

// Options that moved or went away, so that an old config fails with the
// option to use instead rather than a bare "unknown option". An entry
// stays for good: removing it would turn a helpful message back into a
// puzzle for whoever upgrades late.
var (
	// renamed maps an old option path to its new one.
	renamed = map[string]string{
		// Federation's port is the homeserver's, whichever proxy serves it.
		"traefik.federation_port": "synapse.federation.port",
	}
	// removed maps an option that has no successor to what to do instead.
	removed = map[string]string{}
)

// movedOption explains an unknown option that used to exist.
func movedOption(path string) (summary, detail string, ok bool) {
	if to, ok := renamed[path]; ok {
		return "option renamed", fmt.Sprintf("it is now %s", to), true
	}
	if instead, ok := removed[path]; ok {
		return "option removed", instead, true
	}
	return "", "", false
}
