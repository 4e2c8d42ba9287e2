package escape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apacheHostile adds rows that mean something to httpd's reader, to
// mod_headers or to a section, on top of the shared hostile table.
var apacheHostile = append(append([]struct{ name, s string }{}, hostile...), []struct{ name, s string }{
	{"define reference", "${APACHE_LOG_DIR}"},
	{"define in text", "a ${x} b"},
	{"dollar brace open", "${"},
	{"dollar brace unclosed", "a${b"},
	{"dollar alone", "$x }"},
	{"env tag", "%{HOME}e"},
	{"percent tags", "%t %D %%"},
	{"expr prefix", "expr=%{REQUEST_URI}"},
	{"expr upper", "EXPR=1"},
	{"backslash n", `a\nb`},
	{"backslash quote", `a\"b`},
	{"backslash before quote end", `a\"`},
	{"double backslash", `\\`},
	{"section open", "<VirtualHost *:80>"},
	{"section close", "</Location>"},
	{"greater", "a>b"},
	{"hash mid", "a #b"},
	{"single-quoted words", "'a b'"},
	{"quote space", `" `},
	{"bang", "!"},
	{"tilde regex", "~ ^/x"},
	{"wildcard path", "/_matrix/*"},
	{"ipv6", "[::1]:8008"},
	{"at the limit", strings.Repeat("a", apacheMaxWord)},
	{"quotes to the limit", strings.Repeat(`"`, apacheMaxWord/2)},
}...)

// apacheMustRefuse holds the values Apache cannot write. It may also
// refuse a value too long for one argument; everything else must pass.
func apacheMustRefuse(s string) bool {
	if s == "" || strings.Contains(s, "${") {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return true
		}
	}
	return false
}

func apacheMayRefuse(s string) bool {
	return apacheMustRefuse(s) || len(s)+2+strings.Count(s, `"`)+strings.Count(s, `\`) > apacheMaxWord
}

func TestApache(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"matrix.example.org", "matrix.example.org"},
		{"/etc/letsencrypt/live/a.b/fullchain.pem", "/etc/letsencrypt/live/a.b/fullchain.pem"},
		{"http://[::1]:8008/_matrix", "http://[::1]:8008/_matrix"},
		{"*:443", "*:443"},
		{"a b", `"a b"`},
		{`say "hi"`, `"say \"hi\""`},
		{`a\`, `"a\\"`},
		{`\\`, `"\\\\"`},
		{"#x", `"#x"`},
		{"<x>", `"<x>"`},
		{"100%", `"100%"`},
		{"%{HOME}e", `"%{HOME}e"`},
		{"$x", `"$x"`},
		{"it's", `"it's"`},
		{"!", `"!"`},
	} {
		if got, err := Apache(tc.in); err != nil || got != tc.want {
			t.Errorf("Apache(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestApacheRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "a\nb", "a\rb", "a\x00", "a\tb", "\x7f", "é", "\xff", "${x}", "a${b", "${",
		strings.Repeat("x", apacheMaxWord+1), strings.Repeat(`"`, apacheMaxWord/2),
	} {
		if got, err := Apache(s); err == nil {
			t.Errorf("Apache(%.40q) = %.40q, want an error", s, got)
		}
	}
}

func TestApacheProperties(t *testing.T) {
	t.Parallel()
	for _, h := range apacheHostile {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			checkApache(t, h.s)
			checkApacheHeaderValue(t, h.s)
		})
	}
}

func checkApache(t *testing.T, s string) {
	t.Helper()
	tok, err := Apache(s)
	if err != nil {
		if !apacheMayRefuse(s) {
			t.Fatalf("Apache(%q) refused a value it can write: %v", s, err)
		}
		return
	}
	if apacheMustRefuse(s) || len(tok) > apacheMaxWord {
		t.Fatalf("Apache(%q) = %q, want a refusal", s, tok)
	}
	noLineBreak(t, "Apache", tok)
	words, err := readApacheLine("Define v " + tok + " next")
	if err != nil {
		t.Fatalf("reading back Apache(%q) = %q: %v", s, tok, err)
	}
	if len(words) != 4 || words[2] != s || words[3] != "next" {
		t.Fatalf("Apache(%q) = %q reads back as %q", s, tok, words)
	}
}

