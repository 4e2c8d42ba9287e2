package compile

func init() { registerBridgeType("mautrix-gmessages", addMautrixGmessages) }

// addMautrixGmessages: the Google Messages bridge pairs with the Messages app on the user's phone, like Messages for web, and keeps the pairing in its database.
func addMautrixGmessages(b *builder, br bridge) {
	addMautrixBridgev2(b, br, mautrixNetwork{
		description: "mautrix-gmessages bridge",
		binary:      "/usr/bin/mautrix-gmessages",
		port:        29336,
		network:     obj{},
	})
}
