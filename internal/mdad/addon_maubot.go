package mdad

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/reserved"
)

// maubot: the playbook's matrix-bot-maubot role becomes bots.maubot, which
// keeps /matrix/maubot (uploaded plugins in data/) and the database
// matrix_bot_maubot, where maubot keeps its clients and instances.

const (
	maubotDatabase = "matrix_bot_maubot"
	// maubotDatabaseSalt is the playbook's salt for the database password
	// (group_vars/matrix_servers), whatever it looks like.
	maubotDatabaseSalt = "mxpup.dsc.db"
	// maubotPath is where the playbook and matrixgen serve the
	// management UI on the homeserver's hostname.
	maubotPath = reserved.MaubotUI
	maubotPort = "29316"
)

var _ = registerAddonKind(&addonKind{
	what: "maubot", section: "bots.maubot", unit: "matrix-bot-maubot",
	prefixes: []string{"matrix_bot_maubot_"},
	refusal: func(a *addonRun) string {
		return a.databaseRefusal(dbOwner{
			its: "maubot's", runs: "maubot", subject: "maubot", kept: "maubot's database",
			lost: "its clients and instances", dir: "maubot", sqliteWithoutPostgres: true,
		})
	},
	translate:  (*addonRun).maubot,
	left:       (*addonRun).maubotLeft,
	noOption:   "matrixgen has no option for it; a setting of maubot's config can go into bots.maubot.extra (the playbook's config is /matrix/maubot/config/config.yaml on the server)",
	secretVars: []string{"matrix_bot_maubot_admins"}, // admin names to their passwords
})

func (a *addonRun) maubot() {
	a.set("type", strNode("maubot"), a.enabled)
	a.image("dock.mau.dev/maubot/maubot")
	a.dbName = maubotDatabase
	if v := a.nameVar("database_name", &a.dbName); v != nil {
		a.set("database_name", strNode(a.dbName), v)
	}
	a.databaseRole(a.dbName)
	a.maubotAdmins()
	a.maubotLogLevel()
	a.hostPort("container_management_interface_http_bind_port")
	a.maubotPlace()
	a.maubotSecrets()
	if v, on, ok := a.takeBool("container_image_customizations_enabled"); ok {
		if on {
			a.t.notTranslated(v, "matrixgen runs the published image, without the playbook's additions to it: set bots.maubot.image to an image you build with them")
		} else {
			a.t.readVar(v, "off: the published image, as matrixgen runs")
		}
	}
	a.readAs("login", "the bot's user, which the playbook registered; maubot keeps the access tokens of its clients in its database")
	a.readAs("initial_password", "the password the playbook registered the bot's user with; matrixgen registers no users, and maubot logs in with the access tokens in its database")
	a.readAs("homeserver_url", "matrixgen connects maubot to Synapse itself")
	a.readAs("homeserver_name", "matrixgen names the homeserver after the domain, as the playbook does")
	a.renamedUnit("matrix-maubot", "the instance is named maubot, so that it keeps /matrix/maubot and its plugins")
}

// maubotAdmins takes the management UI's admin: the playbook writes a
// mapping of admin names to passwords, or a list of one-name mappings,
// which its template merges. matrixgen's maubot has one admin,
// admin_username, whose password is a host secret.
func (a *addonRun) maubotAdmins() {
	v, n, ok := a.take("admins")
	if !ok {
		return
	}
	var pairs []*yaml.Node // name, password, name, password, …
	switch {
	case n.Kind == yaml.MappingNode:
		pairs = n.Content
	case n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind != yaml.MappingNode {
				a.t.notTranslated(v, "expected a mapping of admin names to passwords, or a list of such mappings")
				return
			}
			pairs = append(pairs, item.Content...)
		}
	default:
		if isEmptyValue(n) {
			a.t.readVar(v, "empty: the playbook's maubot had no admin who could log in; matrixgen's has admin_username")
			return
		}
		a.t.notTranslated(v, "expected a mapping of admin names to passwords, or a list of such mappings")
		return
	}
	taken := false
	for i := 0; i+1 < len(pairs); i += 2 {
		name, password := pairs[i], pairs[i+1]
		pw, err := scalarText(password)
		switch {
		case name.Value == "root":
			a.t.notTranslatedPart(v, name.Line, name.Value, password, true, "maubot keeps root for a user who cannot log in, as matrixgen's does")
		case err != nil:
			a.t.notTranslatedPart(v, name.Line, name.Value, password, true, "an admin without a password cannot log in")
		case taken:
			a.t.notTranslatedPart(v, name.Line, name.Value, password, true, "matrixgen's maubot has one admin (admin_username): log in as that one, or add this one through maubot's own config by hand")
		case !localpart.MatchString(name.Value):
			a.t.notTranslatedPart(v, name.Line, name.Value, password, true, "not a name matrixgen takes for admin_username (lowercase letters, digits and ._=-)")
		default:
			taken = true
			if !a.t.storeSecret(v, pw, "maubot-admin-password") {
				continue
			}
			if name.Value == "admin" {
				a.t.readVar(v, "its admin is matrixgen's admin_username; the password is the secret maubot-admin-password (written with --secrets-dir)")
			} else {
				a.set("admin_username", strNode(name.Value), v)
			}
		}
	}
	a.t.outcome[v] = true
}

