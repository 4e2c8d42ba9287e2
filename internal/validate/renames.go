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
		"traefik.federation_port": "synapse.federation.port",
		// Every homeserver implementation takes these, not Synapse alone.
		"synapse.registration":       "homeserver.registration",
		"synapse.max_upload_size_mb": "homeserver.max_upload_size_mb",
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
// about the value points at what the user wrote. Each move is a warning;
// an option given under both names is a problem, as the two values could
// disagree.
func applyRenames(root map[string]any, ix *index) (warnings, problems diag.List) {
	for _, from := range sortedKeys(renamed) {
		to := renamed[from]
		if !ix.written(from) {
			continue
		}
		if ix.written(to) {
			problems = append(problems, diag.Diagnostic{
				Path:    from,
				Summary: fmt.Sprintf("given twice: %s is the old name of %s, which is set too", from, to),
				Detail:  fmt.Sprintf("keep %s only", to),
				Subject: ix.keyAt(from),
			})
			// Said once: the old name is no unknown option besides.
			if parent, ok := mappingAt(root, parentPath(from), false); ok {
				delete(parent, lastLabel(from))
			}
			continue
		}
		if !moveValue(root, from, to) {
			continue // unknownKeys reports it with movedOption
		}
		warnings = append(warnings, diag.Diagnostic{
			Path:    from,
			Summary: fmt.Sprintf("option renamed (%s → %s)", from, to),
			Detail:  "the old name still works; write the new one",
			Subject: ix.keyAt(from),
			Warning: true,
		})
		ix.rename(from, to)
	}
	return warnings, problems
}

// moveValue takes the value at from out of its mapping and puts it at
// to, creating the mappings on the way; false, with root unchanged, when
// something other than a mapping stands on either path.
func moveValue(root map[string]any, from, to string) bool {
	oldParent, ok := mappingAt(root, parentPath(from), false)
	if !ok {
		return false
	}
	newParent, ok := mappingAt(root, parentPath(to), true)
	if !ok {
		return false
	}
	oldKey, newKey := lastLabel(from), lastLabel(to)
	newParent[newKey] = oldParent[oldKey]
	delete(oldParent, oldKey)
	return true
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
