package escape

import (
	"fmt"
	"net/netip"
	"regexp/syntax"
	"strconv"
	"strings"
)

// Apache returns s as exactly one argument of an Apache httpd 2.4
// directive.
//
// httpd reads a directive line by splitting it into words at spaces; a word
// that starts with a double quote runs to the next unescaped one, and inside
// it \" and \\ stand for " and \ (any other backslash is kept as it is). A
// word made of harmless bytes is written bare; anything else is
// double-quoted with those two escaped. What the reader cannot carry is
// refused:
//
//   - "${": httpd replaces ${NAME} on every line, inside quotes too, with a
//     Define or an environment variable before it splits the line, and has
//     no escape for it.
//   - control characters: the file is read line by line, so a newline would
//     end the directive and start another; the others have no business in a
//     hostname, path, address or HTTP header.
//   - bytes outside printable ASCII, which no value matrixgen writes needs.
//   - the empty string: most directives read an empty quoted word as a
//     missing argument.
//   - a word longer than apacheMaxWord.
//
// Quoting keeps a value in one word; it does not stop the directive from
// reading meaning into it ("!" after ProxyPass, "~" after <Location, "*"
// in a <Location> path, "%" in a header value, "expr=" in front of one).
// Those positions take their values through the stricter helpers below.
func Apache(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("escape: an empty value cannot be an Apache argument")
	}
	if err := apachePrintable(s); err != nil {
		return "", err
	}
	if isApacheBare(s) && len(s) <= apacheMaxWord {
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
	if len(b) > apacheMaxWord {
		return "", fmt.Errorf("escape: a value of %d bytes is too long for one Apache argument (at most %d)", len(s), apacheMaxWord)
	}
	return string(b), nil
}

// apacheMaxWord keeps every line well under httpd's limit for one
// configuration line (MAX_STRING_LEN, 8 KiB, with the directive name and
// the other arguments on the same line).
const apacheMaxWord = 4096

func apachePrintable(s string) error {
	if strings.Contains(s, "${") {
		return fmt.Errorf("escape: %q contains \"${\", which Apache replaces with a variable on every line and cannot escape", s)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("escape: %q contains control character %q, which an Apache argument cannot carry", s, c)
		case c >= 0x80:
			return fmt.Errorf("escape: %q contains a byte outside printable ASCII, which matrixgen does not write into Apache configuration", s)
		}
	}
	return nil
}

// isApacheBare reports whether s reads back as itself without quotes: no
// space, quote, backslash (a trailing one would continue the line), '#',
// '<' or '>' (section syntax), '$', '%' or other punctuation a reader
// might take for syntax.
func isApacheBare(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			continue
		}
		if !strings.ContainsRune("_-./:,+=@[]*", rune(c)) {
			return false
		}
	}
	return s != ""
}

