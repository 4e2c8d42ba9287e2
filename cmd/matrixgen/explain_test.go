package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryOptionDocumented fails on a schema option without a doc
// comment: explain and docs/options.md are the only manual there is.
func TestEveryOptionDocumented(t *testing.T) {
	var out bytes.Buffer
	if code := Main([]string{"explain"}, &out, &out); code != 0 {
		t.Fatalf("explain exited %d: %s", code, out.String())
	}
	opts := strings.Split(strings.TrimSpace(out.String()), "\n\n")
	if len(opts) < 50 {
		t.Fatalf("explain listed only %d options", len(opts))
	}
	for _, block := range opts {
		lines := strings.Split(block, "\n")
		documented := false
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "  type:") && !strings.HasPrefix(l, "  default:") &&
				!strings.HasPrefix(l, "  allowed:") && l != "  required" && !strings.HasPrefix(l, "  optional") &&
				!strings.HasPrefix(l, "  lands in:") {
				documented = true
			}
		}
		if !documented {
			t.Errorf("option %s has no doc comment in schema/", lines[0])
		}
	}
}

// TestOptionsDocCurrent fails when docs/options.md differs from what the
// schema says now; `make docs` rewrites it.
func TestOptionsDocCurrent(t *testing.T) {
	var out, errs bytes.Buffer
	if code := Main([]string{"explain", "--format", "markdown"}, &out, &errs); code != 0 {
		t.Fatalf("explain exited %d: %s", code, errs.String())
	}
	have, err := os.ReadFile(filepath.Join("..", "..", "docs", "options.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, out.Bytes()) {
		t.Error("docs/options.md is stale: run make docs")
	}
}

func TestExplainOne(t *testing.T) {
	cases := map[string]string{
		"homeserver.registration.mode": `allowed: "closed", "open", "token"`,
		// A renamed option is explained under its new name.
		"synapse.registration.mode": "homeserver.registration.mode",
		"synapse.federation.port":   "homeserver.federation.port",
		"synapse.turn.uris":         "homeserver.turn.uris",
		// The older name of the federation port leads to the current one.
		"traefik.federation_port": "homeserver.federation.port",
		"traefik.acme_email":      "optional (unset by default)",
		"domain":                  "required",
		"postgres.bundled.major":  "default: 17",
		// From compile's option table: where the value is written.
		"homeserver.max_upload_size_mb": "lands in: synapse/config/homeserver.yaml max_upload_size\n",
		"element.brand":                 "lands in: client-element/config.json brand\n",
	}
	for path, want := range cases {
		var out, errs bytes.Buffer
		if code := Main([]string{"explain", path}, &out, &errs); code != 0 {
			t.Fatalf("explain %s exited %d: %s", path, code, errs.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain %s: want %q in\n%s", path, want, out.String())
		}
	}
	var out, errs bytes.Buffer
	if code := Main([]string{"explain", "synapse.nope"}, &out, &errs); code != 1 {
		t.Errorf("explain of an unknown option exited %d, want 1", code)
	}
}

// TestExplainListItems: the options of a list's items (OIDC providers,
// support contacts) are listed after the list as LIST[].OPTION, and
// explain finds them by that path.
func TestExplainListItems(t *testing.T) {
	var all, errs bytes.Buffer
	if code := Main([]string{"explain"}, &all, &errs); code != 0 {
		t.Fatalf("explain exited %d: %s", code, errs.String())
	}
	for _, want := range []string{
		"\nsynapse.sso.oidc_providers\n",
		"\nsynapse.sso.oidc_providers[].client_id\n  type:    string\n  required\n",
		"\nsynapse.sso.oidc_providers[].attribute_requirements[].attribute\n",
		"\nwell_known.support.contacts[].role\n",
		// At least one URI: required, with no default to show.
		"\nhomeserver.turn.uris\n  type:    list\n  required\n",
	} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("explain lacks %q", want)
		}
	}
	var one bytes.Buffer
	if code := Main([]string{"explain", "synapse.sso.oidc_providers[].user_mapping"}, &one, &errs); code != 0 {
		t.Fatalf("explain of an item's group exited %d: %s", code, errs.String())
	}
	if !strings.HasPrefix(one.String(), "synapse.sso.oidc_providers[].user_mapping.localpart_template\n") {
		t.Errorf("explain synapse.sso.oidc_providers[].user_mapping:\n%s", one.String())
	}
}
