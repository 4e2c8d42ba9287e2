package escape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nginxHostile adds rows that mean something to nginx's reader in
// particular to the shared table.
var nginxHostile = append(append([]struct{ name, s string }{}, hostile...), []struct{ name, s string }{
	{"open brace", "{"},
	{"close brace", "}"},
	{"block", "a { return 200 x; }"},
	{"directive after semicolon", "x; return 200 owned"},
	{"close and reopen", `"; add_header X-Evil 1; "`},
	{"hash mid word", "a#b"},
	{"single quotes", "'a b'"},
	{"backslash n", `a\nb`},
	{"backslash t", `\t`},
	{"backslash quote", `\"`},
	{"brackets", "[::1]:8008"},
	{"parens", "(a)"},
	{"location modifier", "^~"},
	{"equals", "="},
	{"regex", `^/\.well-known/matrix`},
	{"url", "https://example.org/a?b=c&d=e"},
	{"json", `{"m.server": "matrix.example.org:443"}`},
	{"cors list", "GET, HEAD, OPTIONS"},
}...)

func TestNginx(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"matrix.example.org", "matrix.example.org"},
		{"127.0.0.1:8008", "127.0.0.1:8008"},
		{"[::1]:8008", "[::1]:8008"},
		{"application/json", "application/json"},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"", `""`},
		{"*", `"*"`},
		{"a b", `"a b"`},
		{";", `";"`},
		{"{", `"{"`},
		{"}", `"}"`},
		{"#x", `"#x"`},
		{`say "hi"`, `"say \"hi\""`},
		{"it's", `"it's"`},
		{`a\`, `"a\\"`},
		{`a\nb`, `"a\\nb"`},
		{`^/\.well-known`, `"^/\\.well-known"`},
	} {
		got, err := Nginx(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Nginx(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNginxRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"$host", "${x}", "$$", "a$", "\n", "a\nreturn 200 x;", "a\r\nb", "\x00", "\t", "\x1b[31m", "\x7f",
		"é", "\xff", "\u2028",
	} {
		if got, err := Nginx(s); err == nil {
			t.Errorf("Nginx(%q) = %q, want an error", s, got)
		}
	}
}

// nginxMustRefuse holds the bytes Nginx cannot write. It may also refuse
// a value too long for one word; everything else must be written.
func nginxMustRefuse(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '$' || c < 0x20 || c >= 0x7f {
			return true
		}
	}
	return false
}

func nginxMayRefuse(s string) bool {
	return nginxMustRefuse(s) || len(s) > nginxMaxWord-2-strings.Count(s, `"`)-strings.Count(s, `\`)
}

func TestNginxProperties(t *testing.T) {
	t.Parallel()
	for _, h := range nginxHostile {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			checkNginx(t, h.s)
		})
	}
}

func checkNginx(t *testing.T, s string) {
	t.Helper()
	tok, err := Nginx(s)
	if err != nil {
		if !nginxMayRefuse(s) {
			t.Fatalf("Nginx(%q) refused a value it can write: %v", s, err)
		}
		return
	}
	if nginxMustRefuse(s) || len(tok) > nginxMaxWord {
		t.Fatalf("Nginx(%q) = %q, want a refusal", s, tok)
	}
	noLineBreak(t, "Nginx", tok)
	words, rest, err := readNginxDirective("add_header X-Echo " + tok + " always; next")
	if err != nil {
		t.Fatalf("reading back Nginx(%q) = %q: %v", s, tok, err)
	}
	if len(words) != 4 || words[2] != s || words[3] != "always" || rest != " next" {
		t.Fatalf("Nginx(%q) = %q reads back as %q, then %q", s, tok, words, rest)
	}
}

