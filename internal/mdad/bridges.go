package mdad

import (
	"slices"
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
	// secretVars are the suffixes of its own variables that hold secrets
	// without looking so by name, beyond those every bridge has.
	secretVars []string

	// What the type translates beyond the steps every bridge (or every
	// mautrix bridge) shares; each is optional. refusal says why a bridge
	// that runs cannot be taken over ("" when it can); options sets its
	// own options; extra puts settings of its config into extra; secrets
	// lists its own secrets; left reports a variable nothing took when
	// the reason is the type's own, and tells whether it did; noOption is
	// the reason for its other variables.
	refusal  func(*bridgeRun) string
	options  func(*bridgeRun)
	extra    func(b *bridgeRun, put putExtra)
	secrets  func(*bridgeRun) []secretPlan
	left     func(b *bridgeRun, v *variable, suffix string) bool
	noOption func(*bridgeRun) string
}

// putExtra sets one setting of a bridge's config in its extra, from v.
type putExtra func(path string, value *yaml.Node, v *variable)

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
// of their instance names. Each type's own file adds its kind, so adding a
// type touches no shared file: it does so in a package variable
// (var _ = registerBridgeKind(…)), as Go initialises every package
// variable before any init, where table is built from the kinds.
var bridgeKinds []*bridgeKind

// registerBridgeKind adds k to bridgeKinds in the order of the names,
// whatever order the files are read in.
func registerBridgeKind(k *bridgeKind) *bridgeKind {
	i, taken := slices.BinarySearchFunc(bridgeKinds, k.name, func(e *bridgeKind, name string) int { return strings.Compare(e.name, name) })
	if taken {
		panic("bridge " + k.name + " registered twice")
	}
	bridgeKinds = slices.Insert(bridgeKinds, i, k)
	return k
}

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
// secrets, whatever their names look like; a kind adds its own
// (secretVars).
var bridgeSecretVars = map[string]bool{
	"appservice_token": true, "homeserver_token": true, "database_password": true,
	"provisioning_shared_secret": true, "public_media_signing_key": true,
	"bridge_encryption_pickle_key": true, "bridge_avatar_proxy_key": true,
}

// isBridgeSecret tells whether name holds a secret of a bridge.
func isBridgeSecret(name string) bool {
	if name == varDoublePuppetAS || name == varDoublePuppetHS {
		return true
	}
	for _, k := range bridgeKinds {
		for _, p := range k.prefixes() {
			if suffix, ok := strings.CutPrefix(name, p); ok && (bridgeSecretVars[suffix] || slices.Contains(k.secretVars, suffix)) {
				return true
			}
		}
	}
	return false
}
