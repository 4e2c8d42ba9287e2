package render

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// The Caddy renderer writes site blocks for Caddy 2.6, the version Debian
// 12 ships, into files the operator imports into their own Caddyfile.
// Every value goes through internal/escape's Caddy helpers, and the text is
// already in `caddy fmt`'s layout (tabs, one blank line between blocks), so
// that the file neither changes when formatted nor makes Caddy warn.

const (
	caddySitesFile       = "proxy/caddy/Caddyfile.matrix"
	caddyBaseSnippet     = "proxy/caddy/base-domain-well-known.caddy"
	caddyTargetNote      = "# Written for Caddy 2.6, the version in Debian 12.\n"
	caddyWellKnownPrefix = "/.well-known/matrix" // where the Matrix spec puts discovery documents
	caddyDeniedStatus    = "403"
	// caddyContentLength is the request's declared body length: a
	// placeholder of matrixgen's own, where user values never have braces.
	caddyContentLength = "{http.request.header.Content-Length}"
	// caddyForwardedFor is every X-Forwarded-For line of the request,
	// joined with commas.
	caddyForwardedFor = "{http.request.header.X-Forwarded-For}"
	// caddyLastEntry matches a list of addresses and captures the last.
	caddyLastEntry = `^(?:.*,)?\s*([^,]*?)\s*$`
)

func renderCaddy(p *plan.Plan, t Tree) error {
	if err := refuseWorkerRoutes("caddy", p); err != nil {
		return err
	}
	sites, err := caddySites(p)
	if err != nil {
		return fmt.Errorf("caddy: %w", err)
	}
	if err := t.addBundleFile(caddySitesFile, 0o644, sites); err != nil {
		return err
	}
	snippet, err := caddyBaseDomainSnippet(p)
	if err != nil {
		return fmt.Errorf("caddy: %w", err)
	}
	if snippet == nil {
		return nil
	}
	return t.addBundleFile(caddyBaseSnippet, 0o644, snippet)
}

// caddySites renders one site block per vhost.
func caddySites(p *plan.Plan) ([]byte, error) {
	w := &caddyWriter{}
	w.raw(generatedHeader)
	w.raw(caddyTargetNote)
	w.comment("")
	w.comment("Site blocks of the Matrix server " + p.Host.Domain + ". Import this file at the")
	w.comment("top level of your Caddyfile, outside any site block:")
	w.comment("")
	w.comment("    import /path/to/proxy/caddy/Caddyfile.matrix")
	w.comment("")
	vs := vhosts(p)
	if caddyAnyTLS(vs) {
		// The schema says so for Caddy: certificate_dir is for nginx and
		// Apache. An operator who picked Caddy expects it to manage its
		// certificates, and a file path here would stop it renewing them.
		w.comment("Caddy obtains and renews the certificates of the HTTPS sites itself")
		w.comment("(automatic HTTPS): their names must resolve to this host, and ports 80")
		w.comment("and 443 must reach Caddy.")
	}
	if caddyAnyPlain(vs) {
		w.comment("Sites with http:// serve plain HTTP: TLS ends in front of Caddy.")
	}
	w.comment("")
	w.comment("In a site, Caddy runs only the first handle block whose path matches,")
	w.comment("and tries them longest path first whatever their order in the file.")
	w.comment("They stand here in the route table's priority order, which matrixgen")
	w.comment("checked to be the same.")
	w.comment("")
	w.comment("Routes, highest priority first:")
	for _, line := range strings.Split(strings.TrimSuffix(routeTable(p), "\n"), "\n") {
		w.comment(strings.TrimPrefix(line, "# "))
	}
	for _, v := range vs {
		w.blank()
		if err := caddySite(w, p, v); err != nil {
			return nil, err
		}
	}
	return w.bytes()
}

func caddyAnyTLS(vs []vhost) bool {
	for _, v := range vs {
		if v.TLS {
			return true
		}
	}
	return false
}

func caddyAnyPlain(vs []vhost) bool {
	for _, v := range vs {
		if !v.TLS {
			return true
		}
	}
	return false
}

