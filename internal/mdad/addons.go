package mdad

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The stage of the bots and the admin UI: each of the playbook's roles for
// them becomes one entry of bots, or the ketesa section, named so that it
// keeps the directory (and the database) the playbook gave it.

// addonKind is one of the playbook's bots, or its admin UI.
type addonKind struct {
	// what names it in messages; section is where its options go; unit
	// is the playbook's unit for it.
	what, section, unit string
	// prefixes name its variables, the current generation first.
	prefixes []string
	// oldFamilies, when set, are the only variables under the old prefix
	// that are the role's, as a row's name matches them (the playbook's
	// matrix_synapse_admin_contact is Synapse's, not the admin UI's).
	oldFamilies []string
	// refusal says why a role that runs cannot be taken over ("" when it
	// can); translate sets its options; left reports a variable nothing
	// took, when its reason is the role's own, and tells whether it did.
	refusal   func(*addonRun) string
	translate func(*addonRun)
	left      func(a *addonRun, v *variable, suffix string) bool
	// noOption is the reason for the role's other variables.
	noOption string
	// secretVars are its variables that hold secrets without looking so
	// by name.
	secretVars []string
}

// addonKinds are the roles this stage translates, in the order of their
// sections. Each role's own file adds its kind in a package variable
// (registerAddonKind), as the bridges' files do (bridgeKinds).
var addonKinds []*addonKind

// registerAddonKind adds k to addonKinds in the order of the sections,
// whatever order the files are read in.
func registerAddonKind(k *addonKind) *addonKind {
	i, taken := slices.BinarySearchFunc(addonKinds, k.section, func(e *addonKind, section string) int { return strings.Compare(e.section, section) })
	if taken {
		panic("section " + k.section + " registered twice")
	}
	addonKinds = slices.Insert(addonKinds, i, k)
	for _, v := range k.secretVars {
		addonSecretVars[v] = true
	}
	return k
}

// addonRows send the roles' variables to this stage, which reads them
// together (translateAddons).
func addonRows() []row {
	var rows []row
	for _, k := range addonKinds {
		for i, p := range k.prefixes {
			if i == 0 || k.oldFamilies == nil {
				rows = append(rows, row{name: p + "*", fn: deferAddon, raw: true})
				continue
			}
			for _, f := range k.oldFamilies {
				rows = append(rows, row{name: p + f, fn: deferAddon, raw: true})
			}
		}
	}
	return rows
}

func deferAddon(t *translator, v *variable, _ *yaml.Node) {
	t.addonVars = append(t.addonVars, v)
}

// belongs tells whether a variable of the stage is the role's.
func (k *addonKind) belongs(name string) bool {
	for i, p := range k.prefixes {
		rest, ok := strings.CutPrefix(name, p)
		switch {
		case !ok:
		case i == 0 || k.oldFamilies == nil:
			return true
		case slices.ContainsFunc(k.oldFamilies, func(f string) bool { return matchesFamily(rest, f) }):
			return true
		}
	}
	return false
}

