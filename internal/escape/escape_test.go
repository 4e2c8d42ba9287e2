package escape

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// hostile holds one row per input that has broken a line format somewhere.
var hostile = []struct{ name, s string }{
	{"plain", "matrix"},
	{"newline", "a\nb"},
	{"newline directive", "x\nExecStartPre=/bin/sh -c id"},
	{"trailing newline", "a\n"},
	{"cr", "a\rb"},
	{"crlf", "a\r\nb"},
	{"nul", "a\x00b"},
	{"tab", "a\tb"},
	{"double quote", `say "hi"`},
	{"single quote", "it's"},
	{"backslash", `a\b`},
	{"trailing backslash", `a\`},
	{"escaped semicolon", `\;`},
	{"semicolon", ";"},
	{"semicolon command", "a; rm -rf /"},
	{"hash", "#comment"},
	{"specifier", "%n"},
	{"double percent", "%%"},
	{"lone percent", "100%"},
	{"dollar var", "$HOME"},
	{"dollar braces", "${x}"},
	{"double dollar", "$$"},
	{"command substitution", "$(id)"},
	{"backticks", "`id`"},
	{"caddy placeholder", "{http.request.uri}"},
	{"leading dash", "-rf"},
	{"exec prefixes", "@-:+!|"},
	{"spaces", "  two  spaces  "},
	{"only space", " "},
	{"empty", ""},
	{"e acute", "é"},
	{"emoji", "🦀 ok"},
	{"invalid utf8", "\xff\xfe"},
	{"c1 next line", "\u0085"},
	{"line separator", "\u2028"},
	{"del", "\x7f"},
	{"terminal escape", "\x1b[31m"},
	{"glob", "*?[a]"},
	{"tilde", "~root"},
	{"long", strings.Repeat("ab'\"$%\\ \t", 512)},
	{"over 64KiB", strings.Repeat("x", 70000)},
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

func noLineBreak(t *testing.T, what, out string) {
	t.Helper()
	if strings.ContainsAny(out, "\n\r") {
		t.Errorf("%s output %q contains a line break", what, out)
	}
}

func TestSystemdValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"a\nb", `a\nb`},
		{"a\r\nb", `a\r\nb`},
		{"a\x00b", `a\x00b`},
		{"a\tb", `a\tb`},
		{`a\b`, `a\\b`},
		{`a\`, `a\\`},
		{"%n", "%%n"},
		{"%%", "%%%%"},
		{"$HOME ${x}", "$HOME ${x}"},
		{`say "hi"; #x`, `say "hi"; #x`},
		{"é🦀", "é🦀"},
		{"\xff", `\xff`},
		{"\u0085\u2028", `\xc2\x85\xe2\x80\xa8`},
		{"\x1b\x7f", `\x1b\x7f`},
	} {
		if got := SystemdValue(tc.in); got != tc.want {
			t.Errorf("SystemdValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSystemdValueProperties(t *testing.T) {
	t.Parallel()
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			checkSystemdValue(t, h.s)
		})
	}
}

func checkSystemdValue(t *testing.T, s string) {
	t.Helper()
	out := SystemdValue(s)
	for _, r := range out {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			t.Fatalf("SystemdValue(%q) = %q keeps %q raw", s, out, r)
		}
	}
	back, err := SystemdUnescape(out)
	if hasNUL(s) {
		if err == nil {
			t.Fatalf("SystemdUnescape(%q) accepted an escaped NUL", out)
		}
		return
	}
	if err != nil || back != s {
		t.Fatalf("SystemdUnescape(SystemdValue(%q)) = %q, %v", s, back, err)
	}
}

