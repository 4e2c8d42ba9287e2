package escape

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Caddy returns s as exactly one token of a Caddyfile read by Caddy 2.6.
//
// Caddy's lexer splits on Unicode white space outside quotes, starts a
// comment at a '#' that begins a token, and knows two quotes: "…", in which
// only \" is an escape (any other backslash stays), and `…`, in which
// nothing is. A word of harmless bytes is written bare, anything else in
// double quotes; a value that double quotes cannot carry (a backslash right
// before a quote or at the end) goes in backquotes. Refused:
//
//   - '{' and '}': Caddy expands {placeholders} at run time in most values,
//     replaces {$ENV} in the whole file before it even splits tokens, and
//     every import removes one level of \{ escaping again. How many
//     backslashes a literal brace needs therefore depends on how the
//     operator includes the file; a value that is right one way and wrong
//     the other is worse than an error.
//   - control characters (newline included) and U+2028/U+2029: a quoted
//     token may span lines, so a newline would survive into an HTTP header
//     or a log line.
//   - text that is not UTF-8: the lexer reads runes and would replace it.
//   - values that neither quote can carry: a backquote together with a
//     backslash that double quotes cannot hold.
//
// Quoting does not hide a token's meaning from the directive: a quoted
// "@name" in a matcher position is still a matcher, and a quoted "-Name"
// still deletes a header. Those positions take their values through the
// stricter helpers below.
func Caddy(s string) (string, error) {
	if err := caddyCarries(s); err != nil {
		return "", err
	}
	if isCaddyBare(s) {
		return s, nil
	}
	if caddyDoubleQuotable(s) {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`, nil
	}
	// `caddy fmt` knows no backquotes: it would squeeze white space and take
	// a '#' for a comment inside them, so those stay out.
	if !strings.ContainsAny(s, "`#") && strings.IndexFunc(s, unicode.IsSpace) < 0 {
		return "`" + s + "`", nil
	}
	return "", fmt.Errorf("escape: %q has no spelling as one Caddyfile token: a backslash before a quote or at the end needs backquotes, which cannot hold a backquote, '#' or white space", s)
}

func caddyCarries(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("escape: %q is not valid UTF-8, which the Caddyfile reader would alter", s)
	}
	for _, r := range s {
		switch {
		case r == '{' || r == '}':
			return fmt.Errorf("escape: %q contains %q, which Caddy reads as a placeholder or block and whose escaping changes with each import", s, r)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return fmt.Errorf("escape: %q contains control character %q, which a Caddyfile value cannot carry", s, r)
		}
	}
	return nil
}

// isCaddyBare reports whether s reads back as itself without quotes: no
// white space, quote, backslash, comment or brace byte, and not empty.
func isCaddyBare(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			continue
		}
		if !strings.ContainsRune("_-./:,+=@%*", rune(c)) {
			return false
		}
	}
	return true
}

// caddyDoubleQuotable reports whether every backslash of s is followed by
// a character other than a quote: inside "…" Caddy keeps such a backslash
// as it is, but has no way to write one before a quote or the closing quote.
func caddyDoubleQuotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && (i+1 == len(s) || s[i+1] == '"') {
			return false
		}
	}
	return true
}

// CaddyComment returns s for use after '#' on one line. A comment ends at
// the line break and has no escapes, and Caddy replaces {$ENV} even inside
// comments before it reads the file, so both are refused.
func CaddyComment(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return "", fmt.Errorf("escape: %q contains control character %q, which would end a Caddyfile comment", s, c)
		}
	}
	if strings.Contains(s, "{$") {
		return "", fmt.Errorf("escape: %q contains {$, which Caddy replaces with an environment variable even in a comment", s)
	}
	return s, nil
}

// CaddySiteAddress returns the address of a site block: a lowercase DNS
// name and a port, with http:// in front when the site serves plain HTTP.
// Caddy reads '*' as a wildcard, a leading '(' as a snippet and braces as
// placeholders in an address, so only plain DNS names pass.
func CaddySiteAddress(host string, port int, plainHTTP bool) (string, error) {
	if !isDNSName(host) {
		return "", fmt.Errorf("escape: %q is not a lowercase DNS hostname, which a Caddy site address needs to match it literally", host)
	}
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("escape: port %d of %s is not from 1 to 65535", port, host)
	}
	addr := host + ":" + strconv.Itoa(port)
	if plainHTTP {
		addr = "http://" + addr
	}
	return addr, nil
}

// CaddyPathPrefix returns the path matcher for requests whose path starts
// with prefix: prefix followed by '*'. The prefix must start with '/' (a
// first byte of '@' or '*' would make it another kind of matcher) and hold
// only letters, digits and / . _ -: Caddy matches a pattern with '%' in
// escaped space instead, reads '*', '?' and '[' as globs and braces as
// placeholders.
func CaddyPathPrefix(prefix string) (string, error) {
	if err := checkPathPrefix(prefix, "path prefix"); err != nil {
		return "", err
	}
	return prefix + "*", nil
}

