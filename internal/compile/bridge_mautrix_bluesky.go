package compile

func init() { registerBridgeType("mautrix-bluesky", addMautrixBluesky) }

// addMautrixBluesky: the Bluesky bridge bridges direct messages; it logs in with a handle and an app password, kept in its database.
func addMautrixBluesky(b *builder, br bridge) {
	addMautrixBridgev2(b, br, mautrixNetwork{
		description: "mautrix-bluesky bridge",
		binary:      "/usr/bin/mautrix-bluesky",
		port:        29340,
		network:     obj{},
	})
}
