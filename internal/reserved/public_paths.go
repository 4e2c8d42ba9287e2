package reserved

// A bridge or bot type whose program serves the public at a path it fixes
// itself claims that path on the homeserver's hostname, from a file of its
// own here (bridge_<type>.go, bot_<type>.go). Two instances of such a type
// would claim the same path, so a server runs one: validate refuses a
// second, the generated benchmark configs add one, and compile routes the
// path.
var (
	bridgePublicPaths = map[string]string{}
	botPublicPaths    = map[string]string{}
)

func claimBridgePath(bridgeType, path string) { claim(bridgePublicPaths, bridgeType, path) }

func claimBotPath(botType, path string) { claim(botPublicPaths, botType, path) }

func claim(paths map[string]string, typ, path string) {
	if _, taken := paths[typ]; taken {
		panic("type " + typ + " claims a public path twice")
	}
	paths[typ] = path
}

// BridgePublicPath is the path a bridge type fixes, "" for none.
func BridgePublicPath(bridgeType string) string { return bridgePublicPaths[bridgeType] }

// BotPublicPath is the path a bot type fixes, "" for none.
func BotPublicPath(botType string) string { return botPublicPaths[botType] }
