package mdad

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// bridgeKind is what the playbook does with one of its bridge roles, and
// the matrixgen bridge type that takes it over. The names are the
// playbook's (roles/custom/matrix-bridge-*/defaults/main.yml, their
// templates, and group_vars/matrix_servers for the derived secrets).
type bridgeKind struct {
	// name is the playbook's unit suffix (matrix-<name>.service, the
	// directory /matrix/<name>), and so the instance name here.
	name string
	typ  string // the matrixgen bridge type
	// role names the playbook's variables: matrix_bridge_<role>_* since
	// the playbook's rename of 2026-07-16, matrix_<role>_* before.
	role string
	// The playbook's appservice ID, bot, user prefix and database (also
	// its role); matrixgen's defaults for the type follow from ourID.
	id, bot, userPrefix, database string
	ourID                         string
	salts                         bridgeSalts
	// pickleKey is the playbook's fixed encryption.pickle_key, which the
	// bridge's encryption keys in the database are sealed with ("" for
	// a bridge whose bundle has no pickle-key secret).
	pickleKey string
	// image is the playbook's image without its tag; tagPrefix starts
	// the tag (mautrix-meta's Instagram images are "ig-" tags).
	image, tagPrefix string
	mautrix          bool // a mautrix bridge: database, permissions, encryption, log level
	bridgev2         bool // on mautrix-go's bridgev2: public media and pickle-key secrets, backfill
	// ourBotName and ourPrefix are matrixgen's bot and user prefix for a
	// bridge that is not a mautrix one, whose names do not follow from
	// its appservice ID.
	ourBotName, ourPrefix string
	// relay: the playbook's relay-mode variables apply to it. starRelay:
	// its default permissions give everyone ("*") the relay level even
	// without relay mode (mautrix-discord relays through webhooks).
	relay, starRelay bool
	// botVar and logVar are the suffixes of its bot username and log
	// level variables.
	botVar, logVar string
	// dbSaltNeedsBundled: the playbook derives the database password only
	// when its own Postgres runs.
	dbSaltNeedsBundled bool
	// prefixVar is the suffix of the variable that sets the user prefix,
	// and templated whether it holds a username template ("x_{{.}}").
	prefixVar string
	templated bool
	// sqliteWithoutPostgres: without the playbook's Postgres the bridge
	// keeps its data in SQLite (all but mautrix-bluesky, which then has
	// no database at all).
	sqliteWithoutPostgres bool
}

// bridgeSalts are the salts the playbook derives the bridge's secrets from
// matrix_homeserver_generic_secret_key with ("" for none).
type bridgeSalts struct {
	as, hs, db, provisioning, publicMedia, avatar string
}

const (
	pickleKeyWhatsapp = "maunium.net/go/mautrix-whatsapp"
	pickleKeyMautrix  = "mautrix.bridge.e2ee"
)

