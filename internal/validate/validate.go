// Package validate turns the bytes of matrix.yaml into a config.Config: YAML
// parsing, unknown-key detection, CUE unification with the schema, and the
// semantic checks that span several options. Every problem is reported with
// the config path and the position of the user's input, all at once.
package validate

import (
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
	if d, ok := checkBytes(file, data); !ok {
		return nil, diag.List{d}
	}
	input, ix, problems := parseYAML(file, data)
	if problems != nil {
		return nil, problems.Sorted()
	}
	root, ok := input.(map[string]any)
	if !ok {
		return nil, diag.List{{Summary: "the config must be a mapping of options", Subject: ix.at("")}}
	}
	ctx, def := compiled()
	problems = unknownKeys(def, root, "", ix)
	unified := def.Unify(ctx.Encode(root))
	problems = append(problems, cueProblems(unified.Validate(cue.Concrete(true)), ix, problems)...)
	if len(problems) > 0 {
		return nil, problems.Sorted()
	}
	var cfg config.Config
	if err := unified.Decode(&cfg); err != nil {
		panic(fmt.Sprintf("schema and config.Config disagree: %v", err))
	}
	if problems = semanticChecks(&cfg, ix); len(problems) > 0 {
		return nil, problems.Sorted()
	}
	return &cfg, nil
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

func offsetPos(data []byte, offset int) diag.Pos {
	line, col := 1, 1
	for _, r := range string(data[:offset]) {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return diag.Pos{Line: line, Col: col, Byte: offset}
}

// unknownKeys walks the input beside the schema and reports every key the
// schema does not define, pointing at the key and suggesting a near name.
func unknownKeys(schema cue.Value, input any, path string, ix *index) diag.List {
	var out diag.List
	switch v := input.(type) {
	case map[string]any:
		if isOpen(schema) {
			return nil
		}
		for _, key := range sortedKeys(v) {
			child, ok := schemaChild(schema, cue.Str(key))
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
	var unused []string
	for _, name := range fieldNames(schema) {
		if _, set := given[name]; !set {
			unused = append(unused, name)
		}
	}
	if near := didYouMean(key, unused); near != "" {
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
func cueProblems(err error, ix *index, known diag.List) diag.List {
	reported := map[string]bool{}
	for _, d := range known {
		reported[d.Path] = true
	}
	byPath := map[string][]string{}
	for _, e := range cueerrors.Errors(err) {
		path := strings.TrimPrefix(strings.Join(e.Path(), "."), "#Config.")
		if path == "#Config" {
			path = ""
		}
		if reported[path] || underReported(path, reported) {
			continue
		}
		if msg := cueMessage(e, path, ix); msg != "" {
			byPath[path] = append(byPath[path], msg)
		}
	}
	var out diag.List
	for _, path := range sortedKeys(byPath) {
		out = append(out, diag.Diagnostic{Path: path, Summary: oneMessage(byPath[path]), Subject: ix.at(path)})
	}
	return out
}

// oneMessage folds the messages CUE gives for one option into one. A value
// that fails a disjunction with a default gets one message per alternative:
// the bound it broke says most; a list of rejected enum members becomes
// "must be one of".
func oneMessage(msgs []string) string {
	var bounds, conflicts []string
	for _, m := range msgs {
		switch {
		case strings.Contains(m, "errors in empty disjunction"):
		case strings.HasPrefix(m, "conflicting values "):
			conflicts = append(conflicts, m)
		default:
			bounds = append(bounds, m)
		}
	}
	if len(bounds) > 0 {
		return strings.Join(dedupeSorted(bounds), "; ")
	}
	if len(conflicts) > 1 {
		return enumMessage(conflicts)
	}
	if len(conflicts) == 1 {
		return conflicts[0]
	}
	return strings.Join(msgs, "; ")
}

func enumMessage(conflicts []string) string {
	var allowed []string
	given := ""
	for _, m := range conflicts {
		var a, b string
		rest := strings.TrimPrefix(m, "conflicting values ")
		if i := strings.Index(rest, " and "); i >= 0 {
			a, b = rest[:i], rest[i+len(" and "):]
			if j := strings.Index(b, " ("); j >= 0 {
				b = b[:j]
			}
		}
		allowed, given = append(allowed, a), b
	}
	return fmt.Sprintf("invalid value %s: must be one of %s", given, strings.Join(dedupeSorted(allowed), ", "))
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
	return friendlier(msg)
}

// derivedDefault tells whether the schema has a default for path, so that
// it can only be incomplete because an option it is computed from is.
func derivedDefault(path string) bool {
	return len(alternatives(Schema().LookupPath(cue.ParsePath(path)))) > 1
}

// friendlier replaces the schema's regular expressions in messages by the
// name of what they describe: nobody should have to read a hostname regex.
func friendlier(msg string) string {
	for _, r := range patternNames {
		if i := strings.Index(msg, "(out of bound =~"+strconv.Quote(r.pattern)); i >= 0 {
			return strings.TrimSpace(msg[:i]) + ": " + r.want
		}
	}
	return msg
}

// didYouMean returns the candidate closest to name at an edit distance
// below 3, or "".
func didYouMean(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
