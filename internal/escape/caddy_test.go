package escape

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCaddy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"matrix", "matrix"},
		{"application/json", "application/json"},
		{"127.0.0.1:8008", "127.0.0.1:8008"},
		{"*", "*"},
		{"", `""`},
		{"GET, HEAD", `"GET, HEAD"`},
		{`say "hi"`, `"say \"hi\""`},
		{"#comment", `"#comment"`},
		{"a#b", `"a#b"`},
		{"it's", `"it's"`},
		{`a\b`, `"a\b"`},
		{`a\\b`, `"a\\b"`},
		{`a\`, "`a\\`"},
		{`a\"b`, "`a\\\"b`"},
		{"-rf", "-rf"},
		{"é🦀", `"é🦀"`},
		{"\u00a0", "\"\u00a0\""},
		{"$HOME", `"$HOME"`},
	} {
		got, err := Caddy(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Caddy(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCaddyRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"{http.request.uri}", "{$HOME}", "a}", "{", "a\nb", "a\rb", "a\x00b", "\x1b[31m",
		"\x7f", "\u0085", "\u2028", "\xff\xfe", "`a\\", "a b\\", "#\\", "\\\"`",
	} {
		if got, err := Caddy(s); err == nil {
			t.Errorf("Caddy(%q) = %q, want an error", s, got)
		}
	}
}

// caddyRefusable tells which hostile values Caddy must refuse.
func caddyRefusable(s string) bool {
	if !utf8.ValidString(s) || strings.ContainsAny(s, "{}\u2028\u2029") || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return true
	}
	return !caddyDoubleQuotable(s) && (strings.ContainsAny(s, "`#") || strings.IndexFunc(s, unicode.IsSpace) >= 0)
}

func TestCaddyProperties(t *testing.T) {
	t.Parallel()
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			checkCaddy(t, h.s)
		})
	}
}

// checkCaddy reads the token back, in a directive line followed by another
// line, with the rules of Caddy 2.6's lexer.
func checkCaddy(t *testing.T, s string) {
	t.Helper()
	tok, err := Caddy(s)
	if caddyRefusable(s) != (err != nil) {
		t.Fatalf("Caddy(%q) = %q, %v; refusable: %v", s, tok, err, caddyRefusable(s))
	}
	if err != nil {
		return
	}
	noLineBreak(t, "Caddy", tok)
	got := lexCaddy26("header X-Probe " + tok + "\nrespond 204\n")
	want := []string{"header", "X-Probe", s, "respond", "204"}
	if !slices.Equal(got, want) {
		t.Fatalf("Caddy(%q) = %s reads back as %q", s, tok, got)
	}
}

// lexCaddy26 splits a Caddyfile into tokens as Caddy 2.6's lexer does for
// the forms Caddy writes: bare words, "…" with \" as the only escape, `…`
// without escapes, and comments from a '#' that begins a token.
func lexCaddy26(in string) []string {
	rs := []rune(in)
	var out []string
	for i := 0; i < len(rs); {
		switch r := rs[i]; {
		case unicode.IsSpace(r):
			i++
		case r == '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case r == '"':
			var tok []rune
			escaped := false
			for i++; i < len(rs); i++ {
				c := rs[i]
				if !escaped && c == '\\' {
					escaped = true
					continue
				}
				if escaped {
					if c != '"' {
						tok = append(tok, '\\')
					}
					tok = append(tok, c)
					escaped = false
					continue
				}
				if c == '"' {
					break
				}
				tok = append(tok, c)
			}
			i++
			out = append(out, string(tok))
		case r == '`':
			j := i + 1
			for j < len(rs) && rs[j] != '`' {
				j++
			}
			out = append(out, string(rs[i+1:j]))
			i = j + 1
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) {
				j++
			}
			out = append(out, string(rs[i:j]))
			i = j
		}
	}
	return out
}

