package escape

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Nginx returns s as exactly one token of an nginx configuration file.
//
// nginx's reader splits on spaces, ';', '{' and '#' outside quotes, and
// inside double quotes it turns \" and \\ back into " and \. A word made of
// harmless bytes is written bare; anything else is double-quoted with those
// two escaped. What the reader cannot carry is refused:
//
//   - '$': most directives that take a value (add_header, proxy_set_header,
//     return, ssl_certificate, …) expand $name and ${name} even inside
//     quotes, and nginx has no escape for a literal '$'.
//   - control characters: a quoted token may span lines, so a newline
//     would survive as far as an HTTP header or a log line; and \t, \r, \n
//     inside quotes are turned into control bytes by the reader.
//   - bytes outside printable ASCII: every value matrixgen writes is a
//     hostname, address, path or HTTP header, none of which needs them.
//   - a word longer than nginxMaxWord.
//
// Quoting does not hide a token's meaning from the directive: a quoted "="
// after location, or "~x" after server_name, still acts as a modifier.
// Those positions take their values through the stricter helpers below.
func Nginx(s string) (string, error) {
	if err := nginxPrintable(s); err != nil {
		return "", err
	}
	if isNginxBare(s) && len(s) <= nginxMaxWord {
		return s, nil
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	b = append(b, '"')
	if len(b) > nginxMaxWord {
		return "", fmt.Errorf("escape: a value of %d bytes is too long for one nginx word (at most %d)", len(s), nginxMaxWord)
	}
	return string(b), nil
}

// nginxMaxWord is the longest word nginx reads: it reads its configuration
// through a 4 KiB buffer and refuses a word that fills it ("too long
// parameter").
const nginxMaxWord = 4095

func nginxPrintable(s string) error {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '$':
			return fmt.Errorf("escape: %q contains '$', which nginx expands as a variable and cannot escape", s)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("escape: %q contains control character %q, which an nginx value cannot carry", s, c)
		case c >= 0x80:
			return fmt.Errorf("escape: %q contains a byte outside printable ASCII, which matrixgen does not write into nginx configuration", s)
		}
	}
	return nil
}

// isNginxBare reports whether s reads back as itself when written without
// quotes: no separator, quote, escape, comment, block or variable byte, and
// not empty (an empty word needs quotes to exist at all).
func isNginxBare(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			continue
		}
		if !strings.ContainsRune("_-./:,+=@%[]", rune(c)) {
			return false
		}
	}
	return true
}

// NginxComment returns s for use after '#' on one line. A comment ends at
// the line break and has no escapes, so a value with one is refused.
func NginxComment(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return "", fmt.Errorf("escape: %q contains control character %q, which would end an nginx comment", s, c)
		}
	}
	return s, nil
}

// NginxServerName returns a hostname for server_name. nginx reads a
// leading '~' as a regular expression, '*' or '.' as a wildcard, and "_" or
// "" as catch-alls whatever the quoting, so only plain DNS names pass.
func NginxServerName(host string) (string, error) {
	if !isDNSName(host) {
		return "", fmt.Errorf("escape: %q is not a lowercase DNS hostname, which server_name needs to match it literally", host)
	}
	return host, nil
}

// NginxLocationPrefix returns a path prefix for "location ^~ PREFIX". It
// must start with '/' (a first word of "=", "~" or "@" would change what
// location means) and hold only characters that mean themselves both in a
// URI and in a regular expression once '.' is escaped (see
// NginxPrefixRegexp).
func NginxLocationPrefix(prefix string) (string, error) {
	if err := checkPathPrefix(prefix, "location prefix"); err != nil {
		return "", err
	}
	return prefix, nil
}

// NginxPrefixRegexp returns the PCRE pattern, as one nginx token, that
// matches strings starting with prefix literally.
func NginxPrefixRegexp(prefix string) (string, error) {
	if _, err := NginxLocationPrefix(prefix); err != nil {
		return "", err
	}
	return Nginx("^" + strings.ReplaceAll(prefix, ".", `\.`))
}

// NginxLocationRegexp returns a path regex for "location ~ REGEX" and a
// map's "~REGEX" key, written bare. nginx expands no variables there, so
// '$' is an anchor; it must start with "^/" (so it is no other location
// modifier), and it may not hold what would end or quote the word (space,
// ';', braces, quotes, '#', '\'), which matrixgen's patterns never need.
func NginxLocationRegexp(re string) (string, error) {
	if !strings.HasPrefix(re, "^/") {
		return "", fmt.Errorf("escape: location regex %q does not start with ^/", re)
	}
	if len(re) >= nginxMaxWord {
		return "", fmt.Errorf("escape: location regex %q is too long for nginx", re)
	}
	for i := 0; i < len(re); i++ {
		c := re[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(";{}\"'#\\", c) >= 0 {
			return "", fmt.Errorf("escape: location regex %q contains %q, which matrixgen does not write into an nginx regex", re, c)
		}
	}
	return re, nil
}

// NginxCIDR returns a network for allow and deny. The schema checks the
// shape only; nginx refuses an address out of range, and it warns about
// host bits under the mask, so the network is written in its masked form.
func NginxCIDR(cidr string) (string, error) { return maskedCIDR(cidr) }

// NginxHostPort returns host:port for proxy_pass and listen: an IPv4
// address, a bracketed IPv6 address or a DNS name, then a port. Anything
// else after "http://" could add a URI part, and a URI part makes nginx
// rewrite the path it forwards.
func NginxHostPort(hostport string) (string, error) {
	host, port, err := nginxSplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("escape: %q is not host:port: %v", hostport, err)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" {
			return "", fmt.Errorf("escape: %q has an IPv6 zone, which nginx does not accept", hostport)
		}
		if addr.Is6() {
			return "[" + addr.String() + "]:" + port, nil
		}
		return addr.String() + ":" + port, nil
	}
	if !isDNSName(host) {
		return "", fmt.Errorf("escape: %q: %q is neither an IP address nor a lowercase DNS hostname", hostport, host)
	}
	return host + ":" + port, nil
}

func nginxSplitHostPort(hostport string) (host, port string, err error) {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return "", "", fmt.Errorf("no port")
	}
	host, port = hostport[:i], hostport[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", "", fmt.Errorf("an IPv6 address needs brackets")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return host, port, nil
}

// NginxHeaderName returns an HTTP header name for add_header and
// proxy_hide_header: an RFC 9110 token, which never needs quotes.
func NginxHeaderName(name string) (string, error) {
	if err := checkHeaderName(name); err != nil {
		return "", err
	}
	// A token may hold '#' or quotes; write it through the quoting rules
	// anyway so the reader sees one word.
	return Nginx(name)
}

// NginxFilePath returns an absolute file path as one token. ssl_certificate
// and ssl_certificate_key read "data:…" and "engine:…" as something other
// than a file, and a relative path is taken from nginx's prefix; an
// absolute path is neither.
func NginxFilePath(path string) (string, error) {
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("escape: %q is not an absolute path", path)
	}
	return Nginx(path)
}