func TestSystemdArgv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"/bin/echo", "plain", "-rf", "--a=b,c:d@e+f"}, "/bin/echo plain -rf --a=b,c:d@e+f"},
		{[]string{"/bin/echo", ""}, `/bin/echo ""`},
		{[]string{"/bin/echo", "a b"}, `/bin/echo "a b"`},
		{[]string{"/bin/echo", "a\nb\x00"}, `/bin/echo "a\nb\x00"`},
		{[]string{"/bin/echo", `say "hi"`, "it's"}, `/bin/echo "say \"hi\"" "it's"`},
		{[]string{"/bin/echo", `a\`}, `/bin/echo "a\\"`},
		{[]string{"/bin/echo", ";", `\;`}, `/bin/echo ";" "\\;"`},
		{[]string{"/bin/echo", "%n", "100%"}, "/bin/echo %%n 100%%"},
		{[]string{"/bin/echo", "$HOME", "${x}", "$(id)"}, `/bin/echo "$$HOME" "$${x}" "$$(id)"`},
		{[]string{"/bin/echo", "é", "\xff", "\x1b[31m"}, `/bin/echo "é" "\xff" "\x1b[31m"`},
		{[]string{"/bin/echo", "{http.request.uri}"}, `/bin/echo "{http.request.uri}"`},
		{[]string{"/opt/my app/%i"}, `"/opt/my app/%%i"`},
	} {
		if got := SystemdArgv(tc.args); got != tc.want {
			t.Errorf("SystemdArgv(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestSystemdArgvRefusesBadExecutable(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		nil, {""}, {"-/bin/echo"}, {"@/bin/echo", "echo"}, {":/bin/echo"},
		{"+/bin/echo"}, {"!/bin/echo"}, {"!!/bin/echo"}, {"|/bin/echo"}, {"/bin/$x"},
	} {
		if !panics(func() { SystemdArgv(args) }) {
			t.Errorf("SystemdArgv(%q) did not panic", args)
		}
	}
}

func panics(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

// validExecutable mirrors the panic conditions of SystemdArgv.
func validExecutable(s string) bool {
	return s != "" && !strings.ContainsAny(s[:1], execPrefixes) && !strings.Contains(s, "$")
}

func TestSystemdArgvProperties(t *testing.T) {
	t.Parallel()
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			checkSystemdArgv(t, []string{"/bin/echo", h.s, "next"})
			checkSystemdArgv(t, []string{"/bin/echo", h.s})
			if validExecutable(h.s) {
				checkSystemdArgv(t, []string{h.s, h.s})
			}
		})
	}
}

func checkSystemdArgv(t *testing.T, args []string) {
	t.Helper()
	out := SystemdArgv(args)
	noLineBreak(t, "SystemdArgv", out)
	if hasNUL(out) {
		t.Fatalf("SystemdArgv(%q) = %q contains NUL", args, out)
	}
	got, err := SystemdSplit(out)
	if slices.ContainsFunc(args, hasNUL) {
		if err == nil {
			t.Fatalf("SystemdSplit(%q) accepted an escaped NUL", out)
		}
		return
	}
	if err != nil || !slices.Equal(got, args) {
		t.Fatalf("SystemdSplit(SystemdArgv(%q)) = %q, %v (line %q)", args, got, err, out)
	}
}

func TestSystemdSplit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"", nil},
		{" \t ", nil},
		{"  /bin/echo \t a  ", []string{"/bin/echo", "a"}},
		{`/bin/echo a"b c"d 'x "y"' ""`, []string{"/bin/echo", "ab cd", `x "y"`, ""}},
		{`/bin/echo \; ";" ";"x`, []string{"/bin/echo", ";", ";", ";x"}},
		{`/bin/echo \x41\101\u00e9\U0001F980 "\s\t\\"`, []string{"/bin/echo", "AAé🦀", " \t\\"}},
		{`/bin/echo \xff\303\251`, []string{"/bin/echo", "\xffé"}},
		{"/bin/echo %%n $$HOME $${x} '%%$$'", []string{"/bin/echo", "%n", "$HOME", "${x}", "%$"}},
		{"/bin/echo a\nb", []string{"/bin/echo", "a", "b"}},
	} {
		got, err := SystemdSplit(tc.line)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SystemdSplit(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}

func TestSystemdSplitErrors(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		`/bin/echo "a`, `/bin/echo 'a`, `/bin/echo a\`, `/bin/echo \q`, `/bin/echo \;x`, `/bin/echo "\;"`,
		`/bin/echo "\x00"`, `/bin/echo \000`, `/bin/echo \u0000`, "/bin/echo a\x00",
		`/bin/echo \x4`, `/bin/echo \xzz`, `/bin/echo \400`, `/bin/echo \uD800`, `/bin/echo \U00110000`,
		`/bin/echo %n`, `/bin/echo 100%`, `/bin/echo $HOME`, `/bin/echo a$`,
		`/bin/echo a ; /bin/true`, `/bin/echo ;`, `-/bin/echo`, `"-/bin/echo"`, `@/bin/echo echo`,
		`/bin/e$$cho`, `""`, `\;`,
	} {
		if got, err := SystemdSplit(line); err == nil {
			t.Errorf("SystemdSplit(%q) = %q, want an error", line, got)
		}
	}
}

func TestSystemdUnescapeErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{`\q`, `a\`, `%n`, `100%`, `\x00`, "a\x00", `\u12`} {
		if got, err := SystemdUnescape(s); err == nil {
			t.Errorf("SystemdUnescape(%q) = %q, want an error", s, got)
		}
	}
}

func TestShell(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"matrix", "matrix"},
		{"/usr/bin/docker", "/usr/bin/docker"},
		{"--env-file=/etc/x.env", "--env-file=/etc/x.env"},
		{"%n@host:8448,+", "%n@host:8448,+"},
		{"", "''"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$HOME", "'$HOME'"},
		{"$(id)`id`", "'$(id)`id`'"},
		{"a b;c#d", "'a b;c#d'"},
		{`a\b`, `'a\b'`},
		{"é", "'é'"},
		{"~root", "'~root'"},
		{"a\nb", "'a\nb'"},
	} {
		if got := Shell(tc.in); got != tc.want {
			t.Errorf("Shell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	want := `printf '%s\n' 'it'\''s' '' -n`
	if got := ShellWords([]string{"printf", `%s\n`, "it's", "", "-n"}); got != want {
		t.Errorf("ShellWords = %q, want %q", got, want)
	}
	if got := ShellWords(nil); got != "" {
		t.Errorf("ShellWords(nil) = %q, want empty", got)
	}
}