func checkApacheHeaderValue(t *testing.T, s string) {
	t.Helper()
	tok, err := ApacheHeaderValue(s)
	if err != nil {
		if !apacheMustRefuse(s) && !strings.HasPrefix(strings.ToLower(s), "expr=") &&
			len(s)+2+3*strings.Count(s, `\`)+strings.Count(s, `"`)+strings.Count(s, "%") <= apacheMaxWord {
			t.Fatalf("ApacheHeaderValue(%q) refused a value it can write: %v", s, err)
		}
		return
	}
	words, err := readApacheLine("Header set X-Echo " + tok + " next")
	if err != nil || len(words) != 5 || words[4] != "next" {
		t.Fatalf("ApacheHeaderValue(%q) = %q reads back as %q, %v", s, tok, words, err)
	}
	got, err := readHeaderFormat(words[3])
	if err != nil || got != s {
		t.Fatalf("mod_headers would send %q for ApacheHeaderValue(%q) = %q (%v)", got, s, tok, err)
	}
}

// readApacheLine splits one configuration line into words the way httpd
// does (ap_resolve_env, then ap_getword_conf and substring_conf in
// server/util.c): words end at whitespace; a word that starts with " or '
// runs to the next unescaped quote of that kind; \\ and, inside quotes, a
// backslash before the quote stand for the second byte, and every other
// backslash is kept. A line httpd would change before splitting (a
// ${NAME} variable) or join to the next (a trailing backslash) is an error.
func readApacheLine(line string) ([]string, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, errors.New("the value breaks the line")
	}
	if strings.HasSuffix(line, `\`) {
		return nil, errors.New("the line would continue onto the next")
	}
	if i := strings.Index(line, "${"); i >= 0 && strings.Contains(line[i:], "}") {
		return nil, errors.New("httpd would replace a ${...} variable")
	}
	isSpace := func(c byte) bool { return strings.IndexByte(" \t\n\v\f\r", c) >= 0 }
	var words []string
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return words, nil
		}
		if q := line[i]; q == '"' || q == '\'' {
			end := i + 1
			for end < len(line) && line[end] != q {
				if line[end] == '\\' && end+1 < len(line) && (line[end+1] == q || line[end+1] == '\\') {
					end += 2
				} else {
					end++
				}
			}
			words = append(words, apacheSubstring(line[i+1:end], q))
			if end < len(line) {
				end++
			}
			i = end
			continue
		}
		end := i
		for end < len(line) && !isSpace(line[end]) {
			end++
		}
		words = append(words, apacheSubstring(line[i:end], 0))
		i = end
	}
}

func apacheSubstring(s string, quote byte) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '\\' || quote != 0 && s[i+1] == quote) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readHeaderFormat is the text mod_headers sends for a constant format
// (parse_format_string in modules/metadata/mod_headers.c): "%%" is '%',
// any other '%' starts a tag, and a backslash escapes \ r n t or stays.
func readHeaderFormat(f string) (string, error) {
	if strings.HasPrefix(f, "expr=") {
		return "", errors.New("an expression, not a constant")
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		switch c := f[i]; {
		case c == '%' && i+1 < len(f) && f[i+1] != '%':
			return "", fmt.Errorf("a tag %%%c", f[i+1])
		case c == '%':
			b.WriteByte('%')
			i++
		case c == '\\' && i+1 < len(f) && strings.IndexByte(`\rnt`, f[i+1]) >= 0:
			b.WriteByte(map[byte]byte{'\\': '\\', 'r': '\r', 'n': '\n', 't': '\t'}[f[i+1]])
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func TestReadApacheLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`Define a b`, []string{"Define", "a", "b"}},
		{`  Header  set X "a b"  `, []string{"Header", "set", "X", "a b"}},
		{`X "a \"q\" \\ \n" 'it''s' "x"y`, []string{"X", `a "q" \ \n`, "it", "s", "x", "y"}},
		{`X a\\b a\b 'a\'b'`, []string{"X", `a\b`, `a\b`, "a'b"}},
		{`X "unclosed`, []string{"X", "unclosed"}},
	} {
		got, err := readApacheLine(tc.line)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("readApacheLine(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	for _, line := range []string{"X a\nb", `X a\`, "X ${HOME}", `X "${a}"`} {
		if got, err := readApacheLine(line); err == nil {
			t.Errorf("readApacheLine(%q) = %q, want an error", line, got)
		}
	}
}

func TestApacheHeaderValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"application/json", "application/json"},
		{"*", "*"},
		{"GET, HEAD, OPTIONS", `"GET, HEAD, OPTIONS"`},
		{"100%", `"100%%"`},
		{"%{HOME}e", `"%%{HOME}e"`},
		{`a\nb`, `"a\\\\nb"`},
		{`say "hi"`, `"say \"hi\""`},
		{"x expr=1", `"x expr=1"`},
	} {
		if got, err := ApacheHeaderValue(tc.in); err != nil || got != tc.want {
			t.Errorf("ApacheHeaderValue(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, s := range []string{"", "expr=1", "Expr=%{X}", "a\r\nSet-Cookie: x", "${x}", "é"} {
		if got, err := ApacheHeaderValue(s); err == nil {
			t.Errorf("ApacheHeaderValue(%q) = %q, want an error", s, got)
		}
	}
}

func TestApachePositions(t *testing.T) {
	t.Parallel()
	ok := func(f func(string) (string, error), in, want string) {
		t.Helper()
		if got, err := f(in); err != nil || got != want {
			t.Errorf("(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := func(f func(string) (string, error), in string) {
		t.Helper()
		if got, err := f(in); err == nil {
			t.Errorf("(%q) = %q, want an error", in, got)
		}
	}
	ok(ApacheHostname, "matrix.example.org", "matrix.example.org")
	for _, s := range []string{"", "Matrix.example.org", "http://a.b", "a.b:443", "*.a.b", "-a.b", "a..b", "a b", "é.b"} {
		bad(ApacheHostname, s)
	}

	ok(ApachePathPrefix, "/", "/")
	ok(ApachePathPrefix, "/_synapse/client", "/_synapse/client")
	ok(ApachePathPrefix, "/.well-known/matrix", "/.well-known/matrix")
	for _, s := range []string{"", "_matrix", "!", "~ /x", "/a*", "/a?", "/a[b]", "/a b", "/a%2F", "/a\"", "/${x}"} {
		bad(ApachePathPrefix, s)
	}

	url := func(hp string) func(string) (string, error) {
		return func(path string) (string, error) { return ApacheBackendURL(hp, path) }
	}
	ok(url("127.0.0.1:8008"), "/_matrix", "http://127.0.0.1:8008/_matrix")
	ok(url("[::1]:8008"), "/", "http://[::1]:8008/")
	ok(url("matrix-synapse:8008"), "/_matrix", "http://matrix-synapse:8008/_matrix")
	bad(url("127.0.0.1:8008"), "_matrix")
	bad(url("127.0.0.1:8008"), "/a?b")
	for _, hp := range []string{"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:08", "::1:8008", "[127.0.0.1]:80",
		"[fe80::1%eth0]:80", "user@host:80", "a b:80", "Host:80", "a/b:80", "${h}:80"} {
		bad(url(hp), "/")
	}

	vh := func(port int) func(string) (string, error) {
		return func(ip string) (string, error) { return ApacheVirtualHostAddress(ip, port) }
	}
	ok(vh(443), "", "*:443")
	ok(vh(8448), "127.0.0.1", "127.0.0.1:8448")
	ok(vh(443), "::1", "[::1]:443")
	bad(vh(0), "")
	bad(vh(443), "localhost:1")
	bad(vh(443), "*")

	ok(ApacheIPRange, "127.0.0.1/32", "127.0.0.1/32")
	ok(ApacheIPRange, "10.1.2.3/8", "10.0.0.0/8")
	ok(ApacheIPRange, "::1/128", "::1/128")
	for _, s := range []string{"", "all", "10.0.0.0", "10.0.0.0/33", "300.0.0.0/8", "10.0.0.0/8 0.0.0.0/0", "env=x"} {
		bad(ApacheIPRange, s)
	}

	ok(ApacheFilePath, "/etc/letsencrypt/live/a.b/privkey.pem", "/etc/letsencrypt/live/a.b/privkey.pem")
	ok(ApacheFilePath, "/tmp/dir with space/x.pem", `"/tmp/dir with space/x.pem"`)
	for _, s := range []string{"", "privkey.pem", "./x", "${SSL}/x"} {
		bad(ApacheFilePath, s)
	}

	ok(ApacheHeaderName, "Access-Control-Allow-Origin", "Access-Control-Allow-Origin")
	ok(ApacheHeaderName, "X#'", `"X#'"`)
	for _, s := range []string{"", "a b", "a:b", "a\nb", `a"b`, "é"} {
		bad(ApacheHeaderName, s)
	}

	ok(ApacheComment, "route a -> b (127.0.0.1:80) ${x} \\ mid", "route a -> b (127.0.0.1:80) ${x} \\ mid")
	for _, s := range []string{"a\nListen 80", "a\rb", "\x00", "\x7f", `ends \`, "ends \\  "} {
		bad(ApacheComment, s)
	}
}

// TestApachePathRegexp: the expression takes the path alone, read back as
// httpd splits the line and matched with Go's regexp, which reads it as
// PCRE does.
func TestApachePathRegexp(t *testing.T) {
	t.Parallel()
	tok, err := ApachePathRegexp("/admin/ketesa.v2")
	if err != nil || tok != `"^/admin/ketesa[.]v2$"` {
		t.Fatalf("ApachePathRegexp = %s, %v", tok, err)
	}
	words, err := readApacheLine("RedirectMatch " + tok)
	if err != nil || len(words) != 2 {
		t.Fatalf("%s reads back as %q, %v", tok, words, err)
	}
	re := regexp.MustCompile(words[1])
	for path, want := range map[string]bool{
		"/admin/ketesa.v2": true, "/admin/ketesaXv2": false, "/admin/ketesa.v2/": false, "/x/admin/ketesa.v2": false,
	} {
		if re.MatchString(path) != want {
			t.Errorf("%s matches %q: %v, want %v", words[1], path, !want, want)
		}
	}
	for _, bad := range []string{"admin", "/a b", "/a*", "/a\nb", ""} {
		if got, err := ApachePathRegexp(bad); err == nil {
			t.Errorf("ApachePathRegexp(%q) = %s, want an error", bad, got)
		}
	}
}

// TestApachePrefixRegexp checks the expressions against the paths
// ProxyPass would take (whole segments) with Go's regexp, whose syntax
// agrees with PCRE for these constructs, except lookahead: the exclusions
// are checked by hand on the expression without them.
func TestApachePrefixRegexp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix string
		except []string
		want   string
	}{
		{"/_matrix", nil, `"^/_matrix(?:/|$)"`},
		{"/.well-known/matrix", nil, `"^/[.]well-known/matrix(?:/|$)"`},
		{"/", nil, `"^/"`},
		{"/media/", nil, `"^/media/"`},
		{"/_matrix", []string{"/_matrix/federation", "/_matrix/key"}, `"^/_matrix(?!/federation(?:/|$)|/key(?:/|$))(?:/|$)"`},
		{"/", []string{"/_matrix", "/x/"}, `"^(?!/_matrix(?:/|$)|/x/)/"`},
	} {
		got, err := ApachePrefixRegexp(tc.prefix, tc.except)
		if err != nil || got != tc.want {
			t.Errorf("ApachePrefixRegexp(%q, %q) = %s, %v; want %s", tc.prefix, tc.except, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		prefix string
		except []string
	}{
		{"_matrix", nil}, {"/a*", nil}, {"/_matrix", []string{"/_matrixfoo"}}, {"/_matrix", []string{"/_matrix"}},
		{"/_matrix", []string{"/other"}}, {"/_matrix", []string{"/_matrix/a b"}},
	} {
		if got, err := ApachePrefixRegexp(tc.prefix, tc.except); err == nil {
			t.Errorf("ApachePrefixRegexp(%q, %q) = %s, want an error", tc.prefix, tc.except, got)
		}
	}
	for _, tc := range []struct {
		prefix string
		match  []string
		miss   []string
	}{
		{"/_matrix", []string{"/_matrix", "/_matrix/", "/_matrix/client/v3/sync"}, []string{"/_matrixfoo", "/", "/x/_matrix"}},
		{"/.well-known/matrix", []string{"/.well-known/matrix/server"}, []string{"/Xwell-known/matrix/server"}},
		{"/media/", []string{"/media/", "/media/x"}, []string{"/media", "/mediax"}},
		{"/", []string{"/", "/anything"}, nil},
	} {
		tok, err := ApachePrefixRegexp(tc.prefix, nil)
		if err != nil {
			t.Fatal(err)
		}
		words, err := readApacheLine("<LocationMatch " + tok)
		if err != nil || len(words) != 2 {
			t.Fatalf("%s reads back as %q, %v", tok, words, err)
		}
		re := regexp.MustCompile(words[1])
		for _, p := range tc.match {
			if !re.MatchString(p) {
				t.Errorf("%s does not match %q", words[1], p)
			}
		}
		for _, p := range tc.miss {
			if re.MatchString(p) {
				t.Errorf("%s matches %q", words[1], p)
			}
		}
	}
}

func FuzzApache(f *testing.F) {
	for _, h := range apacheHostile {
		f.Add(h.s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkApache(t, s)
		checkApacheHeaderValue(t, s)
	})
}

// apacheBinary returns httpd, skipping the test when it is missing, except
// in CI where a silent skip would hide a regression.
func apacheBinary(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("apache2"); err == nil {
		return path
	}
	if _, err := os.Stat("/usr/sbin/apache2"); err == nil {
		return "/usr/sbin/apache2" // Debian's place, outside a non-root PATH
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("apache2 not found; CI must run this test (apt-get install -y --no-install-recommends apache2)")
	}
	t.Skip("apache2 not found; install it with: apt-get install -y --no-install-recommends apache2")
	return ""
}

// TestApacheReadsBack hands every value the helpers write to the real
// httpd. "apache2 -t -D DUMP_RUN_CFG" must accept the file and print each
// Define exactly as it went in (Define takes at most two arguments, so a
// value split in two fails the check); a comment must not swallow the
// Define after it; and the running server must send each header value as
// it went in.
func TestApacheReadsBack(t *testing.T) {
	t.Parallel()
	bin := apacheBinary(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	var conf strings.Builder
	fmt.Fprintf(&conf, `ServerRoot "/etc/apache2"
ServerName localhost
DefaultRuntimeDir "%[1]s"
PidFile "%[1]s/httpd.pid"
Mutex "file:%[1]s" default
ErrorLog "%[1]s/error.log"
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so
Listen 127.0.0.1:%[2]d
DocumentRoot "%[1]s/empty"
<Directory "%[1]s/empty">
    Require all granted
</Directory>
`, dir, port)
	if os.Geteuid() == 0 {
		conf.WriteString("User #65534\nGroup #65534\n") // httpd will not serve as root
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	defines := map[string]string{}
	headers := map[string]string{}
	for _, h := range apacheHostile {
		if tok, err := Apache(h.s); err == nil {
			name := fmt.Sprintf("mgv%d", len(defines))
			fmt.Fprintf(&conf, "Define %s %s\n", name, tok)
			defines[name] = h.s
		}
		if c, err := ApacheComment(h.s); err == nil {
			name := fmt.Sprintf("mgc%d", len(defines))
			fmt.Fprintf(&conf, "# %s\nDefine %s ok\n", c, name)
			defines[name] = "ok"
		}
		if tok, err := ApacheHeaderValue(h.s); err == nil {
			name := fmt.Sprintf("X-Echo-%d", len(headers))
			fmt.Fprintf(&conf, "Header always set %s %s\n", name, tok)
			headers[name] = h.s
		}
	}
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-D", "DUMP_RUN_CFG", "-f", confPath).CombinedOutput()
	if err != nil {
		t.Fatalf("apache2 -t: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if kv, ok := strings.CutPrefix(line, "Define: "); ok {
			k, v, _ := strings.Cut(kv, "=")
			got[k] = v
		}
	}
	for name, want := range defines {
		if got[name] != want {
			t.Errorf("Define %s: httpd read %.60q, want %.60q", name, got[name], want)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "-X", "-f", confPath)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	apacheWaitPort(t, port, &stderr)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/missing", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for name, want := range headers {
		// HTTP drops the spaces around a field value.
		if got := resp.Header.Values(name); len(got) != 1 || got[0] != strings.Trim(want, " \t") {
			t.Errorf("%s: httpd sent %.60q, want %.60q", name, got, want)
		}
	}
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Logf("error.log:\n%s", log)
	}
}

func apacheWaitPort(t *testing.T, port int, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("httpd does not listen on 127.0.0.1:%d\n%s", port, stderr)
}

// apacheRouteRegexps are path regexes of the shapes the route table
// writes: anchored endings, "(/|$)", ".*", classes, optional groups.
var apacheRouteRegexps = []string{
	`^/_matrix/client/(r0|v3)/sync$`,
	`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/[^/]+/typing/`,
	`^/_matrix/client/(r0|v3|unstable)/user/[^/]+/rooms/[^/]+/tags(/|$)`,
	`^/_matrix/client/(r0|v3|unstable)/.*/account_data`,
	`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/messages$`,
	`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/context/.*$`,
	`^/_matrix/client/unstable/org.matrix.msc4140/delayed_events(/.*/restart)?$`,
	`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(join|invite|leave|ban|unban|kick)$`,
	`^/_synapse/admin/v1/user/.*/media.*$`,
	`^/_synapse/admin/v1/rooms/[^/]+$`,
	`^/_matrix/key/v2/query`,
	`^/_a/[$\]]x$`,
	`^/_a/[[:alpha:]]+\.json$`,
	`^/_a/(x$)?`,
}

// apacheRegexpAsGo is the pattern httpd reads, as Go's regexp: without
// the DOTALL switch, which is Go's default, and with the lookahead for a
// query string consuming the "?", which changes no answer since nothing
// follows it (ApacheProxyRegexp refuses a "$" that does not end its branch).
func apacheRegexpAsGo(t *testing.T, tok string) *regexp.Regexp {
	t.Helper()
	words, err := readApacheLine("ProxyPassMatch " + tok)
	if err != nil || len(words) != 2 {
		t.Fatalf("%s reads back as %q, %v", tok, words, err)
	}
	re, ok := strings.CutPrefix(words[1], "(?-s)")
	if !ok {
		t.Fatalf("%s does not switch DOTALL off", words[1])
	}
	return regexp.MustCompile(strings.ReplaceAll(re, `(?=\?|$)`, `(?:\?|$)`))
}

func TestApacheProxyRegexp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`^/_matrix/client/(r0|v3)/sync$`, `"(?-s)^/_matrix/client/(r0|v3)/sync(?=\\?|$)"`},
		{`^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`, `"(?-s)^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|(?=\\?|$))"`},
		{`^/_matrix/key/v2/query`, `"(?-s)^/_matrix/key/v2/query"`},
		{`^/_a/[$\]]x\$$`, `"(?-s)^/_a/[$\\]]x\\$(?=\\?|$)"`},
		{`^/_a/[]$]$`, `"(?-s)^/_a/[]$](?=\\?|$)"`},
		{`^/_a/[^]$]$`, `"(?-s)^/_a/[^]$](?=\\?|$)"`},
		{`^/_a/[[:alpha:]$]+$`, `"(?-s)^/_a/[[:alpha:]$]+(?=\\?|$)"`},
		{`^/_a/(?:x|$)`, `"(?-s)^/_a/(?:x|(?=\\?|$))"`},
	} {
		if got, err := ApacheProxyRegexp(tc.in); err != nil || got != tc.want {
			t.Errorf("ApacheProxyRegexp(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, s := range []string{
		"", "/_matrix", "^_matrix", "^(/a)", `^/a(?=b)`, `^/a(?!b)`, `^/a(?i)b`, `^/a(?P<n>b)`, `^/a\d`, `^/a\b`, `^/a\z`,
		`^/a$b`, `^/a(b$)c`, `^/a(b$)*`, `^/a(b|$)+`, "^/a${x}", "^/a\nb", "^/a[", `^/a\`, "^/a b é",
	} {
		if got, err := ApacheProxyRegexp(s); err == nil {
			t.Errorf("ApacheProxyRegexp(%q) = %s, want an error", s, got)
		}
	}
	paths := []string{
		"/_matrix/client/v3/sync", "/_matrix/client/v3/syncx", "/_matrix/client/v3/sync/", "/_matrix/client/r0/sync",
		"/_matrix/client/v3/rooms/!r:a.b/typing/@u:a.b", "/_matrix/client/v3/rooms/!r%2Fx:a.b/typing/@u:a.b",
		"/_matrix/client/v3/user/@u:a.b/rooms/!r:a.b/tags", "/_matrix/client/v3/user/@u:a.b/rooms/!r:a.b/tags/m.fav",
		"/_matrix/client/v3/user/@u:a.b/rooms/!r:a.b/tagsx", "/_matrix/client/v3/user/@u:a.b/account_data/m.x",
		"/_matrix/client/v3/rooms/!r:a.b/messages", "/_matrix/client/v3/rooms/!r:a.b/messagesx",
		"/_matrix/client/v3/rooms/a\nb/messages", "/_matrix/client/v3/rooms/!r:a.b/context/$e", "/_matrix/client/v3/rooms/!r:a.b/context/a\nb",
		"/_matrix/client/unstable/org.matrix.msc4140/delayed_events", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/x/restart",
		"/_matrix/client/unstable/org.matrix.msc4140/delayed_events/x", "/_matrix/client/v3/rooms/!r:a.b/kick", "/_matrix/client/v3/rooms/!r:a.b/kicks",
		"/_synapse/admin/v1/user/@u:a.b/media", "/_synapse/admin/v1/user/@u:a.b/mediafoo", "/_synapse/admin/v1/rooms/!r:a.b",
		"/_synapse/admin/v1/rooms/!r:a.b/members", "/_matrix/key/v2/query/a.b", "/_a/$x", "/_a/]x", "/_a/yx", "/_a/abc.json", "/_a/ab1.json",
		"/_a/x", "/_a/", "/_a/y",
	}
	for _, re := range apacheRouteRegexps {
		tok, err := ApacheProxyRegexp(re)
		if err != nil {
			t.Errorf("ApacheProxyRegexp(%q): %v", re, err)
			continue
		}
		orig, apache := regexp.MustCompile(re), apacheRegexpAsGo(t, tok)
		for _, p := range paths {
			// The decoded path: the same answer as the route table's.
			if got, want := apache.MatchString(p), orig.MatchString(p); got != want {
				t.Errorf("%s on %q: %v, the route table's %s: %v", tok, p, got, re, want)
			}
			// The target as sent, with a query: a match wherever the
			// decoded path matched, so that nocanon holds.
			if orig.MatchString(p) && !apache.MatchString(p+"?since=s1_2&dir=b") {
				t.Errorf("%s does not match %q with a query string", tok, p)
			}
		}
	}
}

func TestApacheOriginAndBalancer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:8008", "http://127.0.0.1:8008"},
		{"[::1]:8008", "http://[::1]:8008"},
		{"matrix-synapse-worker-generic-worker-0:8008", "http://matrix-synapse-worker-generic-worker-0:8008"},
	} {
		if got, err := ApacheOrigin(tc.in); err != nil || got != tc.want {
			t.Errorf("ApacheOrigin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, s := range []string{"", "127.0.0.1", "127.0.0.1:80/x", "a&b:80", "a$1:80", "a\\b:80", "${h}:80", "Host:80", "[::1%lo]:80"} {
		if got, err := ApacheOrigin(s); err == nil {
			t.Errorf("ApacheOrigin(%q) = %q, want an error", s, got)
		}
	}
	for _, tc := range []struct{ pool, path, want string }{
		{"synapse-sync-worker-client-user", "", "balancer://matrixgen-synapse-sync-worker-client-user"},
		{"synapse-media-repository-media-least-conn", "/_matrix/media", "balancer://matrixgen-synapse-media-repository-media-least-conn/_matrix/media"},
		{strings.Repeat("a", apacheMaxBalancerHost-len("matrixgen-")), "", "balancer://matrixgen-" + strings.Repeat("a", apacheMaxBalancerHost-len("matrixgen-"))},
	} {
		if got, err := ApacheBalancerURL(tc.pool, tc.path); err != nil || got != tc.want {
			t.Errorf("ApacheBalancerURL(%q, %q) = %q, %v; want %q", tc.pool, tc.path, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ pool, path string }{
		{"", ""}, {"-a", ""}, {"Pool", ""}, {"a_b", ""}, {"a.b", ""}, {"a b", ""}, {"a&b", ""}, {"a$1", ""},
		{strings.Repeat("a", apacheMaxBalancerHost), ""}, {"a", "x"}, {"a", "/a?b"}, {"a", "/${x}"},
	} {
		if got, err := ApacheBalancerURL(tc.pool, tc.path); err == nil {
			t.Errorf("ApacheBalancerURL(%q, %q) = %q, want an error", tc.pool, tc.path, got)
		}
	}
}
