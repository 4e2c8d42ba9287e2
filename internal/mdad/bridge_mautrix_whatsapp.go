package mdad

// The playbook's mautrix_whatsapp role becomes bridges.mautrix-whatsapp.
var _ = registerBridgeKind(&bridgeKind{
	name: "mautrix-whatsapp", typ: "mautrix-whatsapp", role: "mautrix_whatsapp",
	id: "whatsapp", bot: "whatsappbot", userPrefix: "whatsapp_", database: "matrix_mautrix_whatsapp", ourID: "whatsapp",
	salts:     bridgeSalts{as: "wa.as.token", hs: "wa.hs.token", db: "mauwhatsapp.db", provisioning: "wa.prov"},
	pickleKey: pickleKeyWhatsapp, image: "dock.mau.dev/mautrix/whatsapp",
	mautrix: true, bridgev2: true, relay: true, botVar: "appservice_bot_username", logVar: "logging_level",
	sqliteWithoutPostgres: true,
})