func TestLexCaddy26(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"a b\n\tc", []string{"a", "b", "c"}},
		{`"a b" "x\"y" "p\q" "r\\"`, []string{"a b", `x"y`, `p\q`, `r\\`}},
		{"`a\\\"b` c", []string{`a\"b`, "c"}},
		{"a#b # c d\ne", []string{"a#b", "e"}},
		{`""`, []string{""}},
	} {
		if got := lexCaddy26(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("lexCaddy26(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzCaddy(f *testing.F) {
	addHostileSeeds(f)
	f.Add(`a\"b`)
	f.Add("`a\\")
	f.Fuzz(func(t *testing.T, s string) {
		checkCaddy(t, s)
	})
}

func TestCaddyComment(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "routes: a -> b", "\tindented", "{http.request.uri}", "50% $HOME"} {
		if got, err := CaddyComment(ok); err != nil || got != ok {
			t.Errorf("CaddyComment(%q) = %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{"a\nb", "a\rb", "a\x00", "x {$HOME} y"} {
		if _, err := CaddyComment(bad); err == nil {
			t.Errorf("CaddyComment(%q) succeeded", bad)
		}
	}
}

func TestCaddyPositions(t *testing.T) {
	t.Parallel()
	type fn func() (string, error)
	for _, tc := range []struct {
		name string
		f    fn
		want string // "" for an error
	}{
		{"site https", func() (string, error) { return CaddySiteAddress("matrix.example.org", 443, false) }, "matrix.example.org:443"},
		{"site http", func() (string, error) { return CaddySiteAddress("matrix.example.org", 80, true) }, "http://matrix.example.org:80"},
		{"site wildcard", func() (string, error) { return CaddySiteAddress("*.example.org", 443, false) }, ""},
		{"site snippet", func() (string, error) { return CaddySiteAddress("(snip)", 443, false) }, ""},
		{"site placeholder", func() (string, error) { return CaddySiteAddress("{$HOST}", 443, false) }, ""},
		{"site upper", func() (string, error) { return CaddySiteAddress("Example.org", 443, false) }, ""},
		{"site port", func() (string, error) { return CaddySiteAddress("example.org", 0, false) }, ""},
		{"prefix", func() (string, error) { return CaddyPathPrefix("/_matrix/client") }, "/_matrix/client*"},
		{"prefix root", func() (string, error) { return CaddyPathPrefix("/") }, "/*"},
		{"prefix relative", func() (string, error) { return CaddyPathPrefix("_matrix") }, ""},
		{"prefix percent", func() (string, error) { return CaddyPathPrefix("/a%2Fb") }, ""},
		{"prefix glob", func() (string, error) { return CaddyPathPrefix("/a*") }, ""},
		{"prefix brace", func() (string, error) { return CaddyPathPrefix("/{path}") }, ""},
		{"prefix space", func() (string, error) { return CaddyPathPrefix("/a b") }, ""},
		{"starts with", func() (string, error) { return CaddyStartsWith("{http.request.orig_uri}", "/_synapse/admin") }, "`{http.request.orig_uri}.startsWith(\"/_synapse/admin\")`"},
		{"starts with root", func() (string, error) { return CaddyStartsWith("{http.request.orig_uri}", "/") }, "`{http.request.orig_uri}.startsWith(\"/\")`"},
		{"starts with quote", func() (string, error) { return CaddyStartsWith("{http.request.orig_uri}", `/a")||("`) }, ""},
		{"starts with backquote", func() (string, error) { return CaddyStartsWith("{http.request.orig_uri}", "/a`b") }, ""},
		{"starts with relative", func() (string, error) { return CaddyStartsWith("{http.request.orig_uri}", "_matrix") }, ""},
		{"starts with env", func() (string, error) { return CaddyStartsWith("{$URI}", "/_matrix") }, ""},
		{"starts with bare", func() (string, error) { return CaddyStartsWith("http.request.orig_uri", "/_matrix") }, ""},
		{"starts with expression", func() (string, error) { return CaddyStartsWith(`{http.request.uri}.size()>0||"x"`, "/_matrix") }, ""},
		{"cidr", func() (string, error) { return CaddyCIDR("10.1.2.3/8") }, "10.0.0.0/8"},
		{"cidr v6", func() (string, error) { return CaddyCIDR("::1/128") }, "::1/128"},
		{"cidr bad", func() (string, error) { return CaddyCIDR("10.0.0.0/33") }, ""},
		{"cidr hostile", func() (string, error) { return CaddyCIDR("10.0.0.0/8 {x}") }, ""},
		{"upstream", func() (string, error) { return CaddyUpstream("127.0.0.1:8008") }, "127.0.0.1:8008"},
		{"upstream v6", func() (string, error) { return CaddyUpstream("[::1]:8008") }, "[::1]:8008"},
		{"upstream name", func() (string, error) { return CaddyUpstream("matrix-synapse:8008") }, "matrix-synapse:8008"},
		{"upstream unbracketed v6", func() (string, error) { return CaddyUpstream("::1:8008") }, ""},
		{"upstream scheme", func() (string, error) { return CaddyUpstream("http://a:80") }, ""},
		{"upstream placeholder", func() (string, error) { return CaddyUpstream("{http.request.host}:80") }, ""},
		{"upstream no port", func() (string, error) { return CaddyUpstream("127.0.0.1") }, ""},
		{"upstream zone", func() (string, error) { return CaddyUpstream("[fe80::1%eth0]:80") }, ""},
		{"header", func() (string, error) { return CaddyHeaderName("Content-Type") }, "Content-Type"},
		{"header hash", func() (string, error) { return CaddyHeaderName("X#Y") }, `"X#Y"`},
		{"header delete", func() (string, error) { return CaddyHeaderName("-Server") }, ""},
		{"header add", func() (string, error) { return CaddyHeaderName("+Link") }, ""},
		{"header default", func() (string, error) { return CaddyHeaderName("?X") }, ""},
		{"header defer", func() (string, error) { return CaddyHeaderName("defer") }, ""},
		{"header matcher", func() (string, error) { return CaddyHeaderName("@m") }, ""},
		{"header colon", func() (string, error) { return CaddyHeaderName("X-A:") }, ""},
		{"header space", func() (string, error) { return CaddyHeaderName("X A") }, ""},
		{"header empty", func() (string, error) { return CaddyHeaderName("") }, ""},
		{"regexp", func() (string, error) { return CaddyPathRegexp("^/_matrix/client/(r0|v3)/sync$") }, `"^/_matrix/client/(r0|v3)/sync$"`},
		{"regexp bare", func() (string, error) { return CaddyPathRegexp("^/_matrix/key/v2/query") }, `"^/_matrix/key/v2/query"`},
		{"regexp unanchored", func() (string, error) { return CaddyPathRegexp("/sync$") }, ""},
		{"regexp invalid", func() (string, error) { return CaddyPathRegexp("^/(a") }, ""},
		{"regexp lookahead", func() (string, error) { return CaddyPathRegexp("^/(?=a)") }, ""},
		{"regexp count", func() (string, error) { return CaddyPathRegexp("^/a{2}") }, ""},
		{"regexp env", func() (string, error) { return CaddyPathRegexp("^/{$HOME}") }, ""},
		{"regexp newline", func() (string, error) { return CaddyPathRegexp("^/a\nb") }, ""},
		{"matcher", func() (string, error) { return CaddyMatcherName("route-synapse_sync-1") }, "@route-synapse_sync-1"},
		{"matcher empty", func() (string, error) { return CaddyMatcherName("") }, ""},
		{"matcher space", func() (string, error) { return CaddyMatcherName("a b") }, ""},
		{"matcher brace", func() (string, error) { return CaddyMatcherName("a{") }, ""},
		{"matcher at", func() (string, error) { return CaddyMatcherName("@a") }, ""},
		{"matcher dot", func() (string, error) { return CaddyMatcherName("a.b") }, ""},
	} {
		got, err := tc.f()
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: got %q, want an error", tc.name, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// caddyBinary returns the path of caddy, skipping the test when it is
// missing, except in CI where a silent skip would hide a regression.
func caddyBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("caddy")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("caddy not found; CI must run this test (apt-get install caddy)")
	}
	t.Skip("caddy not found; install it with: apt-get install caddy")
	return ""
}

// caddyEnv keeps caddy's data, config and autosave inside dir.
func caddyEnv(dir string) []string {
	env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return env
}

// TestCaddyReadsBack gives every accepted hostile value to the real Caddy,
// as the value of a header in an imported file (an import runs Caddy's
// placeholder replacer over every token), and reads the value back from
// the JSON Caddy adapts the file to.
func TestCaddyReadsBack(t *testing.T) {
	t.Parallel()
	bin := caddyBinary(t)
	for _, h := range hostile {
		tok, err := Caddy(h.s)
		if err != nil {
			continue
		}
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			snippet := "header X-Probe " + tok + "\nrespond 204\n"
			top := "http://probe.example.org:8080 {\n\timport " + filepath.Join(dir, "probe.caddy") + "\n}\n"
			for name, data := range map[string]string{"probe.caddy": snippet, "Caddyfile": top} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			run := func(args ...string) (stdout, stderr string) {
				cmd := exec.Command(bin, args...)
				cmd.Dir, cmd.Env = dir, caddyEnv(dir)
				var o, e strings.Builder
				cmd.Stdout, cmd.Stderr = &o, &e
				if err := cmd.Run(); err != nil {
					t.Fatalf("caddy %s: %v\n%s%s", strings.Join(args, " "), err, o.String(), e.String())
				}
				return o.String(), e.String()
			}
			out, logs := run("adapt", "--config", "Caddyfile", "--adapter", "caddyfile")
			if strings.Contains(logs, `"level":"warn"`) {
				t.Errorf("caddy adapt warned:\n%s", logs)
			}
			if got := caddyHeaderValue(t, out); got != h.s {
				t.Errorf("Caddy(%q) = %s; caddy read %q", h.s, tok, got)
			}
			if formatted, _ := run("fmt", "probe.caddy"); formatted != snippet {
				t.Errorf("caddy fmt changes the token %s:\n%s", tok, formatted)
			}
		})
	}
}

// caddyHeaderValue finds the X-Probe value in caddy adapt's JSON.
func caddyHeaderValue(t *testing.T, adapted string) string {
	t.Helper()
	var found []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if set, ok := v["set"].(map[string]any); ok {
				if vals, ok := set["X-Probe"].([]any); ok {
					for _, s := range vals {
						found = append(found, s.(string))
					}
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var doc any
	if err := json.Unmarshal([]byte(adapted), &doc); err != nil {
		t.Fatalf("caddy adapt printed no JSON: %v\n%s", err, adapted)
	}
	walk(doc)
	if len(found) != 1 {
		t.Fatalf("X-Probe values in adapted config: %q\n%s", found, adapted)
	}
	return found[0]
}

// TestCaddyPathRegexpReadsBack gives regular expressions to the real
// Caddy's path_regexp matcher in an imported file and reads each back from
// the JSON Caddy adapts the file to.
func TestCaddyPathRegexpReadsBack(t *testing.T) {
	t.Parallel()
	bin := caddyBinary(t)
	res := []string{
		"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/[^/]+/typing/",
		`^/_matrix/(?:client/[^/]+(?:/[^/]+)?/rooms|federation/v[0-9]+/[a-z_]+)/([^/]+)`,
		`^/a\.b$`,
		`^/a"b`,
		`^/a\\`,
		`^/a b#c`,
		"^/[[:blank:]]+$",
		"^/é🦀",
	}
	dir := t.TempDir()
	var snippet strings.Builder
	for i, re := range res {
		tok, err := CaddyPathRegexp(re)
		if err != nil {
			t.Fatalf("CaddyPathRegexp(%q): %v", re, err)
		}
		fmt.Fprintf(&snippet, "@m%d path_regexp %s\nrespond @m%d %d\n", i, tok, i, 200+i)
	}
	top := "http://probe.example.org:8080 {\n\timport " + filepath.Join(dir, "probe.caddy") + "\n}\n"
	for name, data := range map[string]string{"probe.caddy": snippet.String(), "Caddyfile": top} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "adapt", "--config", "Caddyfile", "--adapter", "caddyfile")
	cmd.Dir, cmd.Env = dir, caddyEnv(dir)
	var out, logs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &logs
	if err := cmd.Run(); err != nil {
		t.Fatalf("caddy adapt: %v\n%s", err, logs.String())
	}
	if strings.Contains(logs.String(), `"level":"warn"`) {
		t.Errorf("caddy adapt warned:\n%s", logs.String())
	}
	var got []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if m, ok := v["path_regexp"].(map[string]any); ok {
				got = append(got, m["pattern"].(string))
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var doc any
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("caddy adapt printed no JSON: %v", err)
	}
	walk(doc)
	slices.Sort(got)
	want := slices.Clone(res)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("caddy read %q, want %q", got, want)
	}
}

func TestCaddyJSONBody(t *testing.T) {
	got, err := CaddyJSONBody(`{"errcode":"M_TOO_LARGE","error":"Too large"}`)
	if want := `"{\"errcode\":\"M_TOO_LARGE\",\"error\":\"Too large\"}"`; err != nil || got != want {
		t.Errorf("got %s, %v; want %s", got, err, want)
	}
	for _, refused := range []string{
		`{"error":"{http.request.uri}"}`, // a placeholder Caddy would fill in
		`{"error":"{$HOME}"}`,
		`{"error":"a \"quote\""}`, // a backslash, which an import would unescape
		"{\"error\":\"`\"}",
		`{"error":"line` + "\u2028" + `"}`,
		`["M_TOO_LARGE"]`,
		`{"errcode":`,
	} {
		if got, err := CaddyJSONBody(refused); err == nil {
			t.Errorf("%s: got %s, want a refusal", refused, got)
		}
	}
}
