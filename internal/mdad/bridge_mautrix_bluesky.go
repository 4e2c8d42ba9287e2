package mdad

// The playbook's mautrix_bluesky role becomes bridges.mautrix-bluesky.
var _ = registerBridgeKind(&bridgeKind{
	name: "mautrix-bluesky", typ: "mautrix-bluesky", role: "mautrix_bluesky",
	id: "bluesky", bot: "blueskybot", userPrefix: "bluesky_", database: "matrix_mautrix_bluesky", ourID: "bluesky",
	// The playbook's salt for this database is the Twitter bridge's.
	salts:     bridgeSalts{as: "bsky.as.token", hs: "bsky.hs.token", db: "mau.twt.db", provisioning: "mau.bsky.prov"},
	pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/bluesky",
	mautrix: true, bridgev2: true, botVar: "appservice_bot_username", logVar: "logging_level",
	dbSaltNeedsBundled: true,
})
