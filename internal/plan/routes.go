package plan

import (
	"fmt"
	"strings"
)

// PathMatch is how a route picks requests by path: by a prefix, or by a
// regular expression. Route.Match gives it, so that conflict checks,
// route listings and every renderer read a route's path the same way.
type PathMatch struct {
	Regex bool   // Value is a PathRegex; otherwise a PathPrefix
	Value string // the prefix or the expression
}

// Match is the route's path match: PathRegex where set, else PathPrefix.
func (r Route) Match() PathMatch {
	if r.PathRegex != "" {
		return PathMatch{Regex: true, Value: r.PathRegex}
	}
	return PathMatch{Value: r.PathPrefix}
}

// BarePrefix is the path a StripPrefix route redirects to its PathPrefix:
// the prefix without its final "/". ok is false for other routes.
func (r Route) BarePrefix() (path string, ok bool) {
	if !r.StripPrefix {
		return "", false
	}
	return strings.TrimSuffix(r.PathPrefix, "/"), true
}

// Kind names the match as `matrixgen routes --format json` does.
func (m PathMatch) Kind() string {
	if m.Regex {
		return "regex"
	}
	return "prefix"
}

// String is the match as route listings print it: the prefix, or "~ " and
// the expression, as nginx writes a regex location.
func (m PathMatch) String() string {
	if m.Regex {
		return "~ " + m.Value
	}
	return m.Value
}

// After writes the match after a host: a prefix joins it ("host/path"),
// an expression stands apart from it ("host ~ ^/path").
func (m PathMatch) After(host string) string {
	if m.Regex {
		return host + " " + m.String()
	}
	return host + m.Value
}

// Port is the port the entrypoint serves on: the host's, or for
// EntrypointInternal, which the host does not publish, the proxy
// container's.
func (e Entrypoint) Port() int {
	if e.HostPort == 0 {
		return e.ProxyPort
	}
	return e.HostPort
}

// ServedRoute is a route with its entrypoint looked up: what route
// listings print and what route conflicts are keyed on.
type ServedRoute struct {
	Route
	ListenPort int // the entrypoint's Port
	TLS        bool
}

// Where names the host, port and path match the route claims, e.g.
// "matrix.example.org:443/_matrix"; no two routes may claim one.
func (r ServedRoute) Where() string {
	return r.Match().After(fmt.Sprintf("%s:%d", r.Host, r.ListenPort))
}

// ServedRoutes lists the routes in the plan's order, which is the order
// the proxy evaluates them in, each with the port and TLS of its
// entrypoint.
func (p *Plan) ServedRoutes() []ServedRoute {
	entrypoints := map[string]Entrypoint{}
	for _, e := range p.Entrypoints {
		entrypoints[e.Name] = e
	}
	out := make([]ServedRoute, 0, len(p.Routes))
	for _, r := range p.Routes {
		ep := entrypoints[r.Entrypoint]
		out = append(out, ServedRoute{Route: r, ListenPort: ep.Port(), TLS: ep.TLS})
	}
	return out
}
