package mdad

import "fmt"

// The playbook's mautrix_meta_messenger role becomes bridges.mautrix-meta-messenger.
var _ = registerBridgeKind(&bridgeKind{
	// The names here are those of the default meta_mode, messenger;
	// metaMode adjusts them to the others.
	name: "mautrix-meta-messenger", typ: "mautrix-meta-messenger", role: "mautrix_meta_messenger",
	id: "messenger", bot: "messengerbot", userPrefix: "messenger_", database: "matrix_mautrix_meta_messenger", ourID: "facebook",
	salts:     bridgeSalts{as: "mau.meta.fb.as", hs: "mau.meta.fb.hs", db: "mau.fb.db", provisioning: "mau.meta.fb.prov"},
	pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/meta",
	mautrix: true, bridgev2: true, relay: true, botVar: "appservice_username", logVar: "logging_min_level",
	dbSaltNeedsBundled: true, prefixVar: "bridge_username_prefix", sqliteWithoutPostgres: true,
	refusal: (*bridgeRun).metaMode,
	extra:   (*bridgeRun).metaExtra,
})

// metaMode reads the bridge's meta_mode, which names its appservice, user
// prefix and database; it says why a mode cannot be taken over.
func (b *bridgeRun) metaMode() string {
	mode, v, err := b.text("meta_mode")
	if err != nil {
		return fmt.Sprintf("%s (line %d) cannot be read: %v", v.name, v.line, err)
	}
	b.modeVar = v
	switch mode {
	case "", "messenger":
	case "facebook", "facebook-tor":
		b.id, b.userPrefix, b.dbName = "facebook", "facebook_", "matrix_mautrix_meta_facebook"
		b.own = mode
	default:
		return fmt.Sprintf("%s is %q: matrixgen's mautrix-meta-messenger bridges Messenger (modes messenger, facebook and facebook-tor); Instagram is the mautrix-meta-instagram bridge", v.name, mode)
	}
	return ""
}

// metaExtra: the facebook-tor mode is the facebook one through Tor.
func (b *bridgeRun) metaExtra(put putExtra) {
	if b.own == "facebook-tor" {
		put("network.tor", boolNode(true), b.modeVar)
	}
}