// localpart matches the schema's #Localpart.
var localpart = regexp.MustCompile(`^[a-z0-9._=-]{1,64}$`)

// maubotLogLevels maps the playbook's Python levels to matrixgen's.
var maubotLogLevels = map[string]string{"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "WARN": "warn", "ERROR": "error"}

func (a *addonRun) maubotLogLevel() {
	v, level, ok := a.takeText("logging_level")
	if !ok {
		return
	}
	ours, known := maubotLogLevels[strings.ToUpper(level)]
	if !known {
		a.t.notTranslated(v, fmt.Sprintf("%q is not one of matrixgen's levels for maubot (DEBUG, INFO, WARNING, ERROR)", level))
		return
	}
	a.set("log_level", strNode(ours), v)
}

// maubotPlace reads where the playbook serves the management UI: matrixgen
// serves it at /_matrix/maubot on the homeserver's hostname, the
// playbook's default, and nowhere else.
func (a *addonRun) maubotPlace() {
	hs := a.t.homeserver()
	elsewhere := fmt.Sprintf("matrixgen serves maubot's management UI at https://%s%s/ only, the playbook's default; bookmarks and the mbc logins for another address need the new one", hs, maubotPath)
	same := func(suffix, ours, why string) {
		if v, s, ok := a.takeText(suffix); ok {
			if s == ours {
				a.t.readVar(v, why)
			} else {
				a.t.notTranslated(v, elsewhere)
			}
		}
	}
	same("hostname", hs, "the homeserver's hostname, where matrixgen serves maubot too")
	same("path_prefix", maubotPath, "the path matrixgen serves maubot at too")
	same("scheme", "https", "matrixgen serves maubot over https too")
	same("server_port", maubotPort, "maubot's own port, which matrixgen uses inside its container too")
	if v, on, ok := a.takeBool("proxy_management_interface"); ok {
		if on {
			a.t.readVar(v, "matrixgen routes the management UI too")
		} else {
			a.t.notTranslated(v, "matrixgen always routes maubot's management UI (and its plugins' web endpoints) at "+maubotPath)
		}
	}
}

// maubotSecrets: the database password (the playbook derives it), the key
// that signs the management UI's logins, and the admin's password.
func (a *addonRun) maubotSecrets() {
	external := a.t.postgresExternal()
	list := []secretPlan{
		{name: a.dbName + "-db-password", suffix: "database_password", salt: maubotDatabaseSalt, provided: external},
		{name: "maubot-unshared-secret", newWhat: "it signs the management UI's logins, so everyone logs in to the UI again"},
		{name: "maubot-admin-password"},
	}
	if v, n, ok := a.take("unshared_secret"); ok {
		if s, err := scalarText(n); err == nil && s == "generate" {
			a.t.readVar(v, "maubot made its own and saved it in /matrix/maubot/config/config.yaml, which matrixgen does not read")
		} else {
			a.t.takeSecret(v, n, "maubot-unshared-secret")
		}
	}
	if v, n, ok := a.take("database_password"); ok {
		a.t.takeSecret(v, n, list[0].name)
	}
	if v, n, ok := a.take("homeserver_secret"); ok {
		reg, _ := a.t.text("matrix_synapse_registration_shared_secret")
		if s, err := scalarText(n); err == nil && s == reg {
			a.t.readVar(v, "Synapse's registration shared secret, which matrixgen gives maubot too")
		} else {
			a.t.notTranslated(v, "matrixgen gives maubot Synapse's registration shared secret (the secret synapse-registration-secret), not another")
		}
	}
	for _, s := range list {
		a.t.addRoleSecret(s)
	}
}

func (a *addonRun) maubotLeft(v *variable, suffix string) bool {
	switch {
	case strings.HasPrefix(suffix, "bot_server_"):
		a.t.notTranslated(v, "matrixgen sets maubot's URLs and paths itself, from "+maubotPath+" on the homeserver's hostname")
	case slices.Contains([]string{"base_path", "data_path", "config_path"}, suffix):
		a.t.notTranslated(v, "matrixgen keeps maubot in /matrix/maubot (config/ and data/), the playbook's default")
	case strings.HasPrefix(suffix, "sqlite_"):
		a.t.notTranslated(v, "matrixgen runs maubot on PostgreSQL only")
	default:
		return false
	}
	return true
}
