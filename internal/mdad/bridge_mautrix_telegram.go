package mdad

// The playbook's mautrix_telegram role becomes bridges.mautrix-telegram.
var _ = registerBridgeKind(&bridgeKind{
	name: "mautrix-telegram", typ: "mautrix-telegram", role: "mautrix_telegram",
	id: "telegram", bot: "telegrambot", userPrefix: "telegram_", database: "matrix_mautrix_telegram", ourID: "telegram",
	salts:     bridgeSalts{as: "telegr.as.token", hs: "telegr.hs.token", db: "mau.telegram.db", provisioning: "mau.telegram.prov"},
	pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/telegram",
	mautrix: true, bridgev2: true, relay: true, botVar: "appservice_bot_username", logVar: "logging_level",
	sqliteWithoutPostgres: true,
	// The API ID and hash of the operator's Telegram app.
	secretVars: []string{"api_id", "api_hash"},
	secrets:    (*bridgeRun).telegramSecrets,
})

// telegramSecrets: the Telegram app is the operator's, so install.sh
// cannot make its ID and hash.
func (b *bridgeRun) telegramSecrets() []secretPlan {
	n := b.k.name
	return []secretPlan{
		{name: n + "-api-id", suffix: "api_id", provided: true},
		{name: n + "-api-hash", suffix: "api_hash", provided: true},
	}
}
