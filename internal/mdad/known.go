package mdad

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/matrixgen/matrixgen/internal/diag"
)

// knownVarsText lists the variables of the playbook's own roles (the
// matrix_* ones), one a line; scripts/mdad-known-vars.sh writes it.
//
//go:embed known_vars.txt
var knownVarsText string

// knownVars is that list as a set, with the namespaces it covers: the
// first three parts of each name (matrix_synapse_workers).
var knownVars = sync.OnceValue(func() (k struct {
	names      map[string]bool
	sorted     []string
	namespaces map[string]bool
}) {
	k.names, k.namespaces = map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(knownVarsText, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k.names[line] = true
		k.sorted = append(k.sorted, line)
		k.namespaces[namespace(line)] = true
	}
	sort.Strings(k.sorted)
	return k
})

// namespace is the first three underscore-separated parts of a name.
func namespace(name string) string {
	parts := strings.SplitN(name, "_", 4)
	return strings.Join(parts[:min(3, len(parts))], "_")
}

// notAPlaybookVariable says why a name of vars.yml is no variable of the
// playbook, with the closest one it has; "" when the name is one, or when
// the list cannot tell: names outside the playbook's own roles, and names
// of a namespace the playbook no longer has (a name from before one of its
// renames, which import-mdad may still know).
// A close name is the likelier story than a component matrixgen lacks, so
// typo says whether the answer names one.
func notAPlaybookVariable(name string) (why string, typo bool) {
	k := knownVars()
	if !strings.HasPrefix(name, "matrix_") || k.names[name] {
		return "", false
	}
	near := closestName(name, k.sorted)
	switch {
	case near != "":
		return fmt.Sprintf("it is not a variable of the playbook, which ignores it too; did you mean %s?", near), true
	case k.namespaces[namespace(name)]:
		return "it is not a variable of the playbook, which ignores it too", false
	}
	return "", false
}

// closestName is the candidate at the smallest edit distance from name,
// if that is at most 2 and no other candidate is as close.
func closestName(name string, candidates []string) string {
	best, bestDist, tie := "", 3, false
	for _, c := range candidates {
		if d := len(c) - len(name); d > 2 || d < -2 {
			continue
		}
		switch d := diag.EditDistance(name, c); {
		case d < bestDist:
			best, bestDist, tie = c, d, false
		case d == bestDist:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}
