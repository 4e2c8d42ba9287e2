package compile

func init() { registerBridgeType("mautrix-signal", addMautrixSignal) }

// addMautrixSignal: the Signal bridge keeps all its state (the Signal
// keys too) in its database.
func addMautrixSignal(b *builder, br bridge) {
	addMautrixBridgev2(b, br, mautrixNetwork{
		description: "mautrix-signal bridge",
		binary:      "/usr/bin/mautrix-signal",
		port:        29328,
		network:     obj{},
	})
}
