package compile

func init() { registerBridgeType("mautrix-whatsapp", addMautrixWhatsapp) }

// addMautrixWhatsapp: the WhatsApp bridge keeps all its state (the
// WhatsApp sessions too) in its database; its own options stay at
// upstream's defaults unless bridges.<name>.extra.network sets them.
func addMautrixWhatsapp(b *builder, br bridge) {
	addMautrixBridgev2(b, br, mautrixNetwork{
		description: "mautrix-whatsapp bridge",
		binary:      "/usr/bin/mautrix-whatsapp",
		port:        29318,
		network:     obj{},
	})
}