// readNginxDirective reads one simple directive the way nginx's
// configuration reader does (ngx_conf_read_token in src/core/ngx_conf_file.c):
// words split on whitespace outside quotes, ';' ends the directive, '{'
// would open a block, '#' at the start of a word opens a comment, quotes
// group, a backslash protects the next byte, and \" \' \\ \t \r \n are
// decoded. It returns the words and what follows the ';'.
func readNginxDirective(s string) (words []string, rest string, err error) {
	i := 0
	for {
		for i < len(s) && strings.IndexByte(" \t\r\n", s[i]) >= 0 {
			i++
		}
		if i == len(s) {
			return nil, "", errors.New("unexpected end of input")
		}
		switch s[i] {
		case ';':
			return words, s[i+1:], nil
		case '{', '}':
			return nil, "", fmt.Errorf("unexpected %q", s[i])
		case '#':
			return nil, "", errors.New("comment inside a directive")
		}
		start, end := i, 0
		if q := s[i]; q == '"' || q == '\'' {
			start++
			for i++; ; i++ {
				if i >= len(s) {
					return nil, "", errors.New("unterminated quote")
				}
				if s[i] == '\\' {
					i++
					continue
				}
				if s[i] == q {
					break
				}
			}
			end = i
			i++
			if i < len(s) && strings.IndexByte(" \t\r\n;{)", s[i]) < 0 {
				return nil, "", fmt.Errorf("unexpected %q after a quoted word", s[i])
			}
		} else {
			for ; i < len(s) && strings.IndexByte(" \t\r\n;{", s[i]) < 0; i++ {
				if s[i] == '\\' {
					i++
				}
				if s[i] == '$' && i+1 < len(s) && s[i+1] == '{' {
					i++
				}
			}
			end = min(i, len(s))
		}
		words = append(words, unescapeNginx(s[start:end]))
	}
}

func unescapeNginx(w string) string {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] == '\\' && i+1 < len(w) {
			switch w[i+1] {
			case '"', '\'', '\\':
				i++
			case 't':
				b.WriteByte('\t')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			}
		}
		b.WriteByte(w[i])
	}
	return b.String()
}

func TestReadNginxDirective(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		words []string
	}{
		{`a b c;`, []string{"a", "b", "c"}},
		{`a "b c" 'd e';`, []string{"a", "b c", "d e"}},
		{`a "b\"c\\d\ne";`, []string{"a", "b\"c\\d\ne"}},
		{`a b\;c;`, []string{"a", `b\;c`}}, // the backslash protects ';' and stays
		{`a x#y;`, []string{"a", "x#y"}},
		{`a ${x}y;`, []string{"a", "${x}y"}},
		{`a \d;`, []string{"a", `\d`}},
	} {
		words, _, err := readNginxDirective(tc.in)
		if err != nil || strings.Join(words, "|") != strings.Join(tc.words, "|") {
			t.Errorf("readNginxDirective(%q) = %q, %v; want %q", tc.in, words, err, tc.words)
		}
	}
	for _, in := range []string{`a "b"c;`, `a {`, `a #c;`, `a "b;`, `a b`} {
		if words, _, err := readNginxDirective(in); err == nil {
			t.Errorf("readNginxDirective(%q) = %q, want an error", in, words)
		}
	}
}

func TestNginxPositions(t *testing.T) {
	t.Parallel()
	ok := func(f func(string) (string, error), in, want string) {
		t.Helper()
		if got, err := f(in); err != nil || got != want {
			t.Errorf("%q -> %q, %v; want %q", in, got, err, want)
		}
	}
	bad := func(f func(string) (string, error), in string) {
		t.Helper()
		if got, err := f(in); err == nil {
			t.Errorf("%q -> %q, want an error", in, got)
		}
	}
	ok(NginxServerName, "matrix.example.org", "matrix.example.org")
	ok(NginxServerName, "localhost", "localhost")
	for _, s := range []string{"", "_", "~^x$", "*.example.org", ".example.org", "example.org.", "Example.org",
		"a b", "a;b", "-a.org", "a-.org", "a..org", "é.org", strings.Repeat("a", 64) + ".org"} {
		bad(NginxServerName, s)
	}

	ok(NginxLocationPrefix, "/_matrix", "/_matrix")
	ok(NginxLocationPrefix, "/.well-known/matrix/", "/.well-known/matrix/")
	ok(NginxLocationPrefix, "/", "/")
	for _, s := range []string{"", "=", "~", "@x", "_matrix", "/a b", "/a$b", "/a;", "/a{", "/a*", "/a\n", "/(a)"} {
		bad(NginxLocationPrefix, s)
	}
	ok(NginxPrefixRegexp, "/_matrix", `"^/_matrix"`)
	ok(NginxPrefixRegexp, "/.well-known/matrix", `"^/\\.well-known/matrix"`)
	bad(NginxPrefixRegexp, "/a+b")

	ok(NginxCIDR, "127.0.0.1/32", "127.0.0.1/32")
	ok(NginxCIDR, "10.1.2.3/8", "10.0.0.0/8")
	ok(NginxCIDR, "::1/128", "::1/128")
	ok(NginxCIDR, "FD00::1/8", "fd00::/8")
	for _, s := range []string{"", "999.0.0.0/8", "10.0.0.0/33", "10.0.0.0", "all", "10.0.0.0/8; allow all", "$remote_addr"} {
		bad(NginxCIDR, s)
	}

	ok(NginxHostPort, "127.0.0.1:8008", "127.0.0.1:8008")
	ok(NginxHostPort, "[::1]:8008", "[::1]:8008")
	ok(NginxHostPort, "[::ffff:127.0.0.1]:80", "[::ffff:127.0.0.1]:80")
	ok(NginxHostPort, "matrix-synapse:8008", "matrix-synapse:8008")
	for _, s := range []string{"", "127.0.0.1", "::1:8008", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:080",
		"127.0.0.1:8008/", "host/_matrix:80", "a b:80", "[fe80::1%eth0]:80", "$x:80", "127.0.0.1:80;"} {
		bad(NginxHostPort, s)
	}

	ok(NginxHeaderName, "Content-Type", "Content-Type")
	ok(NginxHeaderName, "X-A_b.c", "X-A_b.c")
	ok(NginxHeaderName, "X#A", `"X#A"`)
	for _, s := range []string{"", "a b", "a:b", "a;b", "X-$x", "a\nb", `a"b`, "é"} {
		bad(NginxHeaderName, s)
	}

	ok(NginxFilePath, "/etc/letsencrypt/live/a/fullchain.pem", "/etc/letsencrypt/live/a/fullchain.pem")
	ok(NginxFilePath, "/srv/my certs/a.pem", `"/srv/my certs/a.pem"`)
	for _, s := range []string{"", "a.pem", "data:-----BEGIN", "engine:pkcs11:x", "/a/$host.pem", "/a\n.pem"} {
		bad(NginxFilePath, s)
	}

	ok(NginxComment, "route a -> b (127.0.0.1:80)", "route a -> b (127.0.0.1:80)")
	for _, s := range []string{"a\nserver {", "a\rb", "\x00", "\x7f"} {
		bad(NginxComment, s)
	}
}

