package mdad

import (
	"regexp"
	"slices"
	"testing"
)

// TestKnownVars: the list is the playbook's matrix_* names, sorted, each
// once, and holds the variables import-mdad translates by their current
// names.
func TestKnownVars(t *testing.T) {
	k := knownVars()
	if len(k.sorted) < 1000 {
		t.Fatalf("only %d known variables", len(k.sorted))
	}
	name := regexp.MustCompile(`^matrix_[A-Za-z0-9_]+$`)
	for i, n := range k.sorted {
		if !name.MatchString(n) {
			t.Errorf("%q is not a variable name", n)
		}
		if i > 0 && k.sorted[i-1] == n {
			t.Errorf("%s is listed twice", n)
		}
	}
	for _, n := range []string{"matrix_domain", "matrix_synapse_workers_generic_workers_count", "matrix_synapse_turn_uris",
		"matrix_synapse_oidc_providers", "matrix_synapse_configuration_extension_yaml"} {
		if !slices.Contains(k.sorted, n) {
			t.Errorf("%s is not in the list", n)
		}
	}
	// Two names equally close suggest neither.
	if got := closestName("matrix_x_b", []string{"matrix_x_a", "matrix_x_c"}); got != "" {
		t.Errorf("a tie suggested %q", got)
	}
}
