package validate

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/diag"
)

// Options that moved or went away. An entry stays for good: removing it
// would turn a working config, or a helpful message, into a puzzle for
// whoever upgrades late.
var (
	// renamed maps an old option path to its new one. The old name keeps
	// working: its value moves to the new path before anything else reads
	// the config, with a warning at the old name's line.
	renamed = map[string]string{
		// Federation's port is the homeserver's, whichever proxy serves it.
		"traefik.federation_port": "homeserver.federation.port",
		// Every homeserver implementation takes these, not Synapse alone.
		"synapse.registration":        "homeserver.registration",
		"synapse.max_upload_size_mb":  "homeserver.max_upload_size_mb",
		"synapse.presence":            "homeserver.presence",
		"synapse.federation":          "homeserver.federation",
		"synapse.trusted_key_servers": "homeserver.trusted_key_servers",
		"synapse.auto_join_rooms":     "homeserver.auto_join_rooms",
		"synapse.turn":                "homeserver.turn",
	}
	// removed maps an option that has no successor to what to do instead.
	removed = map[string]string{}
)

// RenamedTo is the current name of an option path given under an old
// name: of a renamed option or of an option under it.
func RenamedTo(path string) (string, bool) {
	for from, to := range renamed {
		if rest, ok := strings.CutPrefix(path, from); ok && (rest == "" || rest[0] == '.') {
			return to + rest, true
		}
	}
	return "", false
}

// movedOption explains an unknown option that used to exist. A renamed
// option only gets here when its value could not be moved (something
// other than a mapping is written where the new path goes).
func movedOption(path string) (summary, detail string, ok bool) {
	if to, ok := renamed[path]; ok {
		return "option renamed", fmt.Sprintf("it is now %s", to), true
	}
	if instead, ok := removed[path]; ok {
		return "option removed", instead, true
	}
	return "", "", false
}

// applyRenames moves every option written under an old name to its new
// path, in the input and in the index alike, so that every later message
// about the value points at what the user wrote. Each move is a warning.
// Where the new name holds a mapping already, the two merge key by key:
// traefik.federation_port and synapse.federation.enabled both land in
// homeserver.federation. An option given under two names is a problem,
// as the two values could disagree.
func applyRenames(root map[string]any, ix *index) (warnings, problems diag.List) {
	r := renamer{root: root, ix: ix, origin: map[string]string{}}
	for _, from := range sortedKeys(renamed) {
		to := renamed[from]
		if !ix.written(from) {
			continue
		}
		key := ix.keyAt(from)
		moved, clashes, ok := r.move(from, to)
		if !ok {
			continue // unknownKeys reports it with movedOption
		}
		for _, c := range clashes {
			problems = append(problems, r.givenTwice(c))
		}
		if moved {
			warnings = append(warnings, diag.Diagnostic{
				Path:    from,
				Summary: fmt.Sprintf("option renamed (%s → %s)", from, to),
				Detail:  "the old name still works; write the new one",
				Subject: key,
				Warning: true,
			})
		}
	}
	return warnings, problems
}

// renamer moves options from their old names to their new ones.
type renamer struct {
	root map[string]any
	ix   *index
	// origin is the old name each moved value was written under, by the
	// new path it moved to.
	origin map[string]string
}

// clash is one option written under an old name (from) where the new
// name (to) has a value already.
type clash struct {
	from, to string
	at       diag.Range
}

// move takes the value at from to to. A mapping merges into a mapping
// already there; any other value already there is a clash, and the old
// one is dropped so that it is reported once. moved tells whether
// anything moved; ok is false, with nothing changed, when something other
// than a mapping stands on either path.
func (r *renamer) move(from, to string) (moved bool, clashes []clash, ok bool) {
	oldParent, ok := mappingAt(r.root, parentPath(from), false)
	if !ok {
		return false, nil, false
	}
	newParent, ok := mappingAt(r.root, parentPath(to), true)
	if !ok {
		return false, nil, false
	}
	moved, clashes = r.merge(oldParent, from, newParent, to)
	return moved, clashes, true
}

// merge moves the key of from in oldParent to the key of to in newParent.
func (r *renamer) merge(oldParent map[string]any, from string, newParent map[string]any, to string) (moved bool, clashes []clash) {
	oldKey, newKey := lastLabel(from), lastLabel(to)
	value := oldParent[oldKey]
	existing, taken := newParent[newKey]
	oldMap, oldIsMap := value.(map[string]any)
	newMap, newIsMap := existing.(map[string]any)
	switch {
	case !taken:
		newParent[newKey] = value
		r.ix.rename(from, to)
		r.origin[to] = from
		moved = true
	case oldIsMap && newIsMap:
		for _, k := range sortedKeys(oldMap) {
			m, c := r.merge(oldMap, from+"."+k, newMap, to+"."+k)
			moved = moved || m
			clashes = append(clashes, c...)
		}
	default:
		clashes = []clash{{from: from, to: to, at: r.ix.keyAt(from)}}
	}
	delete(oldParent, oldKey)
	return moved, clashes
}

// givenTwice reports a clash, with the name the value already at the new
// path was written under: the new one, or another old one.
func (r *renamer) givenTwice(c clash) diag.Diagnostic {
	d := diag.Diagnostic{Path: c.from, Detail: fmt.Sprintf("keep %s only", c.to), Subject: c.at}
	if other := r.writtenAs(c.to); other != c.to {
		d.Summary = fmt.Sprintf("given twice: %s and %s are both old names of %s", c.from, other, c.to)
	} else {
		d.Summary = fmt.Sprintf("given twice: %s is the old name of %s, which is set too", c.from, c.to)
	}
	return d
}

// writtenAs is the name the user wrote the value at path under.
func (r *renamer) writtenAs(path string) string {
	for p := path; p != ""; p = parentPath(p) {
		if from, ok := r.origin[p]; ok {
			return from + path[len(p):]
		}
	}
	return path
}

// mappingAt is the mapping at path; create makes the missing ones. It
// checks the whole path before creating anything.
func mappingAt(root map[string]any, path string, create bool) (map[string]any, bool) {
	if path == "" {
		return root, true
	}
	labels := strings.Split(path, ".")
	m := root
	for i, label := range labels {
		child, present := m[label]
		if !present {
			if !create {
				return nil, false
			}
			for _, l := range labels[i:] {
				next := map[string]any{}
				m[l] = next
				m = next
			}
			return m, true
		}
		next, ok := child.(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

func lastLabel(path string) string {
	return path[strings.LastIndexByte(path, '.')+1:]
}

// rename moves the locations of from and everything under it to to.
func (ix *index) rename(from, to string) {
	for path, loc := range ix.nodes {
		if rest, ok := strings.CutPrefix(path, from); ok && (rest == "" || rest[0] == '.') {
			delete(ix.nodes, path)
			ix.nodes[to+rest] = loc
		}
	}
}