func FuzzNginx(f *testing.F) {
	for _, h := range nginxHostile {
		f.Add(h.s)
	}
	f.Fuzz(checkNginx)
}

// nginxBinary returns the nginx program, skipping the test when it is
// missing, except in CI where a silent skip would hide a regression.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("nginx"); err == nil {
		return path
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx" // Debian's place, outside a non-root PATH
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx not found; CI must run this test (apt-get install -y nginx)")
	}
	t.Skip("nginx not found; install it with: apt-get install -y nginx")
	return ""
}

// TestNginxReadsBack hands every value Nginx writes to the real nginx:
// "nginx -t" must accept the file without a warning, and the running
// server must answer each value, as a response header and as the body,
// exactly as it went in. A value that split into two words, ended the
// directive or opened a block would fail one or the other.
func TestNginxReadsBack(t *testing.T) {
	t.Parallel()
	bin := nginxBinary(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	var locs strings.Builder
	var values []string
	for _, h := range nginxHostile {
		tok, err := Nginx(h.s)
		if err != nil {
			continue
		}
		fmt.Fprintf(&locs, "        location = /v%d {\n            add_header X-Echo %s always;\n            return 200 %s;\n        }\n", len(values), tok, tok)
		values = append(values, h.s)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;\n" // the temp directories are private to root
	}
	conf := fmt.Sprintf(`%sdaemon off;
master_process on;
worker_processes 1;
pid %[2]s/nginx.pid;
events {
    worker_connections 64;
}
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    default_type text/plain;
    server {
        listen 127.0.0.1:%[3]d;
%[4]s        location / {
            return 404;
        }
    }
}
`, user, dir, port, locs.String())
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	errLog := filepath.Join(dir, "error.log")
	out, err := exec.Command(bin, "-t", "-q", "-p", dir, "-c", confPath, "-e", errLog).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "-p", dir, "-c", confPath, "-e", errLog)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	nginxWaitPort(t, port)

	client := &http.Client{Timeout: 10 * time.Second}
	for i, want := range values {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/v%d", port, i))
		if err != nil {
			t.Fatalf("value %q: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("value %q: nginx answered %d %q", want, resp.StatusCode, body)
		}
		// nginx drops an empty header, and HTTP a value's surrounding spaces.
		got := resp.Header.Values("X-Echo")
		if trimmed := strings.Trim(want, " \t"); want == "" {
			if len(got) != 0 {
				t.Errorf("value %q: X-Echo %q, want none", want, got)
			}
		} else if len(got) != 1 || got[0] != trimmed {
			t.Errorf("value %q: X-Echo %q", want, got)
		}
	}
	if t.Failed() {
		log, _ := os.ReadFile(errLog)
		t.Logf("error.log:\n%s", log)
	}
}

func nginxWaitPort(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nginx does not listen on 127.0.0.1:%d", port)
}
