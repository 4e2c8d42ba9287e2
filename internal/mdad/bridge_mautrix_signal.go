package mdad

// The playbook's mautrix_signal role becomes bridges.mautrix-signal.
var _ = registerBridgeKind(&bridgeKind{
	name: "mautrix-signal", typ: "mautrix-signal", role: "mautrix_signal",
	id: "signal", bot: "signalbot", userPrefix: "signal_", database: "matrix_mautrix_signal", ourID: "signal",
	salts:     bridgeSalts{as: "si.as.token", hs: "si.hs.token", db: "mau.signal.db", provisioning: "mau.signal.prov", publicMedia: "mau.signal.pmed"},
	pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/signal",
	mautrix: true, bridgev2: true, relay: true, botVar: "appservice_bot_username", logVar: "logging_level",
	sqliteWithoutPostgres: true,
})
