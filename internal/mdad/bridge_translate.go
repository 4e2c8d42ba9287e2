package mdad

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The bridge stage: each bridge of the playbook becomes one entry of
// bridges, named as the playbook names its unit, with the names (appservice
// ID, bot, user prefix, database) and secrets the server already uses, so
// that the bridge keeps its logins, rooms and users.

// bridgeRun is one bridge of the playbook on its way into the config.
type bridgeRun struct {
	t *translator
	k *bridgeKind
	g *bridgeGlobals
	// enabled is the variable that turns the bridge on (nil: not set);
	// prefix is the generation of variable names this vars.yml uses for
	// it, vars its variables of that generation by suffix, and stale
	// those of the other generation.
	enabled *variable
	prefix  string
	vars    map[string]*variable
	stale   []*variable
	on      bool
	// refused says why a bridge that runs is not translated.
	refused string
	// What the translation arrives at.
	id, bot, userPrefix, dbName string
	// tor: mautrix-meta's facebook-tor mode, set by modeVar.
	tor     bool
	modeVar *variable
	handled map[*variable]bool
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
	vars := map[string]*variable{}
	for _, v := range t.bridgeVars {
		vars[v.name] = v
	}
	g := t.readBridgeGlobals()
	for _, k := range bridgeKinds {
		t.newBridgeRun(k, g, vars).translate()
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

func (t *translator) newBridgeRun(k *bridgeKind, g *bridgeGlobals, vars map[string]*variable) *bridgeRun {
	b := &bridgeRun{t: t, k: k, g: g, vars: map[string]*variable{}, handled: map[*variable]bool{},
		id: k.id, bot: k.bot, userPrefix: k.userPrefix, dbName: k.database}
	current, old := k.prefixes()[0], k.prefixes()[1]
	b.prefix = current
	if vars[current+"enabled"] == nil && vars[old+"enabled"] != nil {
		b.prefix = old
	}
	b.enabled = vars[b.prefix+"enabled"]
	for _, v := range t.bridgeVars {
		for _, p := range k.prefixes() {
			suffix, ok := strings.CutPrefix(v.name, p)
			switch {
			case !ok:
			case p == b.prefix:
				b.vars[suffix] = v
			default:
				b.stale = append(b.stale, v)
			}
		}
	}
	return b
}

func (b *bridgeRun) path(option string) string { return "bridges." + b.k.name + "." + option }

// value returns a variable of the bridge with its references resolved;
// v is nil when vars.yml does not set it.
func (b *bridgeRun) value(suffix string) (v *variable, n *yaml.Node, err error) {
	v = b.vars[suffix]
	if v == nil {
		return nil, nil, nil
	}
	n, err = b.t.r.variable(v.name)
	return v, n, err
}

// text returns a variable's text, "" when it is not set or empty.
func (b *bridgeRun) text(suffix string) (string, *variable, error) {
	v, n, err := b.value(suffix)
	if v == nil || err != nil {
		return "", v, err
	}
	s, err := scalarText(n)
	if err == errEmpty {
		return "", v, nil
	}
	return s, v, err
}

// take returns a variable to translate, once; a value it cannot read is
// reported, and take returns ok false.
func (b *bridgeRun) take(suffix string) (v *variable, n *yaml.Node, ok bool) {
	v, n, err := b.value(suffix)
	if v == nil || b.handled[v] {
		return nil, nil, false
	}
	b.handled[v] = true
	if err != nil {
		b.t.notTranslated(v, err.Error())
		return nil, nil, false
	}
	return v, n, true
}

// takeBool is take for a true/false variable.
func (b *bridgeRun) takeBool(suffix string) (v *variable, value, ok bool) {
	v, n, ok := b.take(suffix)
	if !ok {
		return nil, false, false
	}
	value, err := toBool(n)
	if err != nil {
		b.t.notTranslated(v, err.Error())
		return nil, false, false
	}
	return v, value, true
}

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
	if b.enabled != nil {
		n, err := t.r.variable(b.enabled.name)
		if err == nil {
			b.on, err = toBool(n)
		}
		if err != nil {
			b.handled[b.enabled] = true
			t.notTranslated(b.enabled, err.Error())
			b.reportRest(fmt.Sprintf("whether %s runs cannot be read (%s, line %d)", b.k.name, b.enabled.name, b.enabled.line))
			return
		}
	}
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
	} else {
		b.heisenbridge()
	}
	b.extra()
	b.secrets()
	b.reportLeft()
}

