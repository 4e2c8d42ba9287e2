package compile

func init() { registerBridgeType("mautrix-slack", addMautrixSlack) }

// addMautrixSlack: the Slack bridge keeps its logins (tokens and cookies of Slack's web client, or an app's tokens) in its database.
func addMautrixSlack(b *builder, br bridge) {
	addMautrixBridgev2(b, br, mautrixNetwork{
		description: "mautrix-slack bridge",
		binary:      "/usr/bin/mautrix-slack",
		port:        29335,
		network:     obj{},
	})
}
