package mdad

// The playbook's mautrix_gmessages role becomes bridges.mautrix-gmessages.
var _ = registerBridgeKind(&bridgeKind{
	name: "mautrix-gmessages", typ: "mautrix-gmessages", role: "mautrix_gmessages",
	id: "gmessages", bot: "gmessagesbot", userPrefix: "gmessages_", database: "matrix_mautrix_gmessages", ourID: "gmessages",
	salts:     bridgeSalts{as: "gmessa.as.token", hs: "gmessa.hs.token", db: "maugmessages.db", provisioning: "gmessa.prov"},
	pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/gmessages",
	mautrix: true, bridgev2: true, botVar: "appservice_bot_username", logVar: "logging_level",
	prefixVar: "appservice_username_template", templated: true, sqliteWithoutPostgres: true,
})
