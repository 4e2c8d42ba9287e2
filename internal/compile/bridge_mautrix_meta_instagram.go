package compile

func init() { registerBridgeType("mautrix-meta-instagram", addMautrixMetaInstagram) }

// addMautrixMetaInstagram: Instagram direct messages through mautrix-meta's Instagram image (the ig- tags), which runs the separate mautrix-instagram program. Logins are cookies of Instagram's web client, kept in its database.
func addMautrixMetaInstagram(b *builder, br bridge) {
	addMautrixBridgev2(b, br, mautrixNetwork{
		description: "mautrix-meta Instagram bridge",
		binary:      "/usr/bin/mautrix-instagram",
		port:        29330,
		network:     obj{},
	})
}
