package escape

import (
	"fmt"
	"net/netip"
	"strings"
)

// The checks below are what the webserver formats (nginx, Caddy, Apache)
// ask alike of a hostname, a path prefix, a network and a header name,
// before each writes the value in its own syntax.

// isDNSName reports whether host is a plain lowercase DNS name: no
// wildcard, no trailing dot, no port, nothing a webserver reads as more
// than a name.
func isDNSName(host string) bool {
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// checkPathPrefix accepts a prefix that starts with '/' and holds only
// letters, digits and / . _ -, which mean themselves in a URI, a glob and
// (once '.' is escaped) a regular expression, in every webserver. what
// names the prefix in the error, as the format calls it.
func checkPathPrefix(prefix, what string) error {
	if !strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("escape: %s %q does not start with '/'", what, prefix)
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("/._-", c) >= 0) {
			return fmt.Errorf("escape: %s %q contains %q; prefixes are limited to letters, digits and / . _ -", what, prefix, c)
		}
	}
	return nil
}

// maskedCIDR returns a network in CIDR notation with its host bits
// cleared: the one spelling every webserver reads alike.
func maskedCIDR(cidr string) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", fmt.Errorf("escape: %q is not a network in CIDR notation: %v", cidr, err)
	}
	return p.Masked().String(), nil
}

// checkHeaderName accepts an HTTP field name: an RFC 9110 token.
func checkHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("escape: empty header name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#%&'*+-.^_`|~", c) >= 0) {
			return fmt.Errorf("escape: header name %q contains %q, which is not allowed in an HTTP field name", name, c)
		}
	}
	return nil
}