// CaddyStartsWith returns, as one token for the expression matcher, a CEL
// condition that holds when the value of placeholder starts with prefix,
// byte for byte and so case-sensitively. The placeholder is one of Caddy's
// own, such as {http.request.orig_uri}, which Caddy reads in an expression
// as the request's value. The prefix obeys CaddyPathPrefix's rules, so it
// needs no escape inside a CEL string, and the token is backquoted: Caddy
// changes nothing between backquotes, and the token holds no white space
// or '#' that caddy fmt would touch.
func CaddyStartsWith(placeholder, prefix string) (string, error) {
	if !caddyPlaceholder.MatchString(placeholder) {
		return "", fmt.Errorf("escape: %q is not a Caddy request placeholder", placeholder)
	}
	if _, err := CaddyPathPrefix(prefix); err != nil {
		return "", err
	}
	return "`" + placeholder + `.startsWith("` + prefix + `")` + "`", nil
}

// caddyPlaceholder is a placeholder of Caddy's HTTP handler namespace:
// an environment variable ({$NAME}) would be replaced when the file is
// read, and anything else is not a value CEL can compare.
var caddyPlaceholder = regexp.MustCompile(`^\{http(\.[a-z0-9_]+)+\}$`)

// CaddyCIDR returns a network for the remote_ip matcher, in its masked form
// so that the file shows the network that is really matched.
func CaddyCIDR(cidr string) (string, error) { return maskedCIDR(cidr) }

// CaddyUpstream returns host:port for reverse_proxy: an IP address
// (IPv6 in brackets) or a DNS name, then a port. A scheme or path would
// change how Caddy connects, and reverse_proxy expands placeholders in
// upstream addresses.
func CaddyUpstream(hostport string) (string, error) {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return "", fmt.Errorf("escape: upstream %q has no port", hostport)
	}
	host, port := hostport[:i], hostport[i+1:]
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", fmt.Errorf("escape: upstream %q: port %q is not a number from 1 to 65535", hostport, port)
	}
	bracketed := strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")
	if bracketed {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", fmt.Errorf("escape: upstream %q: an IPv6 address needs brackets", hostport)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		switch {
		case addr.Zone() != "":
			return "", fmt.Errorf("escape: upstream %q has an IPv6 zone", hostport)
		case addr.Is6() && !addr.Is4In6():
			return "[" + addr.String() + "]:" + port, nil
		case bracketed:
			return "", fmt.Errorf("escape: upstream %q puts an IPv4 address in brackets", hostport)
		}
		return addr.String() + ":" + port, nil
	}
	if bracketed || !isDNSName(host) {
		return "", fmt.Errorf("escape: upstream %q: %q is neither an IP address nor a lowercase DNS hostname", hostport, host)
	}
	return host + ":" + port, nil
}

// CaddyHeaderName returns an HTTP header name for the header directive and
// reverse_proxy's header_up/header_down. It must be an RFC 9110 token that
// starts with a letter or digit: Caddy reads a leading + - ? or > as an
// operation, drops a trailing ':', takes a leading '@', '/' or '*' for a
// matcher, and "defer" alone is a subdirective.
func CaddyHeaderName(name string) (string, error) {
	if err := checkHeaderName(name); err != nil {
		return "", err
	}
	if c := name[0]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
		return "", fmt.Errorf("escape: header name %q starts with %q; Caddy would read it as an operation or a matcher", name, c)
	}
	if strings.EqualFold(name, "defer") {
		return "", fmt.Errorf("escape: header name %q is a subdirective of Caddy's header directive", name)
	}
	return Caddy(name)
}

// CaddyPathRegexp returns a regular expression for the path_regexp
// matcher. Caddy compiles it with Go's regexp package when it loads the
// file, so one Go refuses fails here instead of at Caddy's start. It must
// start with '^': path_regexp searches anywhere in the path otherwise. The
// token is spelled by Caddy(), which also refuses braces, so a repetition
// count such as {2} has to be written out.
func CaddyPathRegexp(re string) (string, error) {
	if !strings.HasPrefix(re, "^") {
		return "", fmt.Errorf("escape: path regexp %q is not anchored with '^'", re)
	}
	if _, err := regexp.Compile(re); err != nil {
		return "", fmt.Errorf("escape: path regexp %q: %v", re, err)
	}
	return Caddy(re)
}

// CaddyMatcherName returns "@name" for a named matcher. Only letters,
// digits, '_' and '-' pass: the name is one bare token, and a quote or
// brace would not be part of it.
func CaddyMatcherName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("escape: empty matcher name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return "", fmt.Errorf("escape: matcher name %q contains %q; names are limited to letters, digits, '_' and '-'", name, c)
		}
	}
	return "@" + name, nil
}

// CaddyJSONBody returns a JSON object as one Caddyfile token for a
// respond body, where Caddy() would refuse its braces. They are safe in
// this one shape: an object in which every '{' opens an object with a
// key, and no backslash. Caddy keeps a {…} it has no placeholder for as it is, in the
// file and at run time, and no placeholder name starts with a quote; with
// no backslash, no level of escaping applies.
func CaddyJSONBody(s string) (string, error) {
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil || !strings.HasPrefix(s, `{"`) {
		return "", fmt.Errorf("escape: %q is not a compact JSON object", s)
	}
	if strings.ContainsAny(s, "\\`") || strings.Count(s, "{") != strings.Count(s, `{"`) {
		return "", fmt.Errorf("escape: %q holds a backslash, a backquote or a '{' before anything but a key, which Caddy could read as an escape or a placeholder", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", fmt.Errorf("escape: %q contains control character %q", s, r)
		}
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`, nil
}
