package mdad

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The bridge stage: each bridge of the playbook becomes one entry of
// bridges, named as the playbook names its unit, with the names (appservice
// ID, bot, user prefix, database) and secrets the server already uses, so
// that the bridge keeps its logins, rooms and users.

// bridgeRun is one bridge of the playbook on its way into the config.
type bridgeRun struct {
	roleVars
	k  *bridgeKind
	g  *bridgeGlobals
	on bool
	// refused says why a bridge that runs is not translated.
	refused string
	// What the translation arrives at.
	id, bot, userPrefix, dbName string
	// modeVar is the variable whose mode picked the bridge's names, for a
	// type that has one (its refusal reads it).
	modeVar *variable
	// own is what the type's own steps keep between them.
	own any
}

// bridgeGlobals are the variables that concern every bridge.
type bridgeGlobals struct {
	vars                                            map[string]*variable
	admin                                           string
	encryption, encryptionOn, relay, doublePuppet   bool
	encryptionSet, encryptionOnSet, relaySet, dpSet bool
	handled                                         map[*variable]bool
	// anyMautrix: a mautrix bridge is translated; anyDoublePuppet: one
	// of them double-puppets; noted: the note on double puppeting is out.
	anyMautrix, anyDoublePuppet, noted bool
}

func (t *translator) translateBridges() {
	if t.homeserverImplementation() == "continuwuity" {
		for _, v := range t.bridgeVars {
			t.notTranslated(v, "continuwuity registers appservices only through commands in its admin room, which a build cannot send (docs/homeservers.md)")
		}
		return
	}
	g := t.readBridgeGlobals()
	for _, k := range bridgeKinds {
		t.newBridgeRun(k, g).translate()
	}
	t.doublePuppetSecrets(g)
	t.reportBridgeGlobals(g)
}

// readBridgeGlobals reads the variables that set something for all
// bridges; per-bridge variables win over them, as in the playbook.
func (t *translator) readBridgeGlobals() *bridgeGlobals {
	g := &bridgeGlobals{vars: map[string]*variable{}, handled: map[*variable]bool{}}
	for _, v := range t.bridgeVars {
		if !bridgeVarOfKind(v.name) {
			g.vars[v.name] = v
		}
	}
	flag := func(name string) (value, set bool) {
		v := g.vars[name]
		if v == nil {
			return false, false
		}
		n, err := t.r.variable(name)
		if err == nil {
			value, err = toBool(n)
		}
		if err != nil {
			g.handled[v] = true
			t.notTranslated(v, err.Error())
			return false, false
		}
		return value, true
	}
	g.encryption, g.encryptionSet = flag(varEncryption)
	g.encryptionOn, g.encryptionOnSet = flag(varEncryptionOn)
	g.relay, g.relaySet = flag(varRelay)
	g.doublePuppet, g.dpSet = flag(varDoublePuppet)
	if v := g.vars[varAdmin]; v != nil {
		n, err := t.r.variable(varAdmin)
		var s string
		if err == nil {
			s, err = scalarText(n)
		}
		switch {
		case err == errEmpty:
			g.handled[v] = true
			t.readVar(v, "empty: no bridge has an admin")
		case err != nil:
			g.handled[v] = true
			t.notTranslated(v, err.Error())
		default:
			g.admin = s
		}
	}
	return g
}