func caddySite(w *caddyWriter, p *plan.Plan, v vhost) error {
	if err := caddyCheckOrder(v); err != nil {
		return err
	}
	addr, err := escape.CaddySiteAddress(v.Host, v.Port, !v.TLS)
	if err != nil {
		return err
	}
	w.open(addr)
	if bind := caddyBindAddress(p, v.Port); bind != "" {
		tok, err := escape.Caddy(bind)
		if err != nil {
			return err
		}
		w.line("bind", tok)
	}
	if err := caddyClientAddress(w, p); err != nil {
		return err
	}
	catchAll := false
	for _, r := range v.Routes {
		if err := caddyRoute(w, p, v, r, len(p.Proxy.TrustedProxies) > 0); err != nil {
			return fmt.Errorf("route %s: %w", r.Name, err)
		}
		catchAll = catchAll || r.PathPrefix == "/"
	}
	if !catchAll {
		// Caddy answers a request no handler takes with an empty 200;
		// a path outside the route table is not found, as with every
		// other proxy matrixgen configures.
		w.open("handle")
		w.line("respond", "404")
		w.close()
	}
	w.close()
	return nil
}

// caddyCheckOrder refuses a vhost whose route priorities Caddy cannot
// follow. Caddy orders handle blocks with one path each by the length of
// the path, longest first, and compares paths without regard to case; two
// routes whose prefixes overlap must therefore have the longer prefix at
// the higher priority, and no two may differ in case only.
func caddyCheckOrder(v vhost) error {
	for i, hi := range v.Routes {
		for _, lo := range v.Routes[i+1:] {
			a, b := strings.ToLower(hi.PathPrefix), strings.ToLower(lo.PathPrefix)
			switch {
			case a == b:
				return fmt.Errorf("routes %s and %s on %s:%d have paths %q and %q, which Caddy matches alike", hi.Name, lo.Name, v.Host, v.Port, hi.PathPrefix, lo.PathPrefix)
			case b == "/":
				// A block without a path comes last in Caddy too.
			case a == "/":
				return fmt.Errorf("route %s for every path outranks %s (%s) on %s:%d, but Caddy tries a block without a path last",
					hi.Name, lo.Name, lo.PathPrefix, v.Host, v.Port)
			case strings.HasPrefix(b, a):
				return fmt.Errorf("route %s (%s, priority %d) outranks the longer %s (%s, priority %d) on %s:%d, but Caddy tries the longer path first",
					hi.Name, hi.PathPrefix, hi.Priority, lo.Name, lo.PathPrefix, lo.Priority, v.Host, v.Port)
			}
		}
	}
	return nil
}

// caddyClientAddress makes X-Forwarded-For hold the client's address and
// nothing else when TLS ends in front of Caddy. Caddy 2.6 knows no "real
// IP" setting: its remote_ip matcher in forwarded mode believes the first
// entry of the header whoever sent it, and Synapse takes the first entry
// too. A terminator appends the address it saw, as a last entry or a last
// header line, after whatever the client sent. So the header is dropped
// when the peer is not a trusted proxy, and cut down to its last entry
// when it is; remote_ip forwarded and Synapse then see the address the
// terminator vouches for. Only one hop is unwound: with several proxies in
// front, the last one's client is taken as the client.
func caddyClientAddress(w *caddyWriter, p *plan.Plan) error {
	if len(p.Proxy.TrustedProxies) == 0 {
		return nil
	}
	trusted, err := caddyNetworks(p.Proxy.TrustedProxies)
	if err != nil {
		return err
	}
	lastEntry, err := escape.Caddy(caddyLastEntry)
	if err != nil {
		return err
	}
	w.comment("X-Forwarded-For is the client's address as the TLS terminator saw it,")
	w.comment("or nothing: a peer other than the terminator may not set it, and of")
	w.comment("the terminator's header only its last entry, its own, is kept.")
	w.line(append([]string{"@untrusted_peer", "not", "remote_ip"}, trusted...)...)
	w.line("request_header", "@untrusted_peer", "-X-Forwarded-For")
	w.line(append([]string{"@trusted_peer", "remote_ip"}, trusted...)...)
	// Setting the header to its own value joins several lines into one.
	w.line("request_header", "@trusted_peer", "X-Forwarded-For", caddyForwardedFor)
	w.line("request_header", "@trusted_peer", "X-Forwarded-For", lastEntry, "$1")
	return nil
}

