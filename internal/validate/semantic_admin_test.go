package validate

import (
	"strings"
	"testing"
)

// TestAdminAllowListNotEmpty: an empty allow list is refused at the line
// the user wrote; everyone's networks, written out, are taken.
func TestAdminAllowListNotEmpty(t *testing.T) {
	_, problems := Load("matrix.yaml", []byte(minimal+"reverse_proxy:\n  admin_api:\n    enabled: true\n    allow: []\n"))
	if len(problems) != 1 {
		t.Fatalf("want one problem, got %v", problems)
	}
	p := problems[0]
	if p.Path != "reverse_proxy.admin_api.allow" || !strings.Contains(p.Summary, "open Synapse's admin API to everyone") || p.Subject.Start.Line != 7 {
		t.Errorf("got %s at line %d: %s", p.Path, p.Subject.Start.Line, p.Summary)
	}

	_, problems = Load("matrix.yaml", []byte(minimal+"reverse_proxy:\n  admin_api:\n    enabled: true\n    allow: [0.0.0.0/0, \"::/0\"]\n"))
	if len(problems) != 0 {
		t.Errorf("everyone's networks written out: %v", problems)
	}
}
