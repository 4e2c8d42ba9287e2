package escape

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// execPrefixes are the characters systemd strips from the front of the first
// ExecStart= word as flags ("-" ignore failure, "@" separate argv[0], ...).
// It does so after unquoting, so quotes cannot protect them.
const execPrefixes = "@-:+!|"

// cEscapeNames maps control bytes to the C escape letters systemd decodes;
// 0 for the others. An array, not a map: it is read for every byte of every
// unit file.
var cEscapeNames = [256]byte{
	'\a': 'a', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't', '\v': 'v',
}

// SystemdValue escapes s for a unit file setting that is not a command line,
// such as Description=. Control characters, invalid UTF-8 and other
// non-printable characters become C escapes, so the value stays on one line
// and a trailing backslash cannot continue it onto the next; '%' is doubled
// so that systemd does not expand specifiers. systemd trims whitespace around
// a value, so leading and trailing spaces are lost.
//
// Settings that do not C-unescape show the escapes as typed, which is the
// price of keeping the unit file well-formed.
func SystemdValue(s string) string {
	return string(appendSystemd(make([]byte, 0, len(s)), s, false))
}

// SystemdArgv renders args for ExecStart= and the other Exec settings, so
// that systemd passes exactly args to the program. Words are quoted only
// when needed; '%' and '$' are doubled because systemd expands specifiers
// and environment variables inside quotes too.
//
// args[0] is the executable and must come from our own code, not from user
// input: systemd reads a leading prefix character (see execPrefixes) as a
// flag even when quoted, and does not undo "$$" in the executable path. So
// SystemdArgv panics when args is empty or args[0] is empty, starts with one
// of those characters, or contains '$'.
//
// NUL cannot be passed to a program. It is written as \x00, which systemd
// refuses to decode: it logs a warning and keeps the four characters.
func SystemdArgv(args []string) string {
	if len(args) == 0 {
		panic("escape.SystemdArgv: no executable")
	}
	checkExecutable(args[0])
	var b []byte
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendSystemdWord(b, a)
	}
	return string(b)
}

func checkExecutable(path string) {
	switch {
	case path == "":
		panic("escape.SystemdArgv: empty executable")
	case strings.ContainsRune(execPrefixes, rune(path[0])):
		panic(fmt.Sprintf("escape.SystemdArgv: executable %q starts with an Exec prefix character", path))
	case strings.Contains(path, "$"):
		panic(fmt.Sprintf("escape.SystemdArgv: executable %q contains '$'", path))
	}
}

// appendSystemdWord quotes every word outside the bare set. That covers the
// lone ";" (a command separator) and "\;" forms, which are only special
// when unquoted.
func appendSystemdWord(b []byte, w string) []byte {
	if isBare(w) {
		return appendSystemd(b, w, true)
	}
	b = append(b, '"')
	b = appendSystemd(b, w, true)
	return append(b, '"')
}

// appendSystemd appends s with C escapes and doubled '%'. For command lines
// (argv) it also escapes '"' and doubles '$'.
func appendSystemd(b []byte, s string, argv bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' || (argv && c == '"'):
			b = append(b, '\\', c)
		case c == '%' || (argv && c == '$'):
			b = append(b, c, c)
		case cEscapeNames[c] != 0:
			b = append(b, '\\', cEscapeNames[c])
		case ' ' <= c && c < 0x7f:
			// Printable ASCII, nearly every byte of a unit: no rune to decode.
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || !unicode.IsPrint(r) {
				// Byte-wise \xNN: systemd copies these bytes verbatim, so a
				// multi-byte rune comes back intact.
				for j := i; j < i+size; j++ {
					b = fmt.Appendf(b, `\x%02x`, s[j])
				}
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return b
}