// refusal says why a bridge the playbook runs cannot be taken over as it is.
func (b *bridgeRun) refusal() string {
	k, t := b.k, b.t
	if !k.mautrix {
		owner, v, err := b.text("owner")
		if err != nil {
			return fmt.Sprintf("%s (line %d) cannot be read: %v", v.name, v.line, err)
		}
		if owner == "" {
			return fmt.Sprintf("matrixgen's heisenbridge needs its owner (bridges.%s.owner), and vars.yml names none (%sowner): the playbook's bridge belongs to the first local user who talked to it; add the bridge by hand with that user as its owner", k.name, b.prefix)
		}
		return ""
	}
	if why := b.metaMode(); why != "" {
		return why
	}
	external := t.postgresExternal()
	engine, ev, err := b.text("database_engine")
	if err != nil {
		return fmt.Sprintf("%s (line %d) cannot be read: %v", ev.name, ev.line, err)
	}
	host, hv, err := b.text("database_hostname")
	if err != nil {
		return fmt.Sprintf("%s (line %d) cannot be read: %v", hv.name, hv.line, err)
	}
	if engine == "" {
		engine = "postgres"
		if external && k.sqliteWithoutPostgres {
			engine = "sqlite"
		}
	}
	sqlite := fmt.Sprintf("the playbook keeps this bridge's data in SQLite (under /matrix/%s/data), and matrixgen runs bridges on PostgreSQL only: the bridge would start without its logins and rooms; move its data into PostgreSQL first, or leave the bridge to the playbook", k.name)
	switch {
	case engine != "postgres":
		return sqlite
	case !external && host != "" && host != bundledPostgresHost:
		return fmt.Sprintf("its database is on %s (%s), not on the playbook's PostgreSQL, and matrixgen keeps the bridges' databases on its bundled server", host, hv.name)
	case !external:
		return ""
	case host == "":
		if k.sqliteWithoutPostgres {
			return sqlite
		}
		return "without the playbook's PostgreSQL (postgres_enabled: false), the playbook gives this bridge no database server unless database_hostname names one, and vars.yml does not"
	}
	if synapseHost, _ := t.text("matrix_synapse_database_host"); host != synapseHost {
		return fmt.Sprintf("its database is on %s (%s), not on Synapse's server (matrix_synapse_database_host), where matrixgen keeps the bridges' databases with postgres.mode external", host, hv.name)
	}
	return ""
}

// bundledPostgresHost is the playbook's PostgreSQL container, where its
// bridges' databases are when it runs.
const bundledPostgresHost = "matrix-postgres"

// metaMode reads mautrix-meta-messenger's meta_mode, which names the
// bridge's appservice, user prefix and database.
func (b *bridgeRun) metaMode() string {
	if b.k.name != "mautrix-meta-messenger" {
		return ""
	}
	mode, v, err := b.text("meta_mode")
	if err != nil {
		return fmt.Sprintf("%s (line %d) cannot be read: %v", v.name, v.line, err)
	}
	b.modeVar = v
	switch mode {
	case "", "messenger":
	case "facebook", "facebook-tor":
		b.id, b.userPrefix, b.dbName = "facebook", "facebook_", "matrix_mautrix_meta_facebook"
		b.tor = mode == "facebook-tor"
	default:
		return fmt.Sprintf("%s is %q: matrixgen's mautrix-meta-messenger bridges Messenger (modes messenger, facebook and facebook-tor); Instagram is the mautrix-meta-instagram bridge", v.name, mode)
	}
	return ""
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

// nameVar reads a variable that overrides one of the playbook's names.
func (b *bridgeRun) nameVar(suffix string, name *string) *variable {
	v, n, ok := b.take(suffix)
	if !ok {
		return nil
	}
	s, err := scalarText(n)
	if err != nil {
		b.t.notTranslated(v, err.Error())
		return nil
	}
	*name = s
	return v
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
	if v, n, ok := b.take("database_username"); ok {
		if user, err := scalarText(n); err != nil || user != b.dbName {
			b.t.notTranslated(v, fmt.Sprintf("matrixgen's bridges log in as a role named after their database (%s); rename the role first (ALTER ROLE … RENAME TO %s, then set its password again, as renaming clears an MD5 password)", b.dbName, b.dbName))
		} else {
			b.t.readVar(v, "the role named after the database, as matrixgen's")
		}
	}
	where := "the bundled PostgreSQL, where matrixgen keeps it"
	if b.t.postgresExternal() {
		where = "Synapse's database server (postgres.external), where matrixgen keeps it"
	}
	for _, suffix := range []string{"database_engine", "database_hostname", "database_port", "database_sslmode"} {
		if v := b.vars[suffix]; v != nil && !b.handled[v] {
			b.handled[v] = true
			b.t.readVar(v, "the bridge's database is on "+where)
		}
	}
}
