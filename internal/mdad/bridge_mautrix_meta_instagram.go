package mdad

// The playbook's mautrix_meta_instagram role becomes bridges.mautrix-meta-instagram.
var _ = registerBridgeKind(&bridgeKind{
	name: "mautrix-meta-instagram", typ: "mautrix-meta-instagram", role: "mautrix_meta_instagram",
	id: "instagram", bot: "instagrambot", userPrefix: "instagram_", database: "matrix_mautrix_meta_instagram", ourID: "instagram",
	// Both Meta bridges derive their database password with one salt.
	salts:     bridgeSalts{as: "mau.meta.ig.as", hs: "mau.meta.ig.hs", db: "mau.fb.db", provisioning: "mau.meta.ig.prov"},
	pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/meta", tagPrefix: "ig-",
	mautrix: true, bridgev2: true, relay: true, botVar: "appservice_username", logVar: "logging_min_level",
	dbSaltNeedsBundled: true, prefixVar: "bridge_username_prefix", sqliteWithoutPostgres: true,
})
