package escape

import (
	"strings"
	"testing"
)

// The helpers below write one word of a webserver config each: a hostname,
// a path prefix, a regexp, an address. Whatever they accept, what they
// write must read back as exactly one word in the middle of a directive,
// without a line break: never a second argument, the end of the directive,
// a block or a comment. What the word means is checked by each helper's own
// tests and by the routing tests against the real servers.

// wordHelper is one helper taking the fuzzed string.
type wordHelper struct {
	name string
	f    func(string) (string, error)
}

// commentHelper writes the text of a comment: it must stay on its line.
type commentHelper = wordHelper

func addWordSeeds(f *testing.F) {
	addHostileSeeds(f)
	for _, s := range []string{
		"matrix.example.org", "/_matrix/client", "^/_matrix/client/(r0|v3)/sync$", "127.0.0.1:8008",
		"[::1]:8448", "10.0.0.0/8", "fd00::/8", "X-Forwarded-For", "/etc/ssl/a b.pem", "synapse-generic",
		"/a;b", "/a{b}", "a#b", "{$HOME}", "${x}", "/a\\", "a\"b", "'", "*", "~^/x", "a>b",
	} {
		f.Add(s)
	}
}

func FuzzNginxWords(f *testing.F) {
	addWordSeeds(f)
	words := []wordHelper{
		{"NginxServerName", NginxServerName},
		{"NginxLocationPrefix", NginxLocationPrefix},
		{"NginxPrefixRegexp", NginxPrefixRegexp},
		{"NginxLocationRegexp", NginxLocationRegexp},
		{"NginxCIDR", NginxCIDR},
		{"NginxHostPort", NginxHostPort},
		{"NginxHeaderName", NginxHeaderName},
		{"NginxFilePath", NginxFilePath},
	}
	comments := []commentHelper{{"NginxComment", NginxComment}}
	f.Fuzz(func(t *testing.T, s string) {
		for _, h := range words {
			tok, err := h.f(s)
			if err != nil {
				continue
			}
			noLineBreak(t, h.name, tok)
			got, rest, err := readNginxDirective("d " + tok + " next; after")
			if err != nil || len(got) != 3 || got[0] != "d" || got[2] != "next" || rest != " after" {
				t.Fatalf("%s(%q) = %q reads back as %q, then %q (%v)", h.name, s, tok, got, rest, err)
			}
		}
		for _, h := range comments {
			if tok, err := h.f(s); err == nil {
				noLineBreak(t, h.name, tok)
			}
		}
	})
}

func FuzzCaddyWords(f *testing.F) {
	addWordSeeds(f)
	words := []wordHelper{
		{"CaddySiteAddress", func(s string) (string, error) { return CaddySiteAddress(s, 8448, false) }},
		{"CaddySiteAddress (plain HTTP)", func(s string) (string, error) { return CaddySiteAddress(s, 80, true) }},
		{"CaddyPathPrefix", CaddyPathPrefix},
		{"CaddyCIDR", CaddyCIDR},
		{"CaddyUpstream", CaddyUpstream},
		{"CaddyHeaderName", CaddyHeaderName},
		{"CaddyPathRegexp", CaddyPathRegexp},
		{"CaddyMatcherName", CaddyMatcherName},
	}
	comments := []commentHelper{{"CaddyComment", CaddyComment}}
	f.Fuzz(func(t *testing.T, s string) {
		for _, h := range words {
			tok, err := h.f(s)
			if err != nil {
				continue
			}
			noLineBreak(t, h.name, tok)
			// Caddy replaces {$VAR} before it reads a single token.
			if strings.Contains(tok, "{$") {
				t.Fatalf("%s(%q) = %q contains {$", h.name, s, tok)
			}
			if got := lexCaddy26("d " + tok + " next\nafter\n"); len(got) != 4 || got[0] != "d" || got[2] != "next" || got[3] != "after" {
				t.Fatalf("%s(%q) = %q reads back as %q", h.name, s, tok, got)
			}
		}
		for _, h := range comments {
			if tok, err := h.f(s); err == nil {
				noLineBreak(t, h.name, tok)
				if strings.Contains(tok, "{$") {
					t.Fatalf("%s(%q) = %q contains {$", h.name, s, tok)
				}
			}
		}
	})
}

func FuzzApacheWords(f *testing.F) {
	addWordSeeds(f)
	words := []wordHelper{
		{"ApacheHostname", ApacheHostname},
		{"ApachePathPrefix", ApachePathPrefix},
		{"ApachePrefixRegexp", func(s string) (string, error) { return ApachePrefixRegexp(s, nil) }},
		{"ApachePathRegexp", ApachePathRegexp},
		{"ApachePrefixRegexp (except)", func(s string) (string, error) { return ApachePrefixRegexp("/_matrix", []string{s}) }},
		{"ApacheBackendURL (host)", func(s string) (string, error) { return ApacheBackendURL(s, "/_matrix") }},
		{"ApacheBackendURL (path)", func(s string) (string, error) { return ApacheBackendURL("127.0.0.1:8008", s) }},
		{"ApacheFilePath", ApacheFilePath},
		{"ApacheVirtualHostAddress", func(s string) (string, error) { return ApacheVirtualHostAddress(s, 443) }},
		{"ApacheIPRange", ApacheIPRange},
		{"ApacheHeaderName", ApacheHeaderName},
		{"ApacheProxyRegexp", ApacheProxyRegexp},
		{"ApacheOrigin", ApacheOrigin},
		{"ApacheBalancerURL (pool)", func(s string) (string, error) { return ApacheBalancerURL(s, "/_matrix") }},
		{"ApacheBalancerURL (path)", func(s string) (string, error) { return ApacheBalancerURL("generic", s) }},
	}
	comments := []commentHelper{{"ApacheComment", ApacheComment}}
	f.Fuzz(func(t *testing.T, s string) {
		for _, h := range words {
			tok, err := h.f(s)
			if err != nil {
				continue
			}
			noLineBreak(t, h.name, tok)
			got, err := readApacheLine("D " + tok + " next")
			if err != nil || len(got) != 3 || got[0] != "D" || got[2] != "next" {
				t.Fatalf("%s(%q) = %q reads back as %q (%v)", h.name, s, tok, got, err)
			}
		}
		for _, h := range comments {
			if tok, err := h.f(s); err == nil {
				noLineBreak(t, h.name, tok)
				if strings.HasSuffix(strings.TrimRight(tok, " \t"), `\`) {
					t.Fatalf("%s(%q) = %q would continue onto the next line", h.name, s, tok)
				}
			}
		}
	})
}

// ShellWords is Shell applied to each word: joined, the words come back
// one by one from sh, whatever they hold.
func FuzzShellWords(f *testing.F) {
	for _, h := range hostile {
		f.Add(h.s, "b")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if hasNUL(a) || hasNUL(b) {
			return // sh cannot carry NUL
		}
		out := ShellWords([]string{a, b})
		got := runSh(t, "printf '%s\\0' "+out)
		if want := a + "\x00" + b + "\x00"; got != want {
			t.Fatalf("sh printed %q for ShellWords(%q) = %q", got, []string{a, b}, out)
		}
	})
}
