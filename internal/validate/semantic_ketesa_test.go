package validate

import (
	"strings"
	"testing"
)

// TestKetesaRules: every way of placing Ketesa where it cannot work is
// refused at the option that does it, at the line the user wrote.
func TestKetesaRules(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, at, says string
		line                 int // of the offending option in minimal+yaml
	}{
		{"hostname and path", "ketesa:\n  enabled: true\n  hostname: admin.example.org\n  path: /admin\n",
			"ketesa.path", "root of ketesa.hostname admin.example.org; remove path", 7},
		{"homeserver's hostname", "ketesa:\n  enabled: true\n  hostname: matrix.example.org\n",
			"ketesa.hostname", "matrix.example.org is the homeserver's", 6},
		{"Element's hostname", "hostnames: {element: web.example.org}\nketesa:\n  enabled: true\n  hostname: web.example.org\n",
			"ketesa.hostname", "web.example.org is Element's", 7},
		{"served base domain", "well_known: {serve_base_domain: true}\nketesa:\n  enabled: true\n  hostname: example.org\n",
			"ketesa.hostname", "is the base domain", 7},
		{"health check", "ketesa:\n  enabled: true\n  path: /health\n",
			"ketesa.path", "Synapse's health check", 6},
		{"under the health check", "ketesa:\n  enabled: true\n  path: /health/ui\n",
			"ketesa.path", "Synapse's health check", 6},
		{"above a bridge's path", "bridges:\n  hookshot: {type: matrix-hookshot, webhooks: true}\nketesa:\n  enabled: true\n  path: /hookshot\n",
			"ketesa.path", "/hookshot overlaps /hookshot/webhooks, where bridges.hookshot is served", 8},
		{"Element's port", "ketesa:\n  enabled: true\n  host_port: 8765\n",
			"ketesa.host_port", "already published for Element", 6},
		{"a bridge's port", "bridges:\n  heisenbridge: {type: heisenbridge, owner: \"@a:example.org\"}\nketesa:\n  enabled: true\n  host_port: 9898\n",
			"ketesa.host_port", "already published for bridges.heisenbridge", 8},
		{"workers' ports", "ketesa:\n  enabled: true\n  host_port: 20001\n",
			"ketesa.host_port", "where Synapse's workers publish", 6},
		{"a bridge named ketesa", "bridges:\n  ketesa: {type: heisenbridge, owner: \"@a:example.org\"}\nketesa:\n  enabled: true\n",
			"bridges.ketesa", "unit matrix-ketesa", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := Load("matrix.yaml", []byte(minimal+tc.yaml))
			if len(problems) != 1 {
				t.Fatalf("want one problem, got:\n%s", printed(problems))
			}
			p := problems[0]
			if p.Path != tc.at || !strings.Contains(p.Summary, tc.says) || p.Subject.Start.Line != tc.line {
				t.Errorf("got %s: %s (line %d), want %s: …%s… at line %d", p.Path, p.Summary, p.Subject.Start.Line, tc.at, tc.says, tc.line)
			}
		})
	}
}

// The same settings are fine where nothing else needs them: Element off
// frees its hostname, the base domain is free unless it is served, and
// Ketesa off checks nothing.
func TestKetesaAccepted(t *testing.T) {
	for _, src := range []string{
		"ketesa: {enabled: true}\n",
		"ketesa: {enabled: true, hostname: admin.example.org, host_port: 8780}\n",
		"element: {enabled: false}\nketesa: {enabled: true, hostname: element.example.org}\n",
		"ketesa: {enabled: true, hostname: example.org}\n",
		"ketesa: {enabled: true, path: /healthy}\n",
		"bridges:\n  hookshot: {type: matrix-hookshot, webhooks: true}\nketesa: {enabled: true, path: /hookshot-admin}\n",
		"ketesa: {enabled: false, hostname: matrix.example.org, path: /health, host_port: 8765}\n",
	} {
		c := mustLoad(t, minimal+src)
		if c.Ketesa.Path == "" || c.Ketesa.HostPort == 0 || c.Ketesa.Image == "" {
			t.Errorf("%s: defaults missing: %+v", src, c.Ketesa)
		}
	}
}

// A path the proxies could not carry safely is refused by the schema, in
// words.
func TestKetesaPathFormat(t *testing.T) {
	for _, path := range []string{"/", "/ketesa/", "ketesa", "/_synapse/ui", "/.well-known/x", "/Admin", "/a b", "/a//b", `/a"b`} {
		_, problems := Load("matrix.yaml", []byte(minimal+"ketesa: {enabled: true, path: '"+strings.ReplaceAll(path, "'", "''")+"'}\n"))
		if len(problems) != 1 || problems[0].Path != "ketesa.path" || !strings.Contains(problems[0].Summary, "must be a path such as /ketesa") {
			t.Errorf("path %q:\n%s", path, printed(problems))
		}
	}
}
