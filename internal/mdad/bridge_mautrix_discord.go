package mdad

// The playbook's mautrix_discord role becomes bridges.mautrix-discord.
var _ = registerBridgeKind(&bridgeKind{
	name: "mautrix-discord", typ: "mautrix-discord", role: "mautrix_discord",
	id: "discord", bot: "discordbot", userPrefix: "discord_", database: "matrix_mautrix_discord", ourID: "discord",
	salts:   bridgeSalts{as: "maudisc.as.tok", hs: "maudisc.hs.tok", db: "maudiscord.db", avatar: "maudisc.avatar"},
	image:   "dock.mau.dev/mautrix/discord",
	mautrix: true, starRelay: true, botVar: "appservice_bot_username", logVar: "logging_level",
	prefixVar: "bridge_username_template", templated: true, sqliteWithoutPostgres: true,
})