func caddyNetworks(cidrs []string) ([]string, error) {
	out := make([]string, 0, len(cidrs))
	for _, n := range cidrs {
		tok, err := escape.CaddyCIDR(n)
		if err != nil {
			return nil, err
		}
		out = append(out, tok)
	}
	return out, nil
}

// caddyBindAddress is the address the entrypoints on port listen on, ""
// for every address.
func caddyBindAddress(p *plan.Plan, port int) string {
	for _, e := range p.Entrypoints {
		if e.HostPort == port && e.HostAddress != "" {
			return e.HostAddress
		}
	}
	return ""
}

// caddyRoute writes one route as a handle block. forwarded tells that the
// site normalised X-Forwarded-For (caddyClientAddress).
func caddyRoute(w *caddyWriter, p *plan.Plan, v vhost, r plan.Route, forwarded bool) error {
	matcher := []string{"handle"}
	if r.PathPrefix != "/" {
		m, err := escape.CaddyPathPrefix(r.PathPrefix)
		if err != nil {
			return err
		}
		matcher = append(matcher, m)
	}
	w.open(matcher...)
	if len(r.Settings.AllowIPs) > 0 {
		allow, err := caddyNetworks(r.Settings.AllowIPs)
		if err != nil {
			return err
		}
		matcher := []string{"@denied", "not", "remote_ip"}
		switch {
		case forwarded:
			// The site's first lines left X-Forwarded-For holding the
			// client's address or nothing (then the peer's counts).
			matcher = append(matcher, "forwarded")
		case !v.TLS:
			w.comment("remote_ip sees the peer's address; behind a TLS terminator that is")
			w.comment("the terminator's, so restrict this path there as well.")
		}
		// A nested handle refuses before any other directive runs: a
		// refused client gets no CORS headers and sends no body upstream.
		w.line(append(matcher, allow...)...)
		w.open("handle", "@denied")
		w.line("respond", caddyDeniedStatus)
		w.close()
		w.open("handle")
		if err := caddyRouteBody(w, p, r); err != nil {
			return err
		}
		w.close()
	} else if err := caddyRouteBody(w, p, r); err != nil {
		return err
	}
	w.close()
	return nil
}

// caddyRouteBody writes the directives that apply a route's settings and
// proxy it. Inside a block Caddy runs directives in its own fixed order
// (header, request_body, respond, reverse_proxy), whatever the order in the
// file; they are written in that order so that the file reads as it runs.
func caddyRouteBody(w *caddyWriter, p *plan.Plan, r plan.Route) error {
	s := r.Settings
	headers := append([]plan.EnvVar(nil), s.Headers...)
	if s.CORS {
		headers = append(headers,
			plan.EnvVar{Name: "Access-Control-Allow-Origin", Value: "*"},
			plan.EnvVar{Name: "Access-Control-Allow-Methods", Value: strings.Join(corsMethods, ", ")},
			plan.EnvVar{Name: "Access-Control-Allow-Headers", Value: strings.Join(corsHeaders, ", ")},
		)
	}
	if len(headers) > 0 {
		sort.SliceStable(headers, func(i, j int) bool { return headers[i].Name < headers[j].Name })
		w.open("header")
		for _, h := range headers {
			name, err := escape.CaddyHeaderName(h.Name)
			if err != nil {
				return err
			}
			value, err := escape.Caddy(h.Value)
			if err != nil {
				return err
			}
			w.line(name, value)
		}
		// Deferred, the headers replace what the backend sent instead of
		// standing beside it (two Content-Type fields), and they also
		// reach the answers Caddy gives itself below.
		w.line("defer")
		w.close()
	}
	if s.MaxBodyBytes > 0 {
		// request_body alone cuts the body off mid-stream, and Caddy 2.6's
		// reverse_proxy then answers 502 after the backend has seen a
		// truncated request. A declared length is refused up front with
		// 413; request_body still bounds a body sent without one.
		limit := strconv.FormatInt(s.MaxBodyBytes, 10)
		w.open("request_body")
		w.line("max_size", limit)
		w.close()
		w.line("@too_large", "expression", "`"+caddyContentLength+` != "" && int(`+caddyContentLength+") > "+limit+"`")
		w.line("respond", "@too_large", "413")
	}
	if s.CORS {
		// Answered here, as Traefik's CORS middleware does: the backend
		// need not know OPTIONS.
		w.line("@preflight", "method", "OPTIONS")
		w.line("respond", "@preflight", "204")
	}
	upstream, err := escape.CaddyUpstream(r.Upstream)
	if err != nil {
		return err
	}
	if len(p.Proxy.TrustedProxies) == 0 {
		// Caddy sends the backend the original Host and sets
		// X-Forwarded-For, -Proto and -Host itself, dropping whatever
		// the client claimed.
		w.line("reverse_proxy", upstream)
		return nil
	}
	trusted, err := caddyNetworks(p.Proxy.TrustedProxies)
	if err != nil {
		return err
	}
	w.open("reverse_proxy", upstream)
	w.line(append([]string{"trusted_proxies"}, trusted...)...)
	w.close()
	return nil
}

