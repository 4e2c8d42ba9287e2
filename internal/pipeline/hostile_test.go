package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/render"
)

// The values the schema accepts although they are dangerous in some output
// format (internal/validate's hostileAccepted lists them). Each slot of
// hostileConfig takes a hostile value or a plain one of the same shape; a
// bundle built with hostile values must parse, file by file and in the
// file's own format, into what the plain bundle parses into once every
// hostile value is replaced by its plain twin. A value split into two,
// or one that adds a line, key, argument or directive, makes the two differ.
var hostileSlots = []struct {
	slot, plain string
	hostile     []string
}{
	{"BRAND", "Plain Brand", []string{
		"Chat; $(id) `id` ${HOME} %n {x} {{.Y}} 'a' \"b\" \\",
		"</script><script>alert(1)</script>",
		"a\x7fb\u0085c\u2028d",
		" -rf  ",
	}},
	{"ELEMENT_EXTRA", "plain-element-extra", []string{"</script>\u2028"}},
	{"TRAEFIK_EXTRA", "plain-format", []string{"{{ .Env }}\nX: $(id)"}},
	{"SYN_KEY", "plain_key", []string{"key\nwith: newline"}},
	{"SYN_VAL", "plain value", []string{"value\n$(id)\r\n%n"}},
	{"WK_KEY", "plain_wk_key", []string{"a\"b"}},
	{"WK_VAL", "plain wk value", []string{"c'd\\"}},
	{"ADMIN", "mailto:plain@example.org", []string{
		"mailto:a@example.org?subject=$(id);`x`%n{y}'\"",
	}},
	{"SUPPORT_PAGE", "https://example.org/help", []string{"https://example.org/{http.request.uri}?a=$HOME;b=%n"}},
	{"ROOM", "#plain:example.org", []string{"#$(id);`x`%n{y}'\":example.org"}},
	{"MXID", "@plain:example.org", []string{"@$(id)`x`;%n:example.org"}},
	{"SENDER", "plain@example.org", []string{"a%n+b@example.org"}},
	{"SENDER_NAME", "Plain Name", []string{" -rf  Name . _"}},
	{"SMTP_HOST", "smtp.example.net", []string{"-oXhostile"}},
	{"SMTP_USER", "plain-user", []string{"a;b$(id)`x`%n{y}'\""}},
	{"PG_APP", "plain_app", []string{"x'; DROP TABLE users; --\nhost all all 0.0.0.0/0 trust"}},
	{"PG_HOST", "db.example.org", []string{"--hostile-db"}},
}

const hostileConfig = `domain: example.org
traefik:
  acme_email: admin@example.org
  extra:
    log: {format: <<TRAEFIK_EXTRA>>}
element:
  brand: <<BRAND>>
  extra:
    custom: <<ELEMENT_EXTRA>>
homeserver:
  auto_join_rooms: [<<ROOM>>]
synapse:
  admin_contact: <<ADMIN>>
  extra:
    <<SYN_KEY>>: <<SYN_VAL>>
well_known:
  client_extra:
    <<WK_KEY>>: <<WK_VAL>>
  support:
    page: <<SUPPORT_PAGE>>
    contacts:
      - matrix_id: <<MXID>>
mailer:
  enabled: true
  sender: <<SENDER>>
  sender_name: <<SENDER_NAME>>
  smarthost:
    host: <<SMTP_HOST>>
    user: <<SMTP_USER>>
reverse_proxy:
  type: <<PROXY>>
`

const (
	bundledPostgres  = "postgres:\n  bundled:\n    extra:\n      application_name: <<PG_APP>>\n"
	externalPostgres = "postgres:\n  mode: external\n  external:\n    host: <<PG_HOST>>\n"
)

// yamlQuoted writes s as a YAML double-quoted scalar. Go's escapes are all
// YAML escapes too, and ASCII-only output keeps DEL and NEL escaped.
func yamlQuoted(s string) string { return strconv.QuoteToASCII(s) }

// hostileCase is one build: the slots that get a hostile value (the others
// get their plain one), the proxy and the postgres block.
type hostileCase struct {
	name     string
	proxy    string
	postgres string
	hostile  map[string]string
}

