package compile

func init() { registerBridgeType("mautrix-meta-messenger", addMautrixMetaMessenger) }

// addMautrixMetaMessenger: Facebook Messenger through mautrix-meta, whose image runs the Messenger bridge (Instagram has an image and type of its own). Logins are cookies of Messenger's web client, kept in its database.
func addMautrixMetaMessenger(b *builder, br bridge) {
	addMautrixBridgev2(b, br, mautrixNetwork{
		description: "mautrix-meta Messenger bridge",
		binary:      "/usr/bin/mautrix-meta",
		port:        29319,
		network:     obj{},
	})
}