// bridgeKinds are the playbook's bridges that matrixgen has, in the order
// of their instance names.
var bridgeKinds = []*bridgeKind{
	{
		name: "heisenbridge", typ: typeHeisenbridge, role: "heisenbridge",
		id: "heisenbridge", bot: "heisenbridge", userPrefix: "hbirc_", ourID: "heisenbridge",
		ourBotName: "heisenbridge", ourPrefix: "irc_",
		salts: bridgeSalts{as: "heisen.as.tok", hs: "heisen.hs.tok"},
		image: "docker.io/hif1/heisenbridge",
	},
	{
		// The playbook's appservice ID has a '-', which matrixgen's IDs
		// do not take: names() keeps matrixgen's and says so.
		name: "hookshot", typ: typeHookshot, role: "hookshot",
		id: "matrix-hookshot", bot: "hookshot", userPrefix: "_webhooks_", ourID: "hookshot",
		ourBotName: "hookshot", ourPrefix: "_webhooks_",
		salts:  bridgeSalts{as: "hookshot.as.tok", hs: "hookshot.hs.tok"},
		image:  "ghcr.io/matrix-org/matrix-hookshot",
		botVar: "bot_localpart", logVar: "logging_level", prefixVar: "generic_userIdPrefix",
	},
	{
		name: "mautrix-bluesky", typ: "mautrix-bluesky", role: "mautrix_bluesky",
		id: "bluesky", bot: "blueskybot", userPrefix: "bluesky_", database: "matrix_mautrix_bluesky", ourID: "bluesky",
		// The playbook's salt for this database is the Twitter bridge's.
		salts:     bridgeSalts{as: "bsky.as.token", hs: "bsky.hs.token", db: "mau.twt.db", provisioning: "mau.bsky.prov"},
		pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/bluesky",
		mautrix: true, bridgev2: true, botVar: "appservice_bot_username", logVar: "logging_level",
		dbSaltNeedsBundled: true,
	},
	{
		name: "mautrix-discord", typ: "mautrix-discord", role: "mautrix_discord",
		id: "discord", bot: "discordbot", userPrefix: "discord_", database: "matrix_mautrix_discord", ourID: "discord",
		salts:   bridgeSalts{as: "maudisc.as.tok", hs: "maudisc.hs.tok", db: "maudiscord.db", avatar: "maudisc.avatar"},
		image:   "dock.mau.dev/mautrix/discord",
		mautrix: true, starRelay: true, botVar: "appservice_bot_username", logVar: "logging_level",
		prefixVar: "bridge_username_template", templated: true, sqliteWithoutPostgres: true,
	},
	{
		name: "mautrix-gmessages", typ: "mautrix-gmessages", role: "mautrix_gmessages",
		id: "gmessages", bot: "gmessagesbot", userPrefix: "gmessages_", database: "matrix_mautrix_gmessages", ourID: "gmessages",
		salts:     bridgeSalts{as: "gmessa.as.token", hs: "gmessa.hs.token", db: "maugmessages.db", provisioning: "gmessa.prov"},
		pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/gmessages",
		mautrix: true, bridgev2: true, botVar: "appservice_bot_username", logVar: "logging_level",
		prefixVar: "appservice_username_template", templated: true, sqliteWithoutPostgres: true,
	},
	{
		name: "mautrix-meta-instagram", typ: "mautrix-meta-instagram", role: "mautrix_meta_instagram",
		id: "instagram", bot: "instagrambot", userPrefix: "instagram_", database: "matrix_mautrix_meta_instagram", ourID: "instagram",
		// Both Meta bridges derive their database password with one salt.
		salts:     bridgeSalts{as: "mau.meta.ig.as", hs: "mau.meta.ig.hs", db: "mau.fb.db", provisioning: "mau.meta.ig.prov"},
		pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/meta", tagPrefix: "ig-",
		mautrix: true, bridgev2: true, relay: true, botVar: "appservice_username", logVar: "logging_min_level",
		dbSaltNeedsBundled: true, prefixVar: "bridge_username_prefix", sqliteWithoutPostgres: true,
	},
	{
		// The names here are those of the default meta_mode, messenger;
		// metaMode adjusts them to the others.
		name: "mautrix-meta-messenger", typ: "mautrix-meta-messenger", role: "mautrix_meta_messenger",
		id: "messenger", bot: "messengerbot", userPrefix: "messenger_", database: "matrix_mautrix_meta_messenger", ourID: "facebook",
		salts:     bridgeSalts{as: "mau.meta.fb.as", hs: "mau.meta.fb.hs", db: "mau.fb.db", provisioning: "mau.meta.fb.prov"},
		pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/meta",
		mautrix: true, bridgev2: true, relay: true, botVar: "appservice_username", logVar: "logging_min_level",
		dbSaltNeedsBundled: true, prefixVar: "bridge_username_prefix", sqliteWithoutPostgres: true,
	},
	{
		name: "mautrix-signal", typ: "mautrix-signal", role: "mautrix_signal",
		id: "signal", bot: "signalbot", userPrefix: "signal_", database: "matrix_mautrix_signal", ourID: "signal",
		salts:     bridgeSalts{as: "si.as.token", hs: "si.hs.token", db: "mau.signal.db", provisioning: "mau.signal.prov", publicMedia: "mau.signal.pmed"},
		pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/signal",
		mautrix: true, bridgev2: true, relay: true, botVar: "appservice_bot_username", logVar: "logging_level",
		sqliteWithoutPostgres: true,
	},
	{
		name: "mautrix-slack", typ: "mautrix-slack", role: "mautrix_slack",
		id: "slack", bot: "slackbot", userPrefix: "slack_", database: "matrix_mautrix_slack", ourID: "slack",
		salts:     bridgeSalts{as: "mauslack.as.tok", hs: "mauslack.hs.tok", db: "mauslack.db", provisioning: "mau.slack.prov", publicMedia: "mau.slack.pmed"},
		pickleKey: pickleKeyWhatsapp, image: "dock.mau.dev/mautrix/slack",
		mautrix: true, bridgev2: true, relay: true, botVar: "appservice_bot_username", logVar: "logging_level",
		sqliteWithoutPostgres: true,
	},
	{
		name: "mautrix-telegram", typ: "mautrix-telegram", role: "mautrix_telegram",
		id: "telegram", bot: "telegrambot", userPrefix: "telegram_", database: "matrix_mautrix_telegram", ourID: "telegram",
		salts:     bridgeSalts{as: "telegr.as.token", hs: "telegr.hs.token", db: "mau.telegram.db", provisioning: "mau.telegram.prov"},
		pickleKey: pickleKeyMautrix, image: "dock.mau.dev/mautrix/telegram",
		mautrix: true, bridgev2: true, relay: true, botVar: "appservice_bot_username", logVar: "logging_level",
		sqliteWithoutPostgres: true,
	},
	{
		name: "mautrix-whatsapp", typ: "mautrix-whatsapp", role: "mautrix_whatsapp",
		id: "whatsapp", bot: "whatsappbot", userPrefix: "whatsapp_", database: "matrix_mautrix_whatsapp", ourID: "whatsapp",
		salts:     bridgeSalts{as: "wa.as.token", hs: "wa.hs.token", db: "mauwhatsapp.db", provisioning: "wa.prov"},
		pickleKey: pickleKeyWhatsapp, image: "dock.mau.dev/mautrix/whatsapp",
		mautrix: true, bridgev2: true, relay: true, botVar: "appservice_bot_username", logVar: "logging_level",
		sqliteWithoutPostgres: true,
	},
}

