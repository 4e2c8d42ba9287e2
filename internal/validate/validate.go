// Package validate turns the bytes of matrix.yaml into a config.Config: YAML
// parsing, unknown-key detection, CUE unification with the schema, and the
// semantic checks that span several options. Every problem is reported with
// the config path and the position of the user's input, all at once.
package validate

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// Load validates a config file's contents; file names the input in messages.
// A nil Config comes with at least one diagnostic.
func Load(file string, data []byte) (*config.Config, diag.List) {
	cfg, _, problems := LoadSource(file, data)
	return cfg, problems
}

// Source places config paths in the user's file, for the problems later
// stages find: compile reports a conflict at the option a part of the
// plan came from.
type Source struct {
	ix       *index
	warnings diag.List
}

// Warnings are what the config does that works but should change, such as
// an option written under its old name.
func (s *Source) Warnings() diag.List { return s.warnings.Sorted() }

// Locate gives d the position of its Path in the file: the value written
// there, or the closest enclosing one the file has. A diagnostic without
// a path is about the config as a whole and gets the file alone.
func (s *Source) Locate(d diag.Diagnostic) diag.Diagnostic {
	d.Subject = diag.Range{File: s.ix.file}
	if d.Path != "" {
		d.Subject = s.ix.at(d.Path)
	}
	return d
}

// LoadSource is Load that also returns where each option is in the file,
// and the warnings; the Source is nil when the file could not be read as
// YAML. With problems, the warnings are among them: a message about an
// option written under its old name uses the new one.
func LoadSource(file string, data []byte) (*config.Config, *Source, diag.List) {
	if d, ok := checkBytes(file, data); !ok {
		return nil, nil, diag.List{d}
	}
	cfg, ix, warnings, problems := load(file, data)
	if len(problems) > 0 {
		problems = append(problems, warnings...).Sorted()
	}
	return cfg, &Source{ix, warnings}, problems
}

func load(file string, data []byte) (cfg *config.Config, ix *index, warnings, problems diag.List) {
	input, ix, problems := parseYAML(file, data)
	if problems != nil {
		return nil, ix, nil, problems.Sorted()
	}
	root, ok := input.(map[string]any)
	if !ok {
		return nil, ix, nil, diag.List{{Summary: "the config must be a mapping of options", Subject: ix.at("")}}
	}
	ctx, def := compiled()
	warnings, renameProblems := applyRenames(root, ix)
	root, problems = checkVariants(root, ix)
	problems = append(problems, renameProblems...)
	problems = append(problems, unknownKeys(def, root, "", ix)...)
	unified := def.Unify(ctx.Encode(root))
	problems = append(problems, cueProblems(unified.Validate(cue.Concrete(true)), root, ix, problems)...)
	if len(problems) > 0 {
		return nil, ix, warnings, problems.Sorted()
	}
	cfg = &config.Config{}
	if err := unified.Decode(cfg); err != nil {
		panic(fmt.Sprintf("schema and config.Config disagree: %v", err))
	}
	decodeVariants(unified, cfg)
	if problems = semanticChecks(cfg, ix); len(problems) > 0 {
		return nil, ix, warnings, problems.Sorted()
	}
	return cfg, ix, warnings, nil
}