// caddyBaseDomainSnippet is for the operator's own site of the base domain,
// which must serve the discovery documents for delegation to work. It is
// written only where the plan does not serve that host itself.
func caddyBaseDomainSnippet(p *plan.Plan) ([]byte, error) {
	var wellKnown *plan.Route
	for i, r := range p.Routes {
		if r.Host == p.Host.Domain {
			return nil, nil
		}
		if r.PathPrefix == caddyWellKnownPrefix && wellKnown == nil {
			wellKnown = &p.Routes[i]
		}
	}
	if wellKnown == nil {
		return nil, nil
	}
	w := &caddyWriter{}
	w.raw(generatedHeader)
	w.raw(caddyTargetNote)
	w.comment("")
	w.comment(caddyWellKnownPrefix + "/* for the base domain " + p.Host.Domain + ", served from the")
	w.comment("same files as on " + wellKnown.Host + ". Import it inside your site block for")
	w.comment(p.Host.Domain + ":")
	w.comment("")
	site := p.Host.Domain
	if !caddyRouteTLS(p, *wellKnown) {
		site = "http://" + site
	}
	w.comment("    " + site + " {")
	w.comment("        import /path/to/proxy/caddy/base-domain-well-known.caddy")
	w.comment("        ...")
	w.comment("    }")
	w.comment("")
	w.comment("Caddy runs the handle block with the longest matching path, so your")
	w.comment("other handle blocks keep the rest of the site.")
	w.blank()
	base := *wellKnown
	base.Host = p.Host.Domain
	// The operator's site does not normalise X-Forwarded-For; this
	// route has no allow list that would need it.
	if err := caddyRoute(w, p, vhost{Host: base.Host, TLS: caddyRouteTLS(p, base)}, base, false); err != nil {
		return nil, fmt.Errorf("route %s for %s: %w", base.Name, base.Host, err)
	}
	return w.bytes()
}

func caddyRouteTLS(p *plan.Plan, r plan.Route) bool {
	for _, e := range p.Entrypoints {
		if e.Name == r.Entrypoint {
			return e.TLS
		}
	}
	return false
}

// caddyWriter writes Caddyfile lines indented with tabs, as caddy fmt
// does. Tokens must already be escaped.
type caddyWriter struct {
	b     strings.Builder
	depth int
	err   error
}

func (w *caddyWriter) raw(s string) { w.b.WriteString(s) }

func (w *caddyWriter) blank() { w.b.WriteByte('\n') }

func (w *caddyWriter) indent() { w.b.WriteString(strings.Repeat("\t", w.depth)) }

func (w *caddyWriter) line(tokens ...string) {
	w.indent()
	w.b.WriteString(strings.Join(tokens, " "))
	w.b.WriteByte('\n')
}

func (w *caddyWriter) open(tokens ...string) {
	w.line(append(tokens, "{")...)
	w.depth++
}

func (w *caddyWriter) close() {
	w.depth--
	w.line("}")
}

// comment writes text as a comment line; text that could end the comment
// or be replaced inside it fails the whole file.
func (w *caddyWriter) comment(text string) {
	c, err := escape.CaddyComment(text)
	if err != nil && w.err == nil {
		w.err = err
	}
	w.indent()
	if c == "" {
		w.b.WriteString("#\n")
		return
	}
	w.b.WriteString("# " + c + "\n")
}

func (w *caddyWriter) bytes() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.depth != 0 {
		panic("caddy: unbalanced blocks")
	}
	return []byte(w.b.String()), nil
}