func hostileCases() []hostileCase {
	first := map[string]string{}
	for _, s := range hostileSlots {
		first[s.slot] = s.hostile[0]
	}
	var cases []hostileCase
	for _, proxy := range []string{"traefik", "nginx", "caddy", "apache"} {
		cases = append(cases, hostileCase{"all/" + proxy, proxy, bundledPostgres, first})
	}
	cases = append(cases, hostileCase{"all/external-postgres", "traefik", externalPostgres, first})
	for _, s := range hostileSlots {
		for i, h := range s.hostile[1:] {
			cases = append(cases, hostileCase{fmt.Sprintf("%s/%d", s.slot, i+1), "traefik", bundledPostgres, map[string]string{s.slot: h}})
		}
	}
	for i := range cases {
		cases[i] = cases[i].withSlots()
	}
	return cases
}

// withSlots keeps the hostile values whose slot the case's config has.
func (c hostileCase) withSlots() hostileCase {
	text := hostileConfig + c.postgres
	kept := map[string]string{}
	for slot, v := range c.hostile {
		if strings.Contains(text, "<<"+slot+">>") {
			kept[slot] = v
		}
	}
	c.hostile = kept
	return c
}

func (c hostileCase) config(hostile bool) []byte {
	text := hostileConfig + c.postgres
	text = strings.ReplaceAll(text, "<<PROXY>>", c.proxy)
	for _, s := range hostileSlots {
		v := s.plain
		if h, ok := c.hostile[s.slot]; ok && hostile {
			v = h
		}
		text = strings.ReplaceAll(text, "<<"+s.slot+">>", yamlQuoted(v))
	}
	return []byte(text)
}

// replacements maps each hostile value of the case to its plain twin,
// longest first, so that no value is replaced inside a longer one.
func (c hostileCase) replacements() [][2]string {
	var r [][2]string
	for _, s := range hostileSlots {
		if h, ok := c.hostile[s.slot]; ok {
			r = append(r, [2]string{h, s.plain})
		}
	}
	sort.SliceStable(r, func(i, j int) bool { return len(r[i][0]) > len(r[j][0]) })
	return r
}

func TestHostileValuesStayOneValue(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			hostile := runHostile(t, c.config(true))
			plain := runHostile(t, c.config(false))
			if !slices.Equal(hostile.Paths(), plain.Paths()) {
				t.Fatalf("the hostile values changed the files of the bundle:\n%q\nplain:\n%q", hostile.Paths(), plain.Paths())
			}
			repl := c.replacements()
			reached := map[string][]string{}
			for _, p := range hostile.Paths() {
				for _, v := range checkHostileFile(t, p, hostile[p].Data, plain[p].Data, repl) {
					reached[v] = append(reached[v], p)
				}
			}
			checkScripts(t, hostile, repl)
			for _, r := range repl {
				switch {
				case len(reached[r[0]]) > 0:
					t.Logf("%q reaches %s", r[0], strings.Join(reached[r[0]], ", "))
				case r[0] == c.hostile["TRAEFIK_EXTRA"] && c.proxy != "traefik":
				default:
					t.Errorf("%q reaches no file: the case tests nothing", r[0])
				}
			}
		})
	}
}

func runHostile(t *testing.T, config []byte) render.Tree {
	t.Helper()
	res, problems := Run("matrix.yaml", config)
	if len(problems) > 0 {
		t.Fatalf("the config does not build: %v\n%s", problems, config)
	}
	return res.Tree
}