func checkBytes(file string, data []byte) (diag.Diagnostic, bool) {
	at := diag.Range{File: file}
	if len(data) > maxConfigBytes {
		return diag.Diagnostic{Summary: fmt.Sprintf("the file is %d bytes; a config is at most %d", len(data), maxConfigBytes), Subject: at}, false
	}
	if !utf8.Valid(data) {
		at.Start = offsetPos(data, firstInvalidUTF8(data))
		return diag.Diagnostic{Summary: "the file is not valid UTF-8", Subject: at}, false
	}
	if i := strings.IndexByte(string(data), 0); i >= 0 {
		at.Start = offsetPos(data, i)
		return diag.Diagnostic{Summary: "the file contains a NUL byte", Subject: at}, false
	}
	return diag.Diagnostic{}, true
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// offsetPos counts lines as YAML does, so that positions found here agree
// with the ones yaml.v3 reports for the same file.
func offsetPos(data []byte, offset int) diag.Pos {
	line, col := 1, 1
	for i := 0; i < offset; {
		if n := lineBreak(data[i:]); n > 0 {
			line, col, i = line+1, 1, i+n
			continue
		}
		_, size := utf8.DecodeRune(data[i:])
		col, i = col+1, i+size
	}
	return diag.Pos{Line: line, Col: col, Byte: offset}
}

// lineBreak is the length of the line break b starts with, or 0. YAML ends a
// line at CRLF, CR, LF, NEL, LS and PS alike.
func lineBreak(b []byte) int {
	for _, br := range []string{"\r\n", "\r", "\n", "\u0085", "\u2028", "\u2029"} {
		if bytes.HasPrefix(b, []byte(br)) {
			return len(br)
		}
	}
	return 0
}

// unknownKeys walks the input beside the schema and reports every key the
// schema does not define, pointing at the key and suggesting a near name.
// A schema value's alternatives are taken apart once per mapping, not once
// per key: each time costs CUE a fresh evaluation of the value, and that
// made this walk cost more than the unification itself.
func unknownKeys(schema cue.Value, input any, path string, ix *index) diag.List {
	var out diag.List
	switch v := input.(type) {
	case map[string]any:
		if m, ok := variantFor(path); ok {
			return variantKeys(m, v, path, ix)
		}
		alts := alternatives(schema)
		if anyOpen(alts) {
			return nil
		}
		if schema.IncompleteKind()&cue.StructKind == 0 {
			return nil // a type error, reported by unification; its keys are no news
		}
		for _, key := range sortedKeys(v) {
			child, ok := lookupIn(alts, cue.Str(key))
			if !ok {
				out = append(out, unknownKey(schema, v, key, path, ix))
				continue
			}
			out = append(out, unknownKeys(child, v[key], joinPath(path, key), ix)...)
		}
	case []any:
		elem, ok := schemaChild(schema, cue.AnyIndex)
		if !ok {
			return nil // a type error, reported by unification
		}
		for i, item := range v {
			out = append(out, unknownKeys(elem, item, joinPath(path, strconv.Itoa(i)), ix)...)
		}
	}
	return out
}

func unknownKey(schema cue.Value, given map[string]any, key, path string, ix *index) diag.Diagnostic {
	d := diag.Diagnostic{Path: joinPath(path, key), Summary: "unknown option", Subject: ix.keyAt(joinPath(path, key))}
	if summary, detail, moved := movedOption(d.Path); moved {
		d.Summary, d.Detail = summary, detail
		return d
	}
	var unused []string
	for _, name := range fieldNames(schema) {
		if _, set := given[name]; !set {
			unused = append(unused, name)
		}
	}
	if near := diag.DidYouMean(key, unused); near != "" {
		d.Detail = fmt.Sprintf("did you mean %q?", near)
	} else if len(unused) > 0 && path != "" {
		d.Detail = fmt.Sprintf("options here: %s", strings.Join(dedupeSorted(fieldNames(schema)), ", "))
	}
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dedupeSorted(names []string) []string {
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out
}

// cueProblems turns unification errors into diagnostics at the user's
// value, one per option. Paths already reported as unknown keys are skipped.
func cueProblems(err error, input any, ix *index, known diag.List) diag.List {
	reported := map[string]bool{}
	for _, d := range known {
		reported[d.Path] = true
	}
	type found struct {
		err   cueerrors.Error
		path  string
		again bool // from recheckList
	}
	var errs []found
	rechecked := map[string]bool{}
	for _, e := range cueerrors.Errors(err) {
		path := cuePath(e)
		errs = append(errs, found{e, path, false})
		if !disjunctionSummary(e) || ix.nodes[path].kind != "list" {
			continue
		}
		if more, ok := recheckList(path, input); ok {
			rechecked[path] = true
			for _, m := range more {
				errs = append(errs, found{m, rebase(cuePath(m), path), true})
			}
		}
	}
	byPath := map[string][]string{}
	for _, f := range errs {
		if (rechecked[f.path] || underReported(f.path, rechecked)) && !f.again {
			continue // replaced by the list's own check
		}
		if reported[f.path] || underReported(f.path, reported) || disjunctionSummary(f.err) {
			continue
		}
		if msg := cueMessage(f.err, f.path, ix); msg != "" {
			byPath[f.path] = append(byPath[f.path], msg)
		}
	}
	var out diag.List
	for _, path := range sortedKeys(byPath) {
		summary, onKey := oneMessage(path, byPath[path], ix)
		at := ix.at(path)
		if onKey {
			at = ix.keyAt(path)
		}
		out = append(out, diag.Diagnostic{Path: path, Summary: summary, Subject: at})
	}
	if len(out) == 0 && len(known) == 0 && err != nil {
		// Never let an error through as a valid config, even one folded away above.
		out = append(out, diag.Diagnostic{Summary: err.Error(), Subject: ix.at("")})
	}
	return out
}

// disjunctionSummary tells the error that heads a failed disjunction; its
// alternatives' errors follow one by one.
func disjunctionSummary(e cueerrors.Error) bool {
	format, args := e.Msg()
	return strings.Contains(fmt.Sprintf(format, args...), "errors in empty disjunction")
}

// recheckList validates a list the user gave against the one alternative of
// its option that is not a default list. In a failed disjunction CUE reports
// only the first bad element of each alternative; a list with three mistakes
// would otherwise take three runs to fix.
func recheckList(path string, input any) ([]cueerrors.Error, bool) {
	v, ok := schemaAt(path)
	if !ok {
		return nil, false
	}
	alts := alternatives(v)
	if op, args := v.Expr(); op == cue.NoOp && len(args) == 1 {
		// Inside a list's items CUE hands out the option with its
		// default folded away: the one alternative left is the list.
		alts = args
	}
	var open []cue.Value
	for _, alt := range alts {
		if alt.Allows(cue.AnyIndex) {
			open = append(open, alt)
		}
	}
	given, ok := valueAt(input, path)
	if len(open) != 1 || !ok {
		return nil, false
	}
	ctx, _ := compiled()
	return cueerrors.Errors(open[0].Unify(ctx.Encode(given)).Validate(cue.Concrete(true))), true
}

// rebase puts an error of a list checked on its own (recheckList) at the
// list's option path. Inside a list's items CUE names the item "_", not its
// index, so the error's path has the option's length but not its labels.
func rebase(errPath, listPath string) string {
	labels, n := strings.Split(errPath, "."), strings.Count(listPath, ".")+1
	if len(labels) < n {
		return listPath
	}
	return strings.Join(append([]string{listPath}, labels[n:]...), ".")
}

// valueAt finds the user's value at an option path. Keys with a dot cannot
// be told apart from nesting; they only occur below the extra mappings.
func valueAt(input any, path string) (any, bool) {
	for _, label := range strings.Split(path, ".") {
		switch v := input.(type) {
		case map[string]any:
			child, ok := v[label]
			if !ok {
				return nil, false
			}
			input = child
		case []any:
			i, err := strconv.Atoi(label)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			input = v[i]
		default:
			return nil, false
		}
	}
	return input, true
}

// cuePath is the option path of an error, with CUE's quotes taken off labels
// such as "Shared-Buffers" so that it matches the user's keys.
func cuePath(e cueerrors.Error) string {
	var labels []string
	for i, l := range e.Path() {
		if i == 0 && l == "#Config" {
			continue
		}
		if u, err := strconv.Unquote(l); err == nil {
			l = u
		}
		labels = append(labels, l)
	}
	return strings.Join(labels, ".")
}

// schemaAt is the schema of an option path; a list index stands for any element.
func schemaAt(path string) (cue.Value, bool) {
	v := Schema()
	if path == "" {
		return v, true
	}
	for _, label := range strings.Split(path, ".") {
		sel := cue.Str(label)
		if _, err := strconv.Atoi(label); err == nil {
			sel = cue.AnyIndex
		}
		var ok bool
		if v, ok = schemaChild(v, sel); !ok {
			return cue.Value{}, false
		}
	}
	return v, true
}

// oneMessage folds the messages CUE gives for one option into one. A value
// that fails a disjunction with a default gets one message per alternative:
// the bound it broke says most; then a type mismatch, said in plain words;
// a list of rejected enum members becomes "must be one of". onKey is set
// when the key, not its value, is at fault.
func oneMessage(path string, msgs []string, ix *index) (summary string, onKey bool) {
	var bounds, conflicts, mismatches, notAllowed []string
	for _, m := range msgs {
		switch {
		case m == "field not allowed":
			notAllowed = append(notAllowed, m)
		case strings.HasPrefix(m, "incompatible list lengths"):
		case m == "invalid interpolation": // a default built from this value, which has its own message
		case strings.HasPrefix(m, "conflicting values ") && strings.Contains(m, "(mismatched types "):
			mismatches = append(mismatches, m)
		case strings.HasPrefix(m, "conflicting values "):
			conflicts = append(conflicts, m)
		default:
			bounds = append(bounds, m)
		}
	}
	loc, given := ix.nodes[path]
	switch {
	case len(bounds) > 0:
		return strings.Join(dedupeSorted(bounds), "; "), false
	case len(mismatches) > 0 && given && loc.kind != "":
		return typeMessage(mismatches, loc.kind), false
	case len(conflicts) > 0:
		return enumMessage(conflicts, loc.text), false
	case len(notAllowed) > 0:
		// Only the maps with a pattern for their keys get here: closed
		// structs are checked, with suggestions, by unknownKeys.
		if want, ok := keyDescriptions[genericPath(parentPath(path))]; ok {
			return "invalid name: " + want, true
		}
		return "unknown option", true
	}
	return strings.Join(msgs, "; "), false
}

// typeMessage says which kinds of value the option takes, from the
// "(mismatched types X and Y)" of each alternative, and which kind was given.
func typeMessage(mismatches []string, given string) string {
	want := map[string]bool{}
	for _, m := range mismatches {
		i := strings.LastIndex(m, "(mismatched types ")
		pair := strings.TrimSuffix(m[i+len("(mismatched types "):], ")")
		for _, k := range strings.Split(pair, " and ") {
			if k != given {
				want[k] = true
			}
		}
	}
	if want["number"] {
		delete(want, "int")
		delete(want, "float")
	}
	var names []string
	for _, k := range kindOrder {
		if want[k] {
			names = append(names, kindName(k, len(want) == 1))
		}
	}
	if len(names) == 0 {
		return strings.Join(mismatches, "; ")
	}
	list := names[len(names)-1]
	if len(names) > 1 {
		list = strings.Join(names[:len(names)-1], ", ") + " or " + list
	}
	return fmt.Sprintf("must be %s, not %s", list, givenKindName(given))
}

var kindOrder = []string{"struct", "list", "string", "int", "float", "number", "bool", "null", "bytes"}

func kindName(k string, only bool) string {
	switch k {
	case "struct":
		return "a mapping"
	case "list":
		return "a list"
	case "string":
		return "a string"
	case "int":
		return "an integer"
	case "float":
		return "a floating-point number"
	case "number":
		return "a number"
	case "bool":
		if only {
			return "true or false"
		}
		return "a boolean"
	case "null":
		return "null"
	}
	return k
}

func givenKindName(k string) string {
	switch k {
	case "bool":
		return "a boolean"
	case "null":
		return "an empty value"
	}
	return kindName(k, false)
}

// enumMessage lists the values the option accepts. given is the user's value
// as CUE prints it, when known: CUE names it first or last depending on the
// schema, so the side that is not the user's value is the allowed one.
func enumMessage(conflicts []string, given string) string {
	var allowed []string
	for _, m := range conflicts {
		var a, b string
		rest := strings.TrimPrefix(m, "conflicting values ")
		if i := strings.Index(rest, " and "); i >= 0 {
			a, b = rest[:i], rest[i+len(" and "):]
		}
		switch {
		case given != "" && a == given:
			allowed = append(allowed, b)
		case given != "" && b == given:
			allowed = append(allowed, a)
		default:
			allowed, given = append(allowed, a), b
		}
	}
	allowed = dedupeSorted(allowed)
	if len(allowed) == 1 {
		return fmt.Sprintf("invalid value %s: must be %s", given, allowed[0])
	}
	return fmt.Sprintf("invalid value %s: must be one of %s", given, strings.Join(allowed, ", "))
}

func underReported(path string, reported map[string]bool) bool {
	for p := parentPath(path); p != ""; p = parentPath(p) {
		if reported[p] {
			return true
		}
	}
	return false
}

func cueMessage(e cueerrors.Error, path string, ix *index) string {
	format, args := e.Msg()
	msg := fmt.Sprintf(format, args...)
	if _, given := ix.nodes[path]; !given && strings.Contains(msg, "incomplete value") {
		if derivedDefault(path) {
			return "" // follows from another missing option, reported there
		}
		return "required option is missing"
	}
	return friendlier(msg, path)
}

// derivedDefault tells whether the schema has a default for path, so that
// it can only be incomplete because an option it is computed from is.
func derivedDefault(path string) bool {
	return len(alternatives(Schema().LookupPath(cue.ParsePath(path)))) > 1
}

// friendlier says in words what a bound CUE reports as broken requires:
// nobody should have to read a hostname regex or ">=1".
func friendlier(msg, path string) string {
	value, bound, ok := splitBound(msg)
	if !ok {
		return msg
	}
	if want := describeBound(bound, path); want != "" {
		return "invalid value " + value + ": " + want
	}
	return msg
}

// splitBound takes apart CUE's "invalid value V (out of bound B)" and
// "invalid value V (does not satisfy B)". The bound comes last, so a value
// that itself contains such text cannot mislead it.
func splitBound(msg string) (value, bound string, ok bool) {
	rest, found := strings.CutPrefix(msg, "invalid value ")
	if !found || !strings.HasSuffix(rest, ")") {
		return "", "", false
	}
	for _, sep := range []string{" (out of bound ", " (does not satisfy "} {
		if i := strings.LastIndex(rest, sep); i >= 0 {
			return rest[:i], rest[i+len(sep) : len(rest)-1], true
		}
	}
	return "", "", false
}

func describeBound(bound, path string) string {
	for _, op := range []struct{ prefix, want string }{
		{">=", "must be at least "}, {"<=", "must be at most "}, {">", "must be above "}, {"<", "must be below "},
	} {
		if n, ok := strings.CutPrefix(bound, op.prefix); ok {
			if _, err := strconv.ParseFloat(n, 64); err == nil {
				return op.want + n
			}
		}
	}
	if v, ok := strings.CutPrefix(bound, "!="); ok {
		return "must not be " + v
	}
	if len(bound) > 2 && (bound[:2] == "=~" || bound[:2] == "!~") {
		re, err := strconv.Unquote(bound[2:])
		if err != nil {
			return ""
		}
		for _, r := range patternNames {
			if r.op == bound[:2] && r.pattern == re {
				return r.want
			}
		}
		return formatDescriptions[genericPath(path)]
	}
	if n, ok := strings.CutPrefix(bound, "strings.MaxRunes("); ok {
		return "must be at most " + strings.TrimSuffix(n, ")") + " characters"
	}
	return ""
}

// genericPath replaces list indices by "*", the form of the description
// tables' keys: every element of a list follows the same rule.
func genericPath(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if _, err := strconv.Atoi(p); err == nil {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, ".")
}