// ApacheComment returns s for use after "# " on one line. httpd skips a
// line that starts with '#' before it replaces variables, so '$' is
// harmless there; but a line ending in a backslash continues onto the next
// one, comments included, and would swallow the directive below it.
func ApacheComment(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return "", fmt.Errorf("escape: %q contains control character %q, which would end an Apache comment", s, c)
		}
	}
	if strings.HasSuffix(strings.TrimRight(s, " \t"), `\`) {
		return "", fmt.Errorf("escape: %q ends in a backslash, which would join the next line to an Apache comment", s)
	}
	return s, nil
}

// ApacheHostname returns a hostname for ServerName. httpd reads
// "scheme://name:port" there, so only a plain lowercase DNS name passes.
func ApacheHostname(host string) (string, error) {
	if !isDNSName(host) {
		return "", fmt.Errorf("escape: %q is not a lowercase DNS hostname", host)
	}
	return host, nil
}

// ApachePathPrefix returns a URL path prefix for ProxyPass and <Location>.
// It must start with '/': a first word of "!" tells ProxyPass not to
// proxy, "~" turns <Location> into a regular expression, and '*', '?' and
// '[' make a <Location> path a wildcard. Letters, digits and / . _ - cover
// every prefix matrixgen routes.
func ApachePathPrefix(prefix string) (string, error) {
	if err := checkPathPrefix(prefix, "path prefix"); err != nil {
		return "", err
	}
	return Apache(prefix)
}

// ApachePrefixRegexp returns, as one argument, the regular expression of
// a <LocationMatch> that matches the request paths "ProxyPass PREFIX" takes
// (PREFIX, and what continues it after a '/'), less those under each
// longer prefix in except, which an earlier ProxyPass takes. Every prefix
// must pass ApachePathPrefix, and each of except must lie under prefix.
func ApachePrefixRegexp(prefix string, except []string) (string, error) {
	for _, p := range append([]string{prefix}, except...) {
		if _, err := ApachePathPrefix(p); err != nil {
			return "", err
		}
	}
	base := strings.TrimSuffix(prefix, "/")
	var alts []string
	for _, x := range except {
		rest, ok := strings.CutPrefix(x, base+"/")
		if !ok || x == prefix {
			return "", fmt.Errorf("escape: %q does not lie under %q", x, prefix)
		}
		alt := apacheLiteralRegexp("/" + rest)
		if !strings.HasSuffix(x, "/") {
			alt += "(?:/|$)"
		}
		alts = append(alts, alt)
	}
	re := "^" + apacheLiteralRegexp(base)
	if len(alts) > 0 {
		re += "(?!" + strings.Join(alts, "|") + ")"
	}
	if strings.HasSuffix(prefix, "/") {
		re += "/"
	} else {
		re += "(?:/|$)"
	}
	return Apache(re)
}

// ApachePathRegexp returns, as one argument, the regular expression of
// RedirectMatch and ProxyPassMatch that matches path and nothing else.
// The path must pass ApachePathPrefix.
func ApachePathRegexp(path string) (string, error) {
	if _, err := ApachePathPrefix(path); err != nil {
		return "", err
	}
	return Apache("^" + apacheLiteralRegexp(path) + "$")
}

// apacheLiteralRegexp matches s literally. Of the bytes a prefix may hold,
// only '.' means something in a regular expression; "[.]" keeps the
// configuration free of backslashes.
func apacheLiteralRegexp(s string) string { return strings.ReplaceAll(s, ".", "[.]") }

// ApacheBackendURL returns "http://host:port/path" for ProxyPass: an IPv4
// address, a bracketed IPv6 address or a DNS name, a port, and a path that
// ApachePathPrefix accepts. A user name, query or fragment would change
// where or what httpd forwards.
func ApacheBackendURL(hostport, path string) (string, error) {
	hp, err := apacheHostPort(hostport)
	if err != nil {
		return "", err
	}
	if _, err := ApachePathPrefix(path); err != nil {
		return "", err
	}
	return Apache("http://" + hp + path)
}

func apacheHostPort(hostport string) (string, error) {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return "", fmt.Errorf("escape: %q is not host:port: no port", hostport)
	}
	host, port := hostport[:i], hostport[i+1:]
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", fmt.Errorf("escape: %q is not host:port: port %q is not a number from 1 to 65535", hostport, port)
	}
	bracketed := strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")
	if bracketed {
		host = host[1 : len(host)-1]
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		switch {
		case addr.Zone() != "":
			return "", fmt.Errorf("escape: %q has an IPv6 zone, which matrixgen does not write for Apache", hostport)
		case addr.Is6() && !bracketed, addr.Is4() && bracketed:
			return "", fmt.Errorf("escape: %q: only an IPv6 address goes in brackets, and it needs them", hostport)
		case addr.Is6():
			return "[" + addr.String() + "]:" + port, nil
		}
		return addr.String() + ":" + port, nil
	}
	if bracketed || !isDNSName(host) {
		return "", fmt.Errorf("escape: %q: %q is neither an IP address nor a lowercase DNS hostname", hostport, host)
	}
	return host + ":" + port, nil
}

// ApacheFilePath returns an absolute file path as one argument. httpd
// takes a relative path from its ServerRoot, which is not what the config
// meant.
func ApacheFilePath(path string) (string, error) {
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("escape: %q is not an absolute path", path)
	}
	return Apache(path)
}

// ApacheVirtualHostAddress returns the address of <VirtualHost>: "*" for
// every address when ip is empty, else the address, with IPv6 bracketed.
func ApacheVirtualHostAddress(ip string, port int) (string, error) {
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("escape: port %d is not a number from 1 to 65535", port)
	}
	if ip == "" {
		return "*:" + strconv.Itoa(port), nil
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Zone() != "" {
		return "", fmt.Errorf("escape: %q is not an IP address without zone", ip)
	}
	if addr.Is6() {
		return "[" + addr.String() + "]:" + strconv.Itoa(port), nil
	}
	return addr.String() + ":" + strconv.Itoa(port), nil
}

// ApacheIPRange returns a network for "Require ip". The schema checks the
// shape only; the network is parsed and written in its masked form, so
// that what httpd allows is exactly what the config names.
func ApacheIPRange(cidr string) (string, error) { return maskedCIDR(cidr) }

// ApacheHeaderName returns an HTTP header name for Header and
// RequestHeader: an RFC 9110 token.
func ApacheHeaderName(name string) (string, error) {
	if err := checkHeaderName(name); err != nil {
		return "", err
	}
	return Apache(name)
}

// ApacheHeaderValue returns value as the value argument of
// "Header set NAME VALUE" or "RequestHeader set NAME VALUE".
//
// mod_headers reads that argument as a format: "%%" is a percent sign and
// any other '%' starts a tag (%{NAME}e, %t, …); a backslash starts an
// escape (\n becomes a newline, \\ a backslash); and a value that begins
// with "expr=" is an expression. So '%' and '\' are doubled before the
// word is quoted, and a leading "expr=" is refused, having no escape.
func ApacheHeaderValue(value string) (string, error) {
	if strings.HasPrefix(strings.ToLower(value), "expr=") {
		return "", fmt.Errorf("escape: header value %q starts with \"expr=\", which mod_headers reads as an expression", value)
	}
	if err := apachePrintable(value); err != nil {
		return "", err
	}
	r := strings.NewReplacer(`%`, `%%`, `\`, `\\`)
	return Apache(r.Replace(value))
}

// ApacheProxyRegexp returns a route's path regex as the pattern of
// ProxyPassMatch and <LocationMatch>, as one argument.
//
// The route table's regexes are RE2 syntax that PCRE reads the same way,
// matched against the decoded path. httpd matches ProxyPassMatch against
// the decoded path too, but with nocanon it then matches the request
// target as the client sent it, query string included, and forwards that
// target unchanged only when both match: otherwise it forwards the decoded
// path re-encoded. So each "$" becomes "(?=\?|$)", which holds at the end
// of the path and before a query string alike; that is why a "$" must end
// its branch of the regex, where nothing after it could match the "?".
// "(?-s)" in front undoes httpd's default DOTALL, so that "." does not
// match a newline, as in RE2.
//
// Only the constructs both engines agree on pass: groups "(...)" and
// "(?:...)", classes, the usual operators and repetitions, and a
// backslash before punctuation. The regex must start with "^/".
func ApacheProxyRegexp(re string) (string, error) {
	if !strings.HasPrefix(re, "^/") {
		return "", fmt.Errorf("escape: path regex %q does not start with \"^/\"", re)
	}
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "", fmt.Errorf("escape: path regex %q: %v", re, err)
	}
	if !apacheEndsFinal(parsed, true) {
		return "", fmt.Errorf("escape: path regex %q has a \"$\" that does not end its branch", re)
	}
	var b strings.Builder
	b.WriteString("(?-s)")
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\':
			if i+1 == len(re) || !isASCIIPunct(re[i+1]) {
				return "", fmt.Errorf("escape: path regex %q: only punctuation may follow a backslash", re)
			}
			b.WriteString(re[i : i+2])
			i++
			continue
		case inClass && c == '[' && strings.HasPrefix(re[i:], "[:"):
			end := strings.Index(re[i+2:], ":]")
			if end < 0 {
				return "", fmt.Errorf("escape: path regex %q: unclosed character class name", re)
			}
			b.WriteString(re[i : i+2+end+2])
			i += 2 + end + 1
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A "]" first in the class, after an optional "^", is literal.
			if strings.HasPrefix(re[i+1:], "^") {
				b.WriteByte('^')
				i++
			}
			if strings.HasPrefix(re[i+1:], "]") {
				b.WriteByte(']')
				i++
			}
			continue
		case c == '(' && strings.HasPrefix(re[i:], "(?") && !strings.HasPrefix(re[i:], "(?:"):
			return "", fmt.Errorf("escape: path regex %q: only \"(\" and \"(?:\" groups are written for Apache", re)
		case c == '$':
			b.WriteString(`(?=\?|$)`)
			continue
		}
		b.WriteByte(c)
	}
	return Apache(b.String())
}

// apacheEndsFinal tells whether every end-of-text anchor in re ends the
// match wherever it occurs: final says that nothing follows re itself.
func apacheEndsFinal(re *syntax.Regexp, final bool) bool {
	switch re.Op {
	case syntax.OpEndText, syntax.OpEndLine:
		return final
	case syntax.OpConcat:
		for i, sub := range re.Sub {
			if !apacheEndsFinal(sub, final && i == len(re.Sub)-1) {
				return false
			}
		}
		return true
	case syntax.OpAlternate, syntax.OpCapture, syntax.OpQuest:
		for _, sub := range re.Sub {
			if !apacheEndsFinal(sub, final) {
				return false
			}
		}
		return true
	}
	// A repetition runs its body again after an anchor inside it.
	for _, sub := range re.Sub {
		if !apacheEndsFinal(sub, false) {
			return false
		}
	}
	return true
}

func isASCIIPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9')
}

// ApacheOrigin returns "http://host:port", without a path, as one
// argument: a BalancerMember, or the target of ProxyPassMatch, where httpd
// appends the whole request target. ProxyPassMatch replaces "$1" and "&"
// in its target with parts of the match; neither can occur here.
func ApacheOrigin(hostport string) (string, error) {
	hp, err := apacheHostPort(hostport)
	if err != nil {
		return "", err
	}
	return Apache("http://" + hp)
}

// apacheMaxBalancerHost keeps a balancer's name within mod_proxy's
// fixed-size shared-memory fields for names and hostnames.
const apacheMaxBalancerHost = 63

// ApacheBalancerURL returns "balancer://matrixgen-POOL" followed by path
// ("" or a prefix ApachePathPrefix accepts) as one argument. The prefix
// keeps matrixgen's pools apart from balancers of the operator's own,
// which the virtual hosts inherit from the main server. Pool names are
// lowercase letters, digits and '-'.
func ApacheBalancerURL(pool, path string) (string, error) {
	host := "matrixgen-" + pool
	if pool == "" || len(host) > apacheMaxBalancerHost || pool[0] == '-' {
		return "", fmt.Errorf("escape: pool name %q is empty, starts with '-' or is longer than %d characters with its prefix", pool, apacheMaxBalancerHost)
	}
	for i := 0; i < len(pool); i++ {
		if c := pool[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return "", fmt.Errorf("escape: pool name %q contains %q; pool names are limited to lowercase letters, digits and '-'", pool, c)
		}
	}
	if path != "" {
		if _, err := ApachePathPrefix(path); err != nil {
			return "", err
		}
	}
	return Apache("balancer://" + host + path)
}
