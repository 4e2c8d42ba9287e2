package mdad

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/validate"
)

// The options of a translated bridge beyond its names, and its extra.

// permissionLevels are the levels matrixgen's mautrix bridges take.
var permissionLevels = []string{"relay", "commands", "user", "admin"}

// permissions: the bridge's own variable replaces the playbook's default,
// which gives this server's users the user level, matrix_admin the admin
// level, and everyone the relay level (which matters only where relaying
// is possible).
func (b *bridgeRun) permissions() {
	if v := b.vars["bridge_permissions"]; v != nil {
		b.handled[v] = true
		if perms, err := b.t.permissionsNode(v.node); err != nil {
			b.t.notTranslated(v, err.Error()+"; write the permissions into bridges."+b.k.name+".permissions")
		} else {
			b.set("permissions", perms, v)
		}
		return
	}
	perms := &yaml.Node{Kind: yaml.MappingNode}
	if d, ok := b.t.out.get("domain"); ok {
		putPermission(perms, d.Value, "user")
	}
	var from []*variable
	why := ""
	if relayOn, relayVar := b.relay(); relayOn || b.k.starRelay {
		putPermission(perms, "*", "relay")
		if relayVar != nil && !b.k.starRelay {
			from = append(from, relayVar)
		} else {
			why = `the playbook lets everyone ("*") talk through a relay on ` + b.k.name
		}
	}
	if b.g.admin != "" {
		putPermission(perms, b.g.admin, "admin")
		from = append(from, b.g.vars[varAdmin])
	}
	if v := b.vars["bridge_permissions_custom"]; v != nil {
		b.handled[v] = true
		custom, err := b.t.permissionsNode(v.node)
		if err != nil {
			b.t.notTranslated(v, err.Error())
		} else {
			for i := 0; i+1 < len(custom.Content); i += 2 {
				putPermission(perms, custom.Content[i].Value, custom.Content[i+1].Value)
			}
			from = append(from, v)
		}
	}
	if len(from) == 0 && why == "" {
		return // matrixgen's default: this server's users
	}
	var comment []string
	if len(from) > 0 {
		comment = append(comment, marks(from...))
	}
	if why != "" {
		comment = append(comment, why)
	}
	b.t.out.set(b.path("permissions"), perms, "", strings.Join(comment, "; "))
	for _, v := range from {
		b.t.outcome[v] = true
		b.g.handled[v] = true
	}
}

// relay tells whether the bridge allows relaying, and which variable
// says so (nil for the playbook's default, off).
func (b *bridgeRun) relay() (bool, *variable) {
	if !b.k.relay {
		return false, nil
	}
	if v := b.vars["bridge_relay_enabled"]; v != nil {
		if n, err := b.t.r.variable(v.name); err == nil {
			if on, err := toBool(n); err == nil {
				return on, v
			}
		}
		return false, nil // reported when the extra is made
	}
	if b.g.relaySet {
		return b.g.relay, b.g.vars[varRelay]
	}
	return false, nil
}

func putPermission(m *yaml.Node, who, level string) {
	if at, ok := lookup(m, who); ok {
		m.Content[at+1] = strNode(level)
		return
	}
	m.Content = append(m.Content, strNode(who), strNode(level))
}

// permissionsNode reads a mapping of users or servers to permission
// levels; its keys may hold Jinja ("@alice:{{ matrix_domain }}"), which
// the resolver does not take in keys.
func (t *translator) permissionsNode(n *yaml.Node) (*yaml.Node, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode {
		resolved, err := t.r.node(n)
		if err != nil {
			return nil, err
		}
		n = resolved
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("expected a mapping of users and servers to permission levels")
	}
	out := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(n.Content); i += 2 {
		who, err := t.r.substitute(n.Content[i].Value)
		if err != nil {
			return nil, err
		}
		val, err := t.r.node(n.Content[i+1])
		if err != nil {
			return nil, err
		}
		level, err := scalarText(val)
		if err != nil || !slices.Contains(permissionLevels, level) {
			return nil, fmt.Errorf("%s: %q is not one of %s", who, val.Value, strings.Join(permissionLevels, ", "))
		}
		putPermission(out, who, level)
	}
	return out, nil
}

// doublePuppetOption: the playbook's bridges double-puppet only through
// its appservice-double-puppet, which is off unless vars.yml turns it on.
func (b *bridgeRun) doublePuppetOption() {
	if b.g.doublePuppet {
		b.g.anyDoublePuppet = true
		return
	}
	if v := b.g.vars[varDoublePuppet]; v != nil && b.g.dpSet {
		b.set("double_puppet", boolNode(false), v)
		return
	}
	b.setFact("double_puppet", boolNode(false), "not in vars.yml: the playbook double-puppets only with "+varDoublePuppet+": true")
	if !b.g.noted {
		b.g.noted = true
		b.t.notes = append(b.t.notes, "bridges.*.double_puppet: false (not in vars.yml: the playbook double-puppets only with "+varDoublePuppet+": true; set double_puppet to true, or remove it, for what docs/bridges.md describes)")
	}
}

// encryption: the bridge's own variables, else the playbook's global ones
// (whose default follows whether encryption is allowed).
func (b *bridgeRun) encryption() {
	if v, on, ok := b.takeBool("bridge_encryption_allow"); ok {
		b.set("encryption.allow", boolNode(on), v)
	} else if b.g.encryptionSet && b.g.encryption {
		b.set("encryption.allow", boolNode(true), b.g.vars[varEncryption])
	}
	switch v, on, ok := b.takeBool("bridge_encryption_default"); {
	case ok:
		b.set("encryption.default", boolNode(on), v)
	case b.g.encryptionOnSet:
		if b.g.encryptionOn {
			b.set("encryption.default", boolNode(true), b.g.vars[varEncryptionOn])
		}
	case b.g.encryptionSet && b.g.encryption:
		b.set("encryption.default", boolNode(true), b.g.vars[varEncryption])
	}
	if v := b.vars["bridge_encryption_enabled"]; v != nil && !b.handled[v] {
		b.handled[v] = true
		b.t.notTranslated(v, "the playbook does not read it: its variable for this is "+b.prefix+"bridge_encryption_allow")
	}
}