// matchesFamily matches a name as a row's name does: exactly, or by
// prefix when the family ends in "*".
func matchesFamily(name, family string) bool {
	if prefix, ok := strings.CutSuffix(family, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return name == family
}

// addonSecretVars hold secrets without looking so by name: the kinds'
// secretVars.
var addonSecretVars = map[string]bool{}

// addonRun is one bot, or the admin UI, on its way into the config.
type addonRun struct {
	roleVars
	k *addonKind
	// dbName is the database it keeps, for one that has one.
	dbName string
}

func (t *translator) translateAddons() {
	for _, k := range addonKinds {
		a := &addonRun{roleVars: newRoleVars(t, k.prefixes, t.addonVars, k.belongs), k: k}
		if k.section == "ketesa" && !t.runsSynapse() {
			a.reportRest(t.implementationVar() + ": Ketesa manages Synapse through Synapse's admin API, and matrixgen runs it beside Synapse only")
			continue
		}
		a.run()
	}
}

func (a *addonRun) path(option string) string { return a.k.section + "." + option }

// set writes one option, from the variables named.
func (a *addonRun) set(option string, value *yaml.Node, from ...*variable) {
	a.t.out.set(a.path(option), value, from[0].name, marks(from...))
	for _, v := range from {
		a.t.outcome[v] = true
		a.handled[v] = true
	}
}

func (a *addonRun) run() {
	k, t := a.k, a.t
	on, unreadable := a.enabledFlag()
	switch {
	case unreadable != "":
		a.reportRest(fmt.Sprintf("whether %s runs cannot be read %s", k.what, unreadable))
		return
	case a.enabled == nil:
		a.reportRest(fmt.Sprintf("the playbook runs %s only with %senabled: true, which vars.yml does not set, so it does not read this", k.what, k.prefixes[0]))
		return
	case !on:
		a.handled[a.enabled] = true
		t.readVar(a.enabled, fmt.Sprintf("%s is off, as without %s", k.what, k.section))
		a.reportRest(fmt.Sprintf("%s is off (%s, line %d), so the playbook does not read this", k.what, a.enabled.name, a.enabled.line))
		return
	}
	if why := k.refusal(a); why != "" {
		a.handled[a.enabled] = true
		t.notTranslated(a.enabled, why)
		a.reportRest(fmt.Sprintf("%s is not translated (see %s, line %d)", k.what, a.enabled.name, a.enabled.line))
		return
	}
	k.translate(a)
	a.reportStale()
	for _, v := range a.left() {
		suffix := strings.TrimPrefix(v.name, a.prefix)
		switch {
		case k.left(a, v, suffix):
		case suffix == "container_image_self_build":
			t.reportSwitch(v, "matrixgen runs published images and builds none; set "+a.path("image")+" to an image you build", "off, as in matrixgen")
		case strings.HasPrefix(suffix, "container_") || strings.HasPrefix(suffix, "systemd_") || strings.HasPrefix(suffix, "docker_"):
			t.notTranslated(v, "matrixgen has no option for it: the bundle's units and containers are its own")
		default:
			t.notTranslated(v, k.noOption)
		}
	}
}

// image is set only when vars.yml pins one: otherwise matrixgen's tested
// release runs.
func (a *addonRun) image(repository string) {
	if v, n, ok := a.take("container_image"); ok {
		if val, err := str(n); err == nil {
			a.set("image", val, v)
		} else {
			a.t.notTranslated(v, err.Error())
		}
		a.readAs("version", fmt.Sprintf("%s (line %d) names the whole image", v.name, v.line))
		return
	}
	if v, tag, ok := a.takeText("version"); ok {
		a.set("image", strNode(repository+":"+tag), v)
	}
}

// hostPort takes the port the playbook publishes the role's HTTP port on
// (Docker's "ADDRESS:PORT" or "PORT"): the bundle publishes it on that
// port, at reverse_proxy.bind_address, when your own webserver is the
// reverse proxy.
func (a *addonRun) hostPort(suffix string) {
	v, s, ok := a.takeText(suffix)
	if !ok {
		return
	}
	addr, port, err := splitBind(s)
	if err != nil {
		a.t.notTranslated(v, err.Error())
		return
	}
	a.set("host_port", intNode(port), v)
	bind := "127.0.0.1"
	if n, ok := a.t.out.get("reverse_proxy.bind_address"); ok {
		bind = n.Value
	}
	if addr != bind {
		a.t.notes = append(a.t.notes, fmt.Sprintf("%s: published on reverse_proxy.bind_address (%s), where the playbook published it on %s (%s, line %d)", a.path("host_port"), bind, addr, v.name, v.line))
	}
}

// extraVar is a variable whose value goes to a key of the role's own
// config, through extra.
type extraVar struct{ suffix, path string }

// extra carries over what the role's variables set in its own config
// beyond matrixgen's options, then its configuration extension, which the
// playbook applies last.
func (a *addonRun) extra(vars []extraVar, extension string, refuse func(string) string) {
	extra := &yaml.Node{Kind: yaml.MappingNode}
	origins := map[string]*variable{}
	for _, e := range vars {
		v, n, ok := a.take(e.suffix)
		if !ok {
			continue
		}
		if isEmptyValue(n) {
			a.t.readVar(v, "empty, so the default applies, as in matrixgen")
			continue
		}
		putPath(extra, e.path, plainCopy(n), mark(v))
		origins[e.path] = v
		a.t.outcome[v] = true
	}
	comment := ""
	if v := a.vars[extension]; v != nil && !a.handled[v] {
		a.handled[v] = true
		target := extensionTarget{option: a.path("extra"), program: a.k.what, refuse: refuse}
		if ext := a.t.extension(v, v.node, target); ext != nil {
			if strings.HasSuffix(extension, "_json") {
				yamlStyles(ext)
			}
			a.t.mergeExtension(extra, ext, "", origins, v)
			comment = mark(v)
		}
	}
	if len(extra.Content) > 0 {
		a.t.out.set(a.path("extra"), extra, "", comment)
	}
}

// yamlStyles writes a value parsed from JSON as the rest of the config is
// written: block mappings and lists, strings quoted only where YAML needs.
func yamlStyles(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && !strings.Contains(n.Value, "\n") {
		n.Style = strNode(n.Value).Style
	}
	for _, c := range n.Content {
		yamlStyles(c)
	}
}

func isEmptyValue(n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode {
		_, err := scalarText(n)
		return err == errEmpty
	}
	return len(n.Content) == 0
}

// renamedUnit notes that the bundle's unit for the role differs from the
// playbook's, which must not run beside it.
func (a *addonRun) renamedUnit(ours, why string) {
	a.t.notes = append(a.t.notes, fmt.Sprintf("%s: its unit is %s, not the playbook's %s (%s): before install.sh, run systemctl disable --now %s.service and remove /etc/systemd/system/%s.service, or both run at the next boot",
		a.k.section, ours, a.k.unit, why, a.k.unit, a.k.unit))
}

// refusalWiring makes a refusal for a configuration extension from
// validation's list of the config's keys that matrixgen writes itself
// (with the option to set instead, or "").
func refusalWiring(wiring func(key string) (option string, wired bool), what string) func(string) string {
	return func(path string) string {
		option, wired := wiring(path)
		switch {
		case !wired:
			return ""
		case option != "":
			return "matrixgen writes it from the option " + option
		}
		return "matrixgen writes it itself: it connects " + what + " to Synapse and its data"
	}
}
