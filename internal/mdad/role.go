package mdad

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// roleVars are the variables of one of the playbook's roles (a bridge, a
// bot, the admin UI) on their way into the config. The playbook has
// renamed the variables of some roles; the enable flag decides which
// generation of names vars.yml is written for, and a variable of the other
// generation is reported, as the playbook would not read it.
type roleVars struct {
	t *translator
	// prefixes name the role's variables, the current generation first;
	// all are every variable of the role in vars.yml, in file order.
	prefixes []string
	all      []*variable
	// enabled is the variable that turns the role on (nil: not set);
	// prefix is the generation of names in use, vars its variables of
	// that generation by suffix, stale those of the other one.
	enabled *variable
	prefix  string
	vars    map[string]*variable
	stale   []*variable
	handled map[*variable]bool
}

// newRoleVars sorts the role's variables by generation. belongs tells
// whether a variable of the stage is the role's (by default, whether it
// starts with one of the prefixes).
func newRoleVars(t *translator, prefixes []string, stage []*variable, belongs func(string) bool) roleVars {
	if belongs == nil {
		belongs = func(name string) bool {
			return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) })
		}
	}
	r := roleVars{t: t, prefixes: prefixes, vars: map[string]*variable{}, handled: map[*variable]bool{}}
	byName := map[string]*variable{}
	for _, v := range stage {
		if belongs(v.name) {
			r.all = append(r.all, v)
			byName[v.name] = v
		}
	}
	r.prefix = prefixes[0]
	for _, p := range prefixes[1:] {
		if byName[r.prefix+"enabled"] == nil && byName[p+"enabled"] != nil {
			r.prefix = p
		}
	}
	r.enabled = byName[r.prefix+"enabled"]
	for _, v := range r.all {
		if suffix, ok := strings.CutPrefix(v.name, r.prefix); ok {
			r.vars[suffix] = v
		} else {
			r.stale = append(r.stale, v)
		}
	}
	return r
}

// value returns a variable of the role with its references resolved;
// v is nil when vars.yml does not set it.
func (r *roleVars) value(suffix string) (v *variable, n *yaml.Node, err error) {
	v = r.vars[suffix]
	if v == nil {
		return nil, nil, nil
	}
	n, err = r.t.r.variable(v.name)
	return v, n, err
}

// text returns a variable's text, "" when it is not set or empty.
func (r *roleVars) text(suffix string) (string, *variable, error) {
	v, n, err := r.value(suffix)
	if v == nil || err != nil {
		return "", v, err
	}
	s, err := scalarText(n)
	if err == errEmpty {
		return "", v, nil
	}
	return s, v, err
}

// flag reads a true/false variable without taking it; set is false when
// vars.yml does not set it or it cannot be read (it is reported when it
// is taken).
func (r *roleVars) flag(suffix string) (on, set bool) {
	v, n, err := r.value(suffix)
	if v == nil || err != nil {
		return false, false
	}
	on, err = toBool(n)
	return on, err == nil
}

// take returns a variable to translate, once; a value it cannot read is
// reported, and take returns ok false.
func (r *roleVars) take(suffix string) (v *variable, n *yaml.Node, ok bool) {
	v, n, err := r.value(suffix)
	if v == nil || r.handled[v] {
		return nil, nil, false
	}
	r.handled[v] = true
	if err != nil {
		r.t.notTranslated(v, err.Error())
		return nil, nil, false
	}
	return v, n, true
}

// takeBool is take for a true/false variable.
func (r *roleVars) takeBool(suffix string) (v *variable, value, ok bool) {
	v, n, ok := r.take(suffix)
	if !ok {
		return nil, false, false
	}
	value, err := toBool(n)
	if err != nil {
		r.t.notTranslated(v, err.Error())
		return nil, false, false
	}
	return v, value, true
}

// takeText is take for a variable that holds one value; empty, it is
// read as leaving the default.
func (r *roleVars) takeText(suffix string) (v *variable, s string, ok bool) {
	v, n, ok := r.take(suffix)
	if !ok {
		return nil, "", false
	}
	s, err := scalarText(n)
	switch {
	case err == errEmpty:
		r.t.readVar(v, "empty, so matrixgen's default applies")
		return nil, "", false
	case err != nil:
		r.t.notTranslated(v, err.Error())
		return nil, "", false
	}
	return v, s, true
}

// nameVar reads a variable that overrides one of the playbook's names.
func (r *roleVars) nameVar(suffix string, name *string) *variable {
	v, n, ok := r.take(suffix)
	if !ok {
		return nil
	}
	s, err := scalarText(n)
	if err != nil {
		r.t.notTranslated(v, err.Error())
		return nil
	}
	*name = s
	return v
}

// readAs reads a variable that needs no option, once.
func (r *roleVars) readAs(suffix, why string) {
	if v := r.vars[suffix]; v != nil && !r.handled[v] {
		r.handled[v] = true
		r.t.readVar(v, why)
	}
}

// reportAs reports a variable, once.
func (r *roleVars) reportAs(suffix, why string) {
	if v := r.vars[suffix]; v != nil && !r.handled[v] {
		r.handled[v] = true
		r.t.notTranslated(v, why)
	}
}

// enabledFlag reads the enable flag. When it cannot be read, it is
// reported, and unreadable names it ("" otherwise).
func (r *roleVars) enabledFlag() (on bool, unreadable string) {
	if r.enabled == nil {
		return false, ""
	}
	n, err := r.t.r.variable(r.enabled.name)
	if err == nil {
		on, err = toBool(n)
	}
	if err != nil {
		r.handled[r.enabled] = true
		r.t.notTranslated(r.enabled, err.Error())
		return false, fmt.Sprintf("(%s, line %d)", r.enabled.name, r.enabled.line)
	}
	return on, ""
}

// reportRest reports every variable of the role not handled yet, for one
// reason.
func (r *roleVars) reportRest(why string) {
	for _, v := range r.all {
		if !r.handled[v] {
			r.handled[v] = true
			r.t.notTranslated(v, why)
		}
	}
}

// reportStale reports the variables of the generation of names that
// vars.yml is not written for.
func (r *roleVars) reportStale() {
	current := r.prefixes[0]
	for _, v := range r.stale {
		r.handled[v] = true
		old := r.prefixes[slices.IndexFunc(r.prefixes, func(p string) bool { return strings.HasPrefix(v.name, p) })]
		switch {
		case r.prefix == current:
			r.t.notTranslated(v, fmt.Sprintf("an old name (the playbook renamed %s* to %s*), which the playbook that reads %s does not read", old, current, r.enabled.name))
		default:
			r.t.notTranslated(v, fmt.Sprintf("a new name (the playbook renamed %s* to %s*), which the playbook that reads %s does not know", r.prefix, current, r.enabled.name))
		}
	}
}

// left lists the role's variables that nothing has handled yet, marking
// them handled: the caller reports each.
func (r *roleVars) left() []*variable {
	var out []*variable
	for _, v := range r.all {
		if !r.handled[v] {
			r.handled[v] = true
			out = append(out, v)
		}
	}
	return out
}