// checkHostileFile compares one file of the hostile bundle with the same
// file of the plain one, parsed by a reader of its format, and returns the
// hostile values found in it.
func checkHostileFile(t *testing.T, p string, hostile, plain []byte, repl [][2]string) []string {
	t.Helper()
	format := fileFormat(p, plain)
	parse := parsers[format]
	var quoted []string
	if format == "shell" {
		// A value sh reads as one quoted word has a quoted twin.
		for _, r := range repl {
			if q := escape.Shell(r[0]); bytes.Contains(hostile, []byte(q)) {
				hostile = bytes.ReplaceAll(hostile, []byte(q), []byte(escape.Shell(r[1])))
				quoted = append(quoted, r[0])
			}
		}
	}
	h, err := parse(hostile)
	if err != nil {
		t.Errorf("%s (%s): the hostile bundle's file does not parse: %v", p, format, err)
		return nil
	}
	want, err := parse(plain)
	if err != nil {
		t.Errorf("%s (%s): the plain bundle's file does not parse: %v", p, format, err)
		return nil
	}
	found := map[string]bool{}
	if got := substitute(h, repl, found); !reflect.DeepEqual(got, want) {
		t.Errorf("%s (%s): with hostile values it parses into something else than with plain ones:\nhostile, values replaced:\n%s\nplain:\n%s",
			p, format, dump(got), dump(want))
	}
	if format == "text" {
		// Formats this test has no parser for (nginx, Caddy, Apache,
		// Markdown, ...) may only receive values of inert characters, on
		// the lines they had.
		if bytes.Count(hostile, []byte("\n")) != bytes.Count(plain, []byte("\n")) {
			t.Errorf("%s: the hostile values changed its number of lines", p)
		}
		for v := range found {
			if strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:_@/-") != "" {
				t.Errorf("%s: contains the hostile value %q, and this test has no parser for its format", p, v)
			}
		}
	}
	out := quoted
	for v := range found {
		out = append(out, v)
	}
	return out
}

func dump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// fileFormat tells how a bundle file is read by what consumes it.
func fileFormat(p string, data []byte) string {
	base := path.Base(p)
	switch {
	case p == render.ManifestFile:
		return "manifest"
	case p == render.FilesTable || p == render.UnitsTable:
		return "table"
	case strings.HasPrefix(p, "etc/systemd/system/"):
		return "unit"
	case strings.HasSuffix(p, ".yaml"), strings.HasSuffix(p, ".yml"), strings.HasSuffix(p, ".log.config"):
		return "yaml"
	case strings.HasSuffix(p, ".json"), strings.Contains(p, "/.well-known/matrix/"):
		return "json"
	case strings.HasSuffix(p, ".env"), base == "env-secret":
		return "env"
	case strings.HasSuffix(p, ".sh"), bytes.HasPrefix(data, []byte("#!/bin/sh")):
		return "shell"
	}
	return "text"
}

var parsers = map[string]func([]byte) (any, error){
	"yaml": func(b []byte) (any, error) {
		var v any
		err := yaml.Unmarshal(b, &v)
		return v, err
	},
	"json": func(b []byte) (any, error) {
		var v any
		err := json.Unmarshal(b, &v)
		return v, err
	},
	"env":      parseEnvFile,
	"unit":     parseUnit,
	"manifest": func(b []byte) (any, error) { return parseTable(b, 1) },
	"table":    func(b []byte) (any, error) { return parseTable(b, 0) },
	// Scripts as text here; checkScripts reads them as sh does.
	"shell": func(b []byte) (any, error) { return string(b), nil },
	"text":  func(b []byte) (any, error) { return string(b), nil },
}

// substitute replaces the hostile values by their plain twins in every
// string of v (map keys too), and notes in found the values it replaced.
func substitute(v any, repl [][2]string, found map[string]bool) any {
	str := func(s string) string {
		for _, r := range repl {
			if strings.Contains(s, r[0]) {
				found[r[0]] = true
				s = strings.ReplaceAll(s, r[0], r[1])
			}
		}
		return s
	}
	switch x := v.(type) {
	case string:
		return str(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = str(s)
		}
		return out
	case [][]string:
		out := make([][]string, len(x))
		for i, item := range x {
			out[i] = substitute(item, repl, found).([]string)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = substitute(item, repl, found)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[str(k)] = substitute(item, repl, found)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, item := range x {
			out[str(k)] = str(item)
		}
		return out
	}
	return v
}

// parseEnvFile reads a file as docker run --env-file does: one KEY=VALUE a
// line, the value verbatim (no quotes, escapes or expansion), blanks before
// the key dropped, blank lines and # lines skipped. What docker would take
// from elsewhere or mangle is an error: a line without "=", a CR or NUL, a
// key given twice.
func parseEnvFile(b []byte) (any, error) {
	vars := map[string]string{}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	for i, line := range strings.Split(string(b), "\n") {
		if strings.ContainsAny(line, "\r\x00") {
			return nil, fmt.Errorf("line %d: CR or NUL", i+1)
		}
		line = strings.TrimLeft(line, " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: not KEY=VALUE: %q", i+1, line)
		}
		if _, twice := vars[k]; twice {
			return nil, fmt.Errorf("line %d: %s given twice", i+1, k)
		}
		vars[k] = v
	}
	return vars, nil
}

