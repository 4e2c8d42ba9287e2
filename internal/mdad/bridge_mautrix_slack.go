package mdad

// The playbook's mautrix_slack role becomes bridges.mautrix-slack.
var _ = registerBridgeKind(&bridgeKind{
	name: "mautrix-slack", typ: "mautrix-slack", role: "mautrix_slack",
	id: "slack", bot: "slackbot", userPrefix: "slack_", database: "matrix_mautrix_slack", ourID: "slack",
	salts:     bridgeSalts{as: "mauslack.as.tok", hs: "mauslack.hs.tok", db: "mauslack.db", provisioning: "mau.slack.prov", publicMedia: "mau.slack.pmed"},
	pickleKey: pickleKeyWhatsapp, image: "dock.mau.dev/mautrix/slack",
	mautrix: true, bridgev2: true, relay: true, botVar: "appservice_bot_username", logVar: "logging_level",
	sqliteWithoutPostgres: true,
})
