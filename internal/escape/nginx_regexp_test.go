package escape

import "testing"

func TestNginxLocationRegexp(t *testing.T) {
	for _, ok := range []string{
		`^/_matrix/client/(r0|v3)/sync$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`,
		`^/_matrix/client/(r0|v3|unstable)/user/[^/]+/rooms/[^/]+/tags(/|$)`,
		`^/_matrix/(?:client/[^/]+(?:/[^/]+)?/rooms|federation/v[0-9]+/[a-z_]+)/([^/]+)`,
	} {
		if got, err := NginxLocationRegexp(ok); err != nil || got != ok {
			t.Errorf("NginxLocationRegexp(%q) = %q, %v; want it unchanged", ok, got, err)
		}
	}
	for _, bad := range []string{
		`/_matrix`,              // no anchor: "location /_matrix" would be a prefix
		`~^/_matrix`,            // another modifier
		`^/a b`,                 // a space ends the word
		`^/a;return 200`,        // a semicolon ends the directive
		`^/a{2}`,                // a brace opens a block
		`^/a"`, `^/a'`, `^/a#b`, // quotes and comments
		`^/a\d`,           // escapes are read by nginx first
		"^/a\nb",          // a line break
		"^/\u00e9t\u00e9", // not ASCII
	} {
		if got, err := NginxLocationRegexp(bad); err == nil {
			t.Errorf("NginxLocationRegexp(%q) = %q, want an error", bad, got)
		}
	}
}