// logLevels are the levels matrixgen's mautrix bridges take; the playbook
// also has fatal.
var logLevels = []string{"trace", "debug", "info", "warn", "error"}

func (b *bridgeRun) logLevel() {
	v, n, ok := b.take(b.k.logVar)
	if !ok {
		return
	}
	level, err := scalarText(n)
	switch {
	case err == errEmpty:
		b.t.readVar(v, "empty, so matrixgen's default applies")
	case err != nil:
		b.t.notTranslated(v, err.Error())
	case !slices.Contains(logLevels, level):
		b.t.notTranslated(v, fmt.Sprintf("%q is not one of matrixgen's levels (%s)", level, strings.Join(logLevels, ", ")))
	default:
		b.set("log_level", strNode(level), v)
	}
}

// extra carries over what the playbook's variables set in the bridge's own
// config beyond matrixgen's options, then the configuration extension,
// which the playbook applies last.
func (b *bridgeRun) extra() {
	extra := &yaml.Node{Kind: yaml.MappingNode}
	origins := map[string]*variable{}
	put := func(path string, value *yaml.Node, v *variable) {
		putPath(extra, path, value, mark(v))
		origins[path] = v
		b.handled[v] = true
		b.t.outcome[v] = true
		b.g.handled[v] = true
	}
	if b.k.relay {
		if v, on, ok := b.takeBool("bridge_relay_enabled"); ok {
			if on {
				put("bridge.relay.enabled", boolNode(true), v)
			} else {
				b.t.readVar(v, "relaying is off, as in matrixgen's config")
			}
		} else if on, v := b.relay(); on && v != nil {
			put("bridge.relay.enabled", boolNode(true), v)
		}
		if v, on, ok := b.takeBool("bridge_relay_admin_only"); ok {
			put("bridge.relay.admin_only", boolNode(on), v)
		}
		if v, n, ok := b.take("bridge_relay_default_relays"); ok {
			if list, err := stringList(n); err == nil {
				put("bridge.relay.default_relays", list, v)
			} else {
				b.t.readVar(v, "empty, as in matrixgen's config")
			}
		}
	}
	if b.k.bridgev2 {
		if v, on, ok := b.takeBool("backfill_enabled"); ok {
			put("backfill.enabled", boolNode(on), v)
		}
	}
	if b.k.extra != nil {
		b.k.extra(b, put)
	}
	comment := ""
	if v := b.vars["configuration_extension_yaml"]; v != nil && !b.handled[v] {
		b.handled[v] = true
		target := extensionTarget{option: b.path("extra"), program: b.k.name, refuse: bridgeWiringRefusal(b.k.typ)}
		if ext := b.t.extension(v, v.node, target); ext != nil {
			b.t.mergeExtension(extra, ext, "", origins, v)
			comment = mark(v)
		}
	}
	if len(extra.Content) > 0 {
		b.t.out.set(b.path("extra"), extra, "", comment)
	}
}

// mergeExtension merges the extension into extra as the playbook does
// (mappings merge, the extension's values win), and reports each variable
// whose value the extension replaces.
func (t *translator) mergeExtension(into, ext *yaml.Node, at string, origins map[string]*variable, extVar *variable) {
	for i := 0; i+1 < len(ext.Content); i += 2 {
		k, v := ext.Content[i], ext.Content[i+1]
		path := strings.TrimPrefix(at+"."+k.Value, ".")
		j, found := lookup(into, k.Value)
		switch {
		case !found:
			into.Content = append(into.Content, k, v)
		case into.Content[j+1].Kind == yaml.MappingNode && v.Kind == yaml.MappingNode:
			t.mergeExtension(into.Content[j+1], v, path, origins, extVar)
		default:
			into.Content[j+1] = v
			for _, p := range slices.Sorted(maps.Keys(origins)) {
				if p == path || strings.HasPrefix(p, path+".") {
					t.notTranslated(origins[p], fmt.Sprintf("%s (line %d) sets %s too, and the playbook applies it last", extVar.name, extVar.line, path))
				}
			}
		}
	}
}

// putPath sets a dotted path in a mapping, making the mappings above it.
func putPath(m *yaml.Node, path string, value *yaml.Node, comment string) {
	parts := strings.Split(path, ".")
	for _, part := range parts[:len(parts)-1] {
		at, ok := lookup(m, part)
		if !ok {
			m.Content = append(m.Content, strNode(part), &yaml.Node{Kind: yaml.MappingNode})
			at = len(m.Content) - 2
		}
		m = m.Content[at+1]
	}
	key := strNode(parts[len(parts)-1])
	if value.Kind == yaml.ScalarNode {
		value.LineComment = comment
	} else {
		key.LineComment = comment
	}
	m.Content = append(m.Content, key, value)
}

// bridgeWiringRefusal says why an extension key may not be carried into
// extra: validation refuses the keys matrixgen writes itself.
func bridgeWiringRefusal(bridgeType string) func(path string) string {
	return func(path string) string {
		option, wired := validate.BridgeWiring(bridgeType, path)
		switch {
		case !wired:
			return ""
		case option != "":
			return "matrixgen writes it from the bridge's option " + option
		}
		return "matrixgen writes it itself: it connects the bridge to Synapse, its database or its host secrets"
	}
}