// bridgeVarOfKind tells whether name is a variable of one bridge, not one
// for all of them.
func bridgeVarOfKind(name string) bool {
	for _, k := range bridgeKinds {
		for _, p := range k.prefixes() {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
	}
	return false
}

func (t *translator) newBridgeRun(k *bridgeKind, g *bridgeGlobals) *bridgeRun {
	return &bridgeRun{roleVars: newRoleVars(t, k.prefixes(), t.bridgeVars, nil), k: k, g: g,
		id: k.id, bot: k.bot, userPrefix: k.userPrefix, dbName: k.database}
}

func (b *bridgeRun) path(option string) string { return "bridges." + b.k.name + "." + option }

// mark is how an option's comment names the variable it came from.
func mark(v *variable) string { return fmt.Sprintf("%s, line %d", v.name, v.line) }

func marks(vs ...*variable) string {
	var out []string
	for _, v := range vs {
		out = append(out, mark(v))
	}
	return strings.Join(out, "; ")
}

// set writes one option of the bridge, from the variables named.
func (b *bridgeRun) set(option string, value *yaml.Node, from ...*variable) {
	b.t.out.set(b.path(option), value, from[0].name, marks(from...))
	for _, v := range from {
		b.t.outcome[v] = true
		b.handled[v] = true
		b.g.handled[v] = true
	}
}

// setFact writes one option of the bridge from what the playbook does
// without a variable.
func (b *bridgeRun) setFact(option string, value *yaml.Node, why string) {
	b.t.out.set(b.path(option), value, "", why)
}

func (b *bridgeRun) translate() {
	t := b.t
	on, unreadable := b.enabledFlag()
	if unreadable != "" {
		b.reportRest(fmt.Sprintf("whether %s runs cannot be read %s", b.k.name, unreadable))
		return
	}
	b.on = on
	if b.on {
		b.refused = b.refusal()
	}
	switch {
	case b.enabled == nil:
		b.reportRest(fmt.Sprintf("the playbook runs %s only with %senabled: true, which vars.yml does not set, so it does not read this", b.k.name, b.k.prefixes()[0]))
		return
	case !b.on:
		b.handled[b.enabled] = true
		t.readVar(b.enabled, fmt.Sprintf("%s is off, as without bridges.%s", b.k.name, b.k.name))
		b.reportRest(fmt.Sprintf("%s is off (%s, line %d), so the playbook does not read this", b.k.name, b.enabled.name, b.enabled.line))
		return
	case b.refused != "":
		b.handled[b.enabled] = true
		t.notTranslated(b.enabled, b.refused)
		b.reportRest(fmt.Sprintf("%s is not translated (see %s, line %d)", b.k.name, b.enabled.name, b.enabled.line))
		return
	}
	b.g.anyMautrix = b.g.anyMautrix || b.k.mautrix
	b.set("type", strNode(b.k.typ), b.enabled)
	b.image()
	b.names()
	if b.k.mautrix {
		b.database()
		b.permissions()
		b.doublePuppetOption()
		b.encryption()
		b.logLevel()
	}
	if b.k.options != nil {
		b.k.options(b)
	}
	b.extra()
	b.secrets()
	b.reportLeft()
}

// refusal says why a bridge the playbook runs cannot be taken over as it is.
func (b *bridgeRun) refusal() string {
	k := b.k
	if k.refusal != nil {
		if why := k.refusal(b); why != "" {
			return why
		}
	}
	if !k.mautrix {
		return ""
	}
	return b.databaseRefusal(dbOwner{
		its: "this bridge's", runs: "bridges", subject: "the bridge", lost: "its logins and rooms", kept: "the bridges' databases",
		dir: k.name, sqliteWithoutPostgres: k.sqliteWithoutPostgres,
	})
}

// image is set only when vars.yml pins one: otherwise matrixgen's tested
// release runs.
func (b *bridgeRun) image() {
	if v, n, ok := b.take("container_image"); ok {
		if val, err := str(n); err == nil {
			b.set("image", val, v)
		} else {
			b.t.notTranslated(v, err.Error())
		}
		if version := b.vars["version"]; version != nil && !b.handled[version] {
			b.handled[version] = true
			b.t.readVar(version, fmt.Sprintf("%s (line %d) names the whole image", v.name, v.line))
		}
		return
	}
	tagVar := "version"
	if b.vars["container_image_tag"] != nil {
		tagVar = "container_image_tag"
	}
	v, n, ok := b.take(tagVar)
	if !ok {
		return
	}
	tag, err := scalarText(n)
	switch {
	case err != nil:
		b.t.notTranslated(v, err.Error())
	case len(tag) == 40 && tagVar == "version":
		b.t.notTranslated(v, "a commit: the playbook adds the machine's architecture to such tags; set bridges."+b.k.name+".image to the image you run")
	default:
		if tagVar == "version" {
			tag = b.k.tagPrefix + tag
		}
		b.set("image", strNode(b.k.image+":"+tag), v)
	}
}

// names sets the appservice ID, bot, user prefix and database the
// playbook gave the bridge, where matrixgen's defaults differ: another
// prefix would give every bridged user a new ID, another database would
// start the bridge empty.
func (b *bridgeRun) names() {
	idVar := b.nameVar("appservice_id", &b.id)
	if !appserviceID.MatchString(b.id) {
		idVar = b.keepOurID(idVar)
	}
	switch {
	case idVar != nil:
		b.set("appservice_id", strNode(b.id), idVar)
	default:
		b.setName("appservice_id", b.modeVar, b.id, b.k.ourID, "the playbook's appservice ID")
	}
	if b.k.botVar != "" {
		b.setName("bot_username", b.nameVar(b.k.botVar, &b.bot), b.bot, b.k.ourBot(b.id), "the playbook's bot")
	}
	var prefixVar *variable
	if b.k.prefixVar != "" {
		prefixVar = b.nameVar(b.k.prefixVar, &b.userPrefix)
		if prefixVar != nil && b.k.templated {
			prefix, ok := strings.CutSuffix(b.userPrefix, "{{.}}")
			if !ok || strings.Contains(prefix, "{{") {
				b.t.notTranslated(prefixVar, "matrixgen takes a user prefix, and this template is not one followed by {{.}}; set bridges."+b.k.name+".username_prefix")
				prefixVar, b.userPrefix = nil, b.k.userPrefix
			} else {
				b.userPrefix = prefix
			}
		}
	}
	if prefixVar == nil {
		prefixVar = b.modeVar
	}
	b.setName("username_prefix", prefixVar, b.userPrefix, b.k.ourUserPrefix(b.id), "the playbook's user prefix")
}

// appserviceID matches the appservice IDs matrixgen takes (the schema's
// #AppserviceID).
var appserviceID = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// keepOurID gives the bridge matrixgen's appservice ID where the
// playbook's is not one matrixgen takes. The ID names the registration
// only: the bot, the users and the tokens stay the bridge's.
func (b *bridgeRun) keepOurID(idVar *variable) *variable {
	if idVar != nil {
		b.t.notTranslated(idVar, fmt.Sprintf("%q is not an appservice ID matrixgen takes (a lowercase letter, then lowercase letters, digits and '_'): bridges.%s.appservice_id stays %s", b.id, b.k.name, b.k.ourID))
	} else {
		b.t.notes = append(b.t.notes, fmt.Sprintf("bridges.%s.appservice_id: %s, not the playbook's %s, which is not an appservice ID matrixgen takes (no '-'); the bot, the users and the tokens stay the bridge's", b.k.name, b.k.ourID, b.id))
	}
	b.id = b.k.ourID
	return nil
}

// setName sets one of the bridge's names where it differs from
// matrixgen's default, or where v sets it: v is the variable that set the
// name, or, for mautrix-meta-messenger, its meta_mode, which picks them.
func (b *bridgeRun) setName(option string, v *variable, value, ours, what string) {
	switch {
	case v != nil && (v != b.modeVar || value != ours):
		b.set(option, strNode(value), v)
	case value != ours:
		b.setFact(option, strNode(value), what+" for "+b.k.name)
	}
}

// database keeps the bridge on the database and role it has.
func (b *bridgeRun) database() {
	dbVar := b.nameVar("database_name", &b.dbName)
	if dbVar == nil {
		dbVar = b.modeVar
	}
	b.setName("database_name", dbVar, b.dbName, b.k.ourDatabase(b.id), "the playbook's database")
	b.databaseRole(b.dbName)
}
