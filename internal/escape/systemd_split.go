package escape

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SystemdSplit splits an ExecStart= value into the argv systemd would run,
// following its rules: words separated by unquoted whitespace, single and
// double quotes anywhere in a word, C escapes (including \xNN, \NNN octal,
// \uXXXX and \UXXXXXXXX) inside and outside quotes, "\;" for a literal ";",
// then "%%" to "%" and "$$" to "$".
//
// It is stricter than systemd wherever systemd would need a running unit or
// would only warn: other specifiers, environment variable references, Exec
// prefixes, "$" in the executable, a ";" command separator, unknown escapes
// and NUL are all errors. An empty line yields no words.
func SystemdSplit(line string) ([]string, error) {
	if strings.IndexByte(line, 0) >= 0 {
		return nil, errors.New("escape: command line contains NUL")
	}
	var words []string
	for i := skipSpace(line, 0); i < len(line); i = skipSpace(line, i) {
		w, n, err := splitWord(line[i:], len(words) == 0)
		if err != nil {
			return nil, err
		}
		words = append(words, w)
		i += n
	}
	return words, nil
}

// SystemdUnescape undoes SystemdValue: it decodes C escapes, then "%%".
// Like systemd it refuses NUL, unknown escapes and a trailing backslash; it
// also refuses specifiers other than "%%", which it cannot resolve.
func SystemdUnescape(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("escape: value contains NUL")
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			i++
			continue
		}
		out, n, err := unescapeOne(s[i+1:])
		if err != nil {
			return "", err
		}
		b.WriteString(out)
		i += 1 + n
	}
	return undouble(b.String(), '%')
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// wordIs reports whether s starts with the unquoted word w.
func wordIs(s, w string) bool {
	return strings.HasPrefix(s, w) && (len(s) == len(w) || isSpace(s[len(w)]))
}

// splitWord decodes the word at the start of s and returns it with the
// number of bytes consumed. The ";" checks look at the raw text because
// systemd makes them before unquoting, and not for the executable.
func splitWord(s string, first bool) (string, int, error) {
	if !first && wordIs(s, ";") {
		return "", 0, errors.New("escape: ';' separates commands, which is not supported")
	}
	if !first && wordIs(s, `\;`) {
		return ";", 2, nil
	}
	w, n, err := extractWord(s)
	if err != nil {
		return "", 0, err
	}
	if w, err = undouble(w, '%'); err != nil {
		return "", 0, err
	}
	if first && (w == "" || strings.ContainsAny(w[:1], execPrefixes) || strings.Contains(w, "$")) {
		return "", 0, fmt.Errorf("escape: executable %q is empty, has an Exec prefix or contains '$'", w)
	}
	w, err = undouble(w, '$')
	return w, n, err
}

// extractWord mirrors systemd's extract_first_word with UNQUOTE and
// CUNESCAPE: backslash escapes work the same inside both kinds of quotes.
func extractWord(s string) (string, int, error) {
	var b strings.Builder
	var quote byte
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			out, n, err := unescapeOne(s[i+1:])
			if err != nil {
				return "", 0, err
			}
			b.WriteString(out)
			i += n
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			b.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
		case isSpace(c):
			return b.String(), i, nil
		default:
			b.WriteByte(c)
		}
	}
	if quote != 0 {
		return "", 0, fmt.Errorf("escape: unbalanced %c quote", quote)
	}
	return b.String(), i, nil
}

// unescapeOne decodes the C escape whose text (after the backslash) starts
// s, returning the decoded bytes and the length of the escape text.
func unescapeOne(s string) (string, int, error) {
	if s == "" {
		return "", 0, errors.New(`escape: trailing backslash`)
	}
	for c, name := range cEscapeNames {
		if name != 0 && s[0] == name {
			return string(rune(c)), 1, nil
		}
	}
	switch c := s[0]; c {
	case '\\', '"', '\'':
		return s[:1], 1, nil
	case 's':
		return " ", 1, nil
	case 'x':
		return byteEscape(s, 1, 2, 16)
	case '0', '1', '2', '3', '4', '5', '6', '7':
		return byteEscape(s, 0, 3, 8)
	case 'u':
		return runeEscape(s, 4)
	case 'U':
		return runeEscape(s, 8)
	}
	return "", 0, fmt.Errorf("escape: unknown escape \\%c", s[0])
}

// byteEscape decodes n digits at s[skip:] into one raw byte, as systemd
// copies \xNN and \NNN through without UTF-8 encoding them.
func byteEscape(s string, skip, n, base int) (string, int, error) {
	v, ok := parseDigits(s[skip:], n, base)
	if !ok || v == 0 || v > 0xff {
		return "", 0, fmt.Errorf("escape: invalid or NUL escape \\%s", s[:min(len(s), skip+n)])
	}
	return string([]byte{byte(v)}), skip + n, nil
}

func runeEscape(s string, n int) (string, int, error) {
	v, ok := parseDigits(s[1:], n, 16)
	if !ok || v == 0 || v > utf8.MaxRune || !utf8.ValidRune(rune(v)) {
		return "", 0, fmt.Errorf("escape: invalid or NUL escape \\%s", s[:min(len(s), 1+n)])
	}
	return string(rune(v)), 1 + n, nil
}

func parseDigits(s string, n, base int) (uint32, bool) {
	if len(s) < n {
		return 0, false
	}
	var v uint32
	for i := range n {
		d := digitValue(s[i])
		if d >= base {
			return 0, false
		}
		v = v*uint32(base) + uint32(d)
	}
	return v, true
}

func digitValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return 99
}

// undouble turns every doubled c into a single one and refuses a lone c,
// which systemd would expand (a specifier or an environment variable).
func undouble(s string, c byte) (string, error) {
	if strings.IndexByte(s, c) < 0 {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) || s[i+1] != c {
			return "", fmt.Errorf("escape: %q would be expanded by systemd", s[i:min(len(s), i+2)])
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), nil
}