// checkShellForm checks the shape of a Shell result; the sh run below checks
// its meaning. Line breaks may only appear inside the single quotes.
func checkShellForm(t *testing.T, s, out string) {
	t.Helper()
	if out == s && isBare(s) {
		return
	}
	inner, ok := strings.CutPrefix(out, "'")
	inner, ok2 := strings.CutSuffix(inner, "'")
	if !ok || !ok2 || strings.ReplaceAll(inner, `'\''`, "'") != s {
		t.Fatalf("Shell(%q) = %q is not a single-quoted form of the input", s, out)
	}
}

func runSh(t *testing.T, script string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("sh -c %q: %v, stderr %q", script, err, stderr.String())
	}
	return stdout.String()
}

func TestShellRunsInSh(t *testing.T) {
	t.Parallel()
	var words []string
	for _, h := range hostile {
		if hasNUL(h.s) {
			continue // sh cannot carry NUL
		}
		words = append(words, h.s)
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			out := Shell(h.s)
			checkShellForm(t, h.s, out)
			if got := runSh(t, "printf '%s' "+out); got != h.s {
				t.Fatalf("sh printed %q for Shell(%q) = %q", got, h.s, out)
			}
		})
	}
	t.Run("words", func(t *testing.T) {
		t.Parallel()
		want := "<" + strings.Join(words, "><") + ">"
		if got := runSh(t, "printf '<%s>' "+ShellWords(words)); got != want {
			t.Fatalf("sh printed %q, want %q", got, want)
		}
	})
}

func TestEnvFileValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, value, want string }{
		{"KEY", "plain", "KEY=plain"},
		{"_K1", "", "_K1="},
		{"KEY", "  spaces kept  ", "KEY=  spaces kept  "},
		{"KEY", `$HOME "q" 'q' \ #x`, `KEY=$HOME "q" 'q' \ #x`},
		{"KEY", "a=b", "KEY=a=b"},
		{"KEY", "é🦀", "KEY=é🦀"},
	} {
		got, err := EnvFileValue(tc.key, tc.value)
		if err != nil || got != tc.want {
			t.Errorf("EnvFileValue(%q, %q) = %q, %v; want %q", tc.key, tc.value, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ key, value string }{
		{"KEY", "a\nb"}, {"KEY", "a\r"}, {"KEY", "a\x00"}, {"KEY", "\xff"},
		{"KEY", strings.Repeat("x", maxEnvLine-3)},
		{"", "v"}, {"1A", "v"}, {"A-B", "v"}, {"A B", "v"}, {"A=B", "v"}, {" A", "v"}, {"é", "v"},
	} {
		if got, err := EnvFileValue(tc.key, tc.value); err == nil {
			t.Errorf("EnvFileValue(%q, %.20q) = %.20q, want an error", tc.key, tc.value, got)
		}
	}
	if _, err := EnvFileValue("KEY", strings.Repeat("x", maxEnvLine-4)); err != nil {
		t.Errorf("EnvFileValue at the line limit: %v", err)
	}
}

func TestEnvFileValueProperties(t *testing.T) {
	t.Parallel()
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			checkEnvFileValue(t, "MATRIX_VALUE", h.s)
		})
	}
}

func checkEnvFileValue(t *testing.T, key, value string) {
	t.Helper()
	line, err := EnvFileValue(key, value)
	wantErr := !isEnvKey(key) || strings.ContainsAny(value, "\n\r\x00") ||
		!utf8.ValidString(value) || len(key)+1+len(value) > maxEnvLine
	if (err != nil) != wantErr {
		t.Fatalf("EnvFileValue(%q, %.40q) error = %v, want error: %v", key, value, err, wantErr)
	}
	if err != nil {
		return
	}
	noLineBreak(t, "EnvFileValue", line)
	k, v, err := readDockerEnvLine(line + "\n")
	if err != nil || k != key || v != value {
		t.Fatalf("docker would read %q as %q=%q, %v", line, k, v, err)
	}
}

// readDockerEnvLine reads a one-line env file the way docker run --env-file
// does: a default bufio.Scanner, UTF-8 check, leading whitespace trimmed,
// split at the first '=', value taken verbatim.
func readDockerEnvLine(file string) (key, value string, err error) {
	sc := bufio.NewScanner(strings.NewReader(file))
	var lines []string
	for sc.Scan() {
		if !utf8.Valid(sc.Bytes()) {
			return "", "", errors.New("invalid utf8")
		}
		lines = append(lines, strings.TrimLeftFunc(sc.Text(), unicode.IsSpace))
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	if len(lines) != 1 {
		return "", "", fmt.Errorf("%d lines", len(lines))
	}
	key, value, _ = strings.Cut(lines[0], "=")
	return key, value, nil
}