// parseUnit reads a systemd unit as systemd does: sections, comments,
// backslash continuations; Exec lines split into argv with
// escape.SystemdSplit (after their flag prefix, and with the host uid:gid
// systemd takes from the host env file), other values C-unescaped.
// A CR or another control byte in a line is an error: systemd would read
// the line differently from any reviewer.
func parseUnit(b []byte) (any, error) {
	var out [][]string
	section := ""
	var cur string
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, line := range lines {
		if strings.IndexFunc(line, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("line %d: control character in %q", i+1, line)
		}
		if s := strings.TrimSpace(line); cur == "" && (strings.HasPrefix(s, "#") || strings.HasPrefix(s, ";")) {
			out = append(out, []string{"comment", s})
			continue
		}
		cur += line
		if strings.HasSuffix(cur, `\`) && i < len(lines)-1 {
			cur = strings.TrimSuffix(cur, `\`) + " "
			continue
		}
		line, cur = strings.TrimSpace(cur), ""
		switch {
		case line == "":
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: not a setting: %q", i+1, line)
			}
			key, value = strings.TrimSpace(key), strings.TrimSpace(value)
			if strings.HasPrefix(key, "Exec") {
				flags := value[:len(value)-len(strings.TrimLeft(value, "-@:+!|"))]
				words, err := escape.SystemdSplit(strings.ReplaceAll(value[len(flags):], hostUser, "1000:1000"))
				if err != nil {
					return nil, fmt.Errorf("line %d: %v", i+1, err)
				}
				out = append(out, append([]string{section, key, flags}, words...))
				continue
			}
			v, err := escape.SystemdUnescape(value)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", i+1, err)
			}
			out = append(out, []string{section, key, v})
		}
	}
	return out, nil
}

// parseTable reads MANIFEST, FILES and UNITS: whitespace-separated columns,
// the first skip of them left out (MANIFEST's hashes differ with contents).
func parseTable(b []byte, skip int) (any, error) {
	var out [][]string
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) <= skip {
			return nil, fmt.Errorf("line %d: %d columns", i+1, len(f))
		}
		out = append(out, f[skip:])
	}
	return out, nil
}

// checkScripts checks the shell scripts of the bundle as sh reads them:
// sh -n and shellcheck accept them, and every hostile value in them is
// either one single-quoted word made by escape.Shell where sh reads code,
// or, without blanks or line breaks, in a quoted here-document (the data
// tables that install.sh reads with read -r).
func checkScripts(t *testing.T, tree render.Tree, repl [][2]string) {
	t.Helper()
	var scripts []string
	for _, p := range tree.Paths() {
		if fileFormat(p, tree[p].Data) == "shell" {
			scripts = append(scripts, p)
		}
	}
	if len(scripts) == 0 {
		t.Fatal("no shell scripts in the bundle")
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := bundle.Write(out, tree); err != nil {
		t.Fatal(err)
	}
	var reached []string
	for _, p := range scripts {
		file := filepath.Join(out, filepath.FromSlash(p))
		if msg, err := exec.Command("sh", "-n", file).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", p, err, msg)
		}
		found, problems := shellValueProblems(p, string(tree[p].Data), repl)
		for _, msg := range problems {
			t.Error(msg)
		}
		if found {
			sum := sha256.Sum256(tree[p].Data)
			if _, seen := shellchecked.LoadOrStore(sum, true); !seen {
				reached = append(reached, file)
			}
		}
	}
	if len(reached) > 0 {
		t.Run("shellcheck", func(t *testing.T) { consumers.Shellcheck(t, reached...) })
	}
}

// shellchecked holds the scripts shellcheck has passed, by hash: the cases
// share most of theirs, and shellcheck takes a second or two per script.
var shellchecked sync.Map

// shellValueProblems says whether any hostile value is in the script, and
// where one is written other than as a quoted word where sh reads code, or
// raw, without blanks or line breaks, in a quoted here-document.
func shellValueProblems(p, script string, repl [][2]string) (found bool, problems []string) {
	ctx := shellContexts(script)
	for _, r := range repl {
		v := r[0]
		quoted := escape.Shell(v)
		inQuoted := make([]bool, len(script))
		for _, at := range indexAll(script, quoted) {
			found = true
			if quoted != v && ctx[at] != shCode {
				problems = append(problems, fmt.Sprintf("%s:%d: the quoted value %s is not where sh reads code but in %s", p, lineOf(script, at), quoted, ctx[at]))
			}
			for i := at; i < at+len(quoted); i++ {
				inQuoted[i] = true
			}
		}
		for _, at := range indexAll(script, v) {
			if inQuoted[at] {
				continue
			}
			found = true
			// The tables are read line by line and split at blanks.
			if strings.ContainsAny(v, " \t\n\r") {
				problems = append(problems, fmt.Sprintf("%s:%d: the value %q is written raw, and it holds a blank or a line break", p, lineOf(script, at), v))
				continue
			}
			for i := at; i < at+len(v); i++ {
				if ctx[i] != shQuotedHeredoc {
					problems = append(problems, fmt.Sprintf("%s:%d: the value %q is written raw in %s, not as a quoted word or in a quoted here-document", p, lineOf(script, at), v, ctx[i]))
					break
				}
			}
		}
	}
	return found, problems
}

func indexAll(s, sub string) []int {
	var out []int
	for i := 0; ; {
		j := strings.Index(s[i:], sub)
		if j < 0 {
			return out
		}
		out = append(out, i+j)
		i += j + 1
	}
}

func lineOf(s string, at int) int { return strings.Count(s[:at], "\n") + 1 }

type shContext int

const (
	shCode shContext = iota
	shSingle
	shDouble
	shComment
	shQuotedHeredoc
	shHeredoc
)

func (c shContext) String() string {
	return [...]string{"code", "single quotes", "double quotes", "a comment", "a quoted here-document", "an unquoted here-document"}[c]
}

// shellContexts tells for each byte of a POSIX sh script how sh reads it:
// as code, inside quotes, in a comment or in a here-document. It follows
// what generated scripts use: quotes, backslashes, $(...) and `...` inside
// double quotes, comments, and here-documents with quoted or plain
// delimiters; a byte that opens a quote belongs to the code around it.
func shellContexts(s string) []shContext {
	ctx := make([]shContext, len(s))
	type frame struct {
		kind  shContext // shCode or shDouble
		subst bool      // a $( ) to be closed by ')'
		depth int       // unclosed '(' inside it
	}
	type heredoc struct {
		delim  string
		quoted bool
		tabs   bool
	}
	stack := []frame{{kind: shCode}}
	var pending []heredoc
	wordStart := true
	for i := 0; i < len(s); i++ {
		top := &stack[len(stack)-1]
		c := s[i]
		ctx[i] = top.kind
		if top.kind == shDouble {
			switch {
			case c == '\\':
				if i+1 < len(s) {
					ctx[i+1] = shDouble
				}
				i++
			case c == '"':
				stack = stack[:len(stack)-1]
			case strings.HasPrefix(s[i:], "$("):
				ctx[i+1] = shDouble
				stack = append(stack, frame{kind: shCode, subst: true})
				i++
			}
			continue
		}
		// Code.
		atWordStart := wordStart
		wordStart = c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')'
		switch {
		case c == '\\':
			if i+1 < len(s) {
				ctx[i+1] = shCode
			}
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				j = len(s) - i - 1
			}
			for k := i + 1; k <= i+1+j && k < len(s); k++ {
				ctx[k] = shSingle
			}
			i += j + 1
		case c == '"':
			stack = append(stack, frame{kind: shDouble})
		case c == '#' && atWordStart:
			for ; i < len(s) && s[i] != '\n'; i++ {
				ctx[i] = shComment
			}
			i-- // the newline is code: it ends pending here-documents
			wordStart = true
		case strings.HasPrefix(s[i:], "$("):
			stack = append(stack, frame{kind: shCode, subst: true})
			i++
		case c == '(' && top.subst:
			top.depth++
		case c == ')' && top.subst:
			if top.depth == 0 {
				stack = stack[:len(stack)-1]
			} else {
				top.depth--
			}
		case strings.HasPrefix(s[i:], "<<"):
			j := i + 2
			h := heredoc{}
			if j < len(s) && s[j] == '-' {
				h.tabs = true
				j++
			}
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			start := j
			for j < len(s) && !strings.ContainsRune(" \t\n;&|<>()", rune(s[j])) {
				if s[j] == '\'' || s[j] == '"' || s[j] == '\\' {
					h.quoted = true
				}
				j++
			}
			h.delim = strings.NewReplacer("'", "", `"`, "", `\`, "").Replace(s[start:j])
			pending = append(pending, h)
			for k := i; k < j; k++ {
				ctx[k] = shCode
			}
			i = j - 1
		case c == '\n' && len(pending) > 0:
			pos := i + 1
			for _, h := range pending {
				kind := shHeredoc
				if h.quoted {
					kind = shQuotedHeredoc
				}
				for pos < len(s) {
					end := strings.IndexByte(s[pos:], '\n')
					if end < 0 {
						end = len(s) - pos
					}
					line := s[pos : pos+end]
					if h.tabs {
						line = strings.TrimLeft(line, "\t")
					}
					if line == h.delim {
						for k := pos; k < pos+end; k++ {
							ctx[k] = shCode
						}
						pos += end + 1
						break
					}
					for k := pos; k <= pos+end && k < len(s); k++ {
						ctx[k] = kind
					}
					pos += end + 1
				}
			}
			pending = nil
			i = pos - 1
			wordStart = true
		}
	}
	return ctx
}

