// Package escape writes user-supplied values into the line-oriented formats
// of the deployment bundle: systemd unit files, Docker env files and POSIX
// shell scripts. Each helper targets exactly one format, because the rules
// differ and a value quoted for the wrong reader can still end a line, split
// an argument or start a directive.
package escape

// isBare reports whether s can be written as a single word without quotes.
// The set is the same for sh and for systemd's command-line splitter: none
// of these bytes is a separator, quote, escape, expansion, glob or comment
// character in either. '%' is in the set; systemd callers still double it.
func isBare(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareByte(s[i]) {
			return false
		}
	}
	return true
}

func isBareByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '_', '@', '%', '+', '=', ':', ',', '.', '/', '-':
		return true
	}
	return false
}