// The bridge types that are not mautrix bridges.
const (
	typeHeisenbridge = "heisenbridge"
	typeHookshot     = "matrix-hookshot"
)

// prefixes are the kind's variable prefixes, the current one first.
func (k *bridgeKind) prefixes() []string {
	return []string{"matrix_bridge_" + k.role + "_", "matrix_" + k.role + "_"}
}

// ourBot, ourUserPrefix and ourDatabase are matrixgen's defaults for the
// type's names (schema/bridge_*.cue), given its appservice ID: the
// translation sets a name only where the playbook's differs.
func (k *bridgeKind) ourBot(id string) string {
	if !k.mautrix {
		return k.ourBotName
	}
	return id + "bot"
}

func (k *bridgeKind) ourUserPrefix(id string) string {
	if !k.mautrix {
		return k.ourPrefix
	}
	return id + "_"
}

func (k *bridgeKind) ourDatabase(id string) string { return "matrix_mautrix_" + id }

// The playbook's variables that concern every bridge, and its
// double-puppeting appservice's salts and the bundle's names for its tokens.
const (
	varAdmin            = "matrix_admin"
	varEncryption       = "matrix_bridges_encryption_enabled"
	varEncryptionOn     = "matrix_bridges_encryption_default"
	varRelay            = "matrix_bridges_relay_enabled"
	varDoublePuppet     = "matrix_appservice_double_puppet_enabled"
	varDoublePuppetAS   = "matrix_appservice_double_puppet_registration_as_token"
	varDoublePuppetHS   = "matrix_appservice_double_puppet_registration_hs_token"
	doublePuppetASSalt  = "as.doub.pup"
	doublePuppetHSSalt  = "hs.doub.pup"
	doublePuppetASToken = "appservice-double-puppet-as-token"
	doublePuppetHSToken = "appservice-double-puppet-hs-token"
)

// bridgeRows send every variable of the bridges, and the variables that
// concern all of them, to the bridge stage (translateBridges), which reads
// them together: a bridge is one entry of bridges made from many variables.
func bridgeRows() []row {
	var rows []row
	for _, k := range bridgeKinds {
		for _, p := range k.prefixes() {
			rows = append(rows, row{name: p + "*", fn: deferBridge, raw: true})
		}
	}
	return append(rows,
		row{name: "matrix_bridges_*", fn: deferBridge, raw: true},
		row{name: varAdmin, fn: deferBridge, raw: true},
		row{name: "matrix_appservice_double_puppet_*", fn: deferBridge, raw: true},
	)
}

func deferBridge(t *translator, v *variable, _ *yaml.Node) {
	t.bridgeVars = append(t.bridgeVars, v)
}

// bridgeSecretVars are the suffixes of the variables that hold a bridge's
// secrets, whatever their names look like (the Telegram app's API ID).
var bridgeSecretVars = map[string]bool{
	"appservice_token": true, "homeserver_token": true, "database_password": true,
	"provisioning_shared_secret": true, "public_media_signing_key": true,
	"bridge_encryption_pickle_key": true, "bridge_avatar_proxy_key": true,
	"api_id": true, "api_hash": true,
	// hookshot's: the GitHub App's client ID is no secret to GitHub, but
	// the bundle keeps it with the app's other credentials.
	"github_oauth_client_id": true, "github_oauth_client_secret": true,
	"github_webhook_secret": true, "gitlab_webhook_secret": true, "github_private_key": true,
}

// isBridgeSecret tells whether name holds a secret of a bridge.
func isBridgeSecret(name string) bool {
	if name == varDoublePuppetAS || name == varDoublePuppetHS {
		return true
	}
	for _, k := range bridgeKinds {
		for _, p := range k.prefixes() {
			if suffix, ok := strings.CutPrefix(name, p); ok && bridgeSecretVars[suffix] {
				return true
			}
		}
	}
	return false
}