func TestShellValueProblems(t *testing.T) {
	v := "a;b'$(id)"
	repl := [][2]string{{v, "plain"}}
	for _, tc := range []struct {
		name, script string
		bad          bool
	}{
		{"quoted word", "x=" + escape.Shell(v) + "\necho \"$x\"\n", false},
		{"quoted heredoc", "while read -r a b; do :; done <<'T'\nrow " + v + "\nT\n", false},
		{"unquoted heredoc", "cat <<T\nrow " + v + "\nT\n", true},
		{"quoted word in double quotes", "echo \"" + escape.Shell(v) + "\"\n", true},
		{"raw", "echo " + v + "\n", true},
		{"comment", "# " + v + "\n", true},
	} {
		found, problems := shellValueProblems(tc.name, tc.script, repl)
		if !found || (len(problems) > 0) != tc.bad {
			t.Errorf("%s: found %v, problems %q; want a problem: %v", tc.name, found, problems, tc.bad)
		}
	}
}

func TestShellContexts(t *testing.T) {
	script := "a='x' \"y $(b 'z' \"w\") v\" # c 'q'\n" +
		"cat <<'EOF' >f\nraw $(x) 'y'\nEOF\n" +
		"cat <<EOF\nexp\nEOF\n" +
		"echo \\'n\n"
	ctx := shellContexts(script)
	for _, tc := range []struct {
		sub  string
		want shContext
	}{
		{"x", shSingle}, {"y ", shDouble}, {"z", shSingle}, {"w", shDouble}, {" v", shDouble},
		{" c", shComment}, {"q", shComment}, {"raw", shQuotedHeredoc}, {"exp", shHeredoc},
		{"echo", shCode}, {"n\n", shCode}, {">f", shCode},
	} {
		at := strings.Index(script, tc.sub)
		for i := at; i < at+len(tc.sub); i++ {
			if ctx[i] != tc.want {
				t.Errorf("%q at %d: %s, want %s", tc.sub, i, ctx[i], tc.want)
				break
			}
		}
	}
}
