package render

import (
	"fmt"
	"reflect"
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
	caddySitesFile    = "proxy/caddy/Caddyfile.matrix"
	caddyBaseSnippet  = "proxy/caddy/base-domain-well-known.caddy"
	caddyTargetNote   = "# Written for Caddy 2.6, the version in Debian 12.\n"
	caddyDeniedStatus = "403"
	// caddyContentLength is the request's declared body length: a
	// placeholder of matrixgen's own, where user values never have braces.
	caddyContentLength = "{http.request.header.Content-Length}"
	// caddyForwardedFor is every X-Forwarded-For line of the request,
	// joined with commas.
	caddyForwardedFor = "{http.request.header.X-Forwarded-For}"
	// caddyLastEntry matches a list of addresses and captures the last.
	caddyLastEntry = `^(?:.*,)?\s*([^,]*?)\s*$`
	// caddyRawTarget is the request target exactly as the client sent it
	// (Go's RequestURI of the request before any rewrite): still encoded,
	// dot segments and doubled slashes kept, the query included. The .path
	// variants are decoded, and {http.request.uri} is Go's re-encoding of
	// the parsed URL, which turns %5F into _ whenever the raw path holds a
	// byte Go would have escaped. A raw target that starts with a prefix of
	// letters, digits and / . _ - leaves the re-encoded target reverse_proxy
	// sends starting with it too, so checking this one covers that one.
	caddyRawTarget = "{http.request.orig_uri}"
	// caddyRawOutside names the matcher of requests whose raw target is
	// outside the block's path.
	caddyRawOutside = "@raw_outside"
	caddyBadRequest = "400"
)

func renderCaddy(p *plan.Plan, t Tree) error {
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
	for _, line := range caddyRawTargetWhy {
		w.comment(line)
	}
	if caddyHasRegexes(p) {
		for _, line := range caddyRegexWhy {
			w.comment(line)
		}
	}
	if caddyHasPools(p) {
		for _, line := range caddyPoolsWhy {
			w.comment(line)
		}
	}
	w.comment("")
	w.comment("Routes, highest priority first:")
	for _, line := range routeTableLines(p, caddyBackendComment) {
		w.comment(line)
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
	nested := map[string]bool{}
	for _, r := range v.Routes {
		if r.PathRegex != "" {
			continue
		}
		refinements := caddyNestedRegexes(v, r)
		if err := caddyRoute(w, p, v, r, len(p.Proxy.TrustedProxies) > 0, refinements...); err != nil {
			return fmt.Errorf("route %s: %w", r.Name, err)
		}
		for _, re := range refinements {
			nested[re.Name] = true
		}
		catchAll = catchAll || r.PathPrefix == "/"
	}
	for _, r := range v.Routes {
		if r.PathRegex != "" && !nested[r.Name] {
			return fmt.Errorf("route %s (%s) is under no prefix route of %s:%d, and Caddy would never try it", r.Name, r.PathRegex, v.Host, v.Port)
		}
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
	var prefixes []plan.Route
	for _, r := range v.Routes {
		if r.PathRegex == "" { // regex routes go inside these blocks, in their own order
			prefixes = append(prefixes, r)
		}
	}
	for i, hi := range prefixes {
		for _, lo := range prefixes[i+1:] {
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

// caddyRoute writes one prefix route as a handle block, with the regex
// routes that refine it (caddyNestedRegexes) inside. forwarded tells that
// the site normalised X-Forwarded-For (caddyClientAddress).
//
// The regex routes are handle blocks with a named path_regexp matcher,
// nested in the prefix's block: Caddy sorts the handle blocks of one level
// by the length of a single path matcher, keeps the written order among
// blocks with named matchers, and tries those before the block without a
// matcher. So the first regex in priority order that matches takes the
// request, and the prefix route itself only what none of them matches, as
// the route table says. At the site's level instead, regex blocks would
// come after every prefix block, whatever their priority.
func caddyRoute(w *caddyWriter, p *plan.Plan, v vhost, r plan.Route, forwarded bool, refinements ...plan.Route) error {
	matcher := []string{"handle"}
	// Every request is under "/", whatever its raw target.
	rawPrefix := ""
	if r.PathPrefix != "/" {
		m, err := escape.CaddyPathPrefix(r.PathPrefix)
		if err != nil {
			return err
		}
		matcher = append(matcher, m)
		rawPrefix = r.PathPrefix
	}
	w.open(matcher...)
	defer w.close()
	if len(refinements) == 0 {
		return caddyRouteRules(w, p, v, r, forwarded, rawPrefix)
	}
	shared := caddySharesGuards(r, refinements)
	if shared {
		// Once for the whole block: the regex routes refine this one and
		// have its allow list and upload limit.
		if err := caddyGuards(w, p, v, r, forwarded, rawPrefix); err != nil {
			return err
		}
	} else if err := caddyRawCheck(w, rawPrefix); err != nil {
		return err
	}
	serve := func(route plan.Route) error {
		if shared {
			return caddyProxy(w, p, route)
		}
		// The enclosing block has checked the raw target: a regex route
		// is chosen inside its prefix route's block, as nginx checks a
		// regex location against its enclosing prefix.
		return caddyRouteRules(w, p, v, route, forwarded, "")
	}
	for _, re := range refinements {
		name, err := escape.CaddyMatcherName("route-" + re.Name)
		if err != nil {
			return err
		}
		pattern, err := escape.CaddyPathRegexp(re.PathRegex)
		if err != nil {
			return fmt.Errorf("route %s: %w", re.Name, err)
		}
		w.comment(fmt.Sprintf("%s (priority %d) -> %s", re.Name, re.Priority, caddyBackendComment(re)))
		w.line(name, "path_regexp", pattern)
		w.open("handle", name)
		if err := serve(re); err != nil {
			return fmt.Errorf("route %s: %w", re.Name, err)
		}
		w.close()
	}
	w.comment(fmt.Sprintf("%s (priority %d) -> %s", r.Name, r.Priority, caddyBackendComment(r)))
	w.open("handle")
	defer w.close()
	return serve(r)
}

// caddyNestedRegexes are the regex routes of v that may match a path under
// prefix route pr and rank above it, highest priority first: Caddy must try
// them once it has chosen pr's block. A regex ranked below pr would lose to
// it anyway.
func caddyNestedRegexes(v vhost, pr plan.Route) []plan.Route {
	var out []plan.Route
	for _, r := range v.Routes {
		if r.PathRegex == "" || r.Priority <= pr.Priority {
			continue
		}
		if plan.RegexCanMatchUnder(r.PathRegex, pr.PathPrefix) {
			out = append(out, r)
		}
	}
	return out
}

// caddySharesGuards tells whether the refusals of prefix route r (allow
// list, upload limit) can stand once in its block for the regex routes
// too: they have the same settings, and r sets no response headers, which
// refused clients must not get.
func caddySharesGuards(r plan.Route, refinements []plan.Route) bool {
	if len(r.Settings.Headers) > 0 || r.Settings.CORS {
		return false
	}
	for _, re := range refinements {
		if !reflect.DeepEqual(re.Settings, r.Settings) {
			return false
		}
	}
	return true
}

func caddyBackendComment(r plan.Route) string {
	if len(r.Backends) == 0 {
		return fmt.Sprintf("%s port %d", r.Service, r.Port)
	}
	policy := r.Balance.By
	if r.Balance.Strict {
		policy += ", strict"
	}
	return fmt.Sprintf("pool %s (%d servers, %s)", r.Pool, len(r.Backends), policy)
}

// caddyRouteRules writes what a route's block does: refuse a raw target
// outside rawPrefix ("" for none) and clients outside its allow list, then
// apply its settings and proxy.
func caddyRouteRules(w *caddyWriter, p *plan.Plan, v vhost, r plan.Route, forwarded bool, rawPrefix string) error {
	if err := caddyRawCheck(w, rawPrefix); err != nil {
		return err
	}
	if len(r.Settings.AllowIPs) > 0 {
		if err := caddyDeny(w, v, r, forwarded); err != nil {
			return err
		}
	}
	if rawPrefix != "" || len(r.Settings.AllowIPs) > 0 {
		// In a handle of its own, the route runs only when no refusal
		// took the request: a header or request_header beside the
		// refusals would run for refused requests too.
		w.open("handle")
		defer w.close()
	}
	return caddyRouteBody(w, p, r)
}

// caddyRawCheck answers 400 to a request whose raw target does not start
// with prefix (caddyRawTargetWhy); "" writes nothing. Like caddyDeny, it is
// a handle block, so it refuses before the route's other directives run,
// and it stands before the allow list's, as nginx's rewrite phase runs
// before its access checks.
func caddyRawCheck(w *caddyWriter, prefix string) error {
	if prefix == "" {
		return nil
	}
	inside, err := escape.CaddyStartsWith(caddyRawTarget, prefix)
	if err != nil {
		return err
	}
	w.line(caddyRawOutside, "not", "expression", inside)
	w.open("handle", caddyRawOutside)
	w.line("respond", caddyBadRequest)
	w.close()
	return nil
}

// caddyDeny refuses clients outside the route's allow list. A nested
// handle refuses before any other directive runs: a refused client gets no
// CORS headers and sends no body upstream.
func caddyDeny(w *caddyWriter, v vhost, r plan.Route, forwarded bool) error {
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
	w.line(append(matcher, allow...)...)
	w.open("handle", "@denied")
	w.line("respond", caddyDeniedStatus)
	w.close()
	return nil
}

// caddyGuards writes the refusals of a block shared by a prefix route and
// its regex routes: the raw target check, the allow list and the upload
// limit, each as a handle block, which Caddy tries in the order written
// before the routes' own. request_body runs before any handle block,
// whatever the order in the file, and stands first.
func caddyGuards(w *caddyWriter, p *plan.Plan, v vhost, r plan.Route, forwarded bool, rawPrefix string) error {
	var tooLarge string
	if r.Settings.MaxBodyBytes > 0 {
		tooLarge = caddyBodyLimit(w, r.Settings.MaxBodyBytes)
	}
	if err := caddyRawCheck(w, rawPrefix); err != nil {
		return err
	}
	if len(r.Settings.AllowIPs) > 0 {
		if err := caddyDeny(w, v, r, forwarded); err != nil {
			return err
		}
	}
	if tooLarge != "" {
		w.line("@too_large", "expression", tooLarge)
		w.open("handle", "@too_large")
		defer w.close()
		return caddyTooLarge(w, p.Proxy.TooLarge)
	}
	return nil
}

// caddyTooLarge answers an upload declared larger than the limit with the
// plan's JSON; matcher, if given, selects the requests. respond would
// label its body text/plain, but keeps a Content-Type already set, and
// header runs before it.
func caddyTooLarge(w *caddyWriter, tl plan.TooLarge, matcher ...string) error {
	body, err := escape.CaddyJSONBody(tl.Body)
	if err != nil {
		return err
	}
	w.line(append(append([]string{"header"}, matcher...), "Content-Type", "application/json")...)
	w.line(append(append([]string{"respond"}, matcher...), body, "413")...)
	return nil
}

// caddyBodyLimit writes request_body for a limit of n bytes and returns the
// expression that finds a body declared larger.
//
// request_body alone cuts the body off mid-stream, and Caddy 2.6's
// reverse_proxy then answers 502 after the backend has seen a truncated
// request. A declared length is refused up front with 413; request_body
// still bounds a body sent without one.
func caddyBodyLimit(w *caddyWriter, n int64) string {
	limit := strconv.FormatInt(n, 10)
	w.open("request_body")
	w.line("max_size", limit)
	w.close()
	return "`" + caddyContentLength + ` != "" && int(` + caddyContentLength + ") > " + limit + "`"
}

// caddyRouteBody writes the directives that apply a route's settings and
// proxy it. Inside a block Caddy runs directives in its own fixed order
// (header, request_body, request_header, respond, reverse_proxy), whatever
// the order in the file; they are written in that order so that the file
// reads as it runs.
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
	var tooLarge string
	if s.MaxBodyBytes > 0 {
		tooLarge = caddyBodyLimit(w, s.MaxBodyBytes)
	}
	if err := caddyBalanceKey(w, r); err != nil {
		return err
	}
	if tooLarge != "" {
		w.line("@too_large", "expression", tooLarge)
		if err := caddyTooLarge(w, p.Proxy.TooLarge, "@too_large"); err != nil {
			return err
		}
	}
	if s.CORS {
		// Answered here, as Traefik's CORS middleware does: the backend
		// need not know OPTIONS.
		w.line("@preflight", "method", "OPTIONS")
		w.line("respond", "@preflight", "204")
	}
	return caddyReverseProxy(w, p, r)
}

// caddyProxy is a route's block when its guards stand in the enclosing
// block: the balancing key, if any, and the proxy.
func caddyProxy(w *caddyWriter, p *plan.Plan, r plan.Route) error {
	if err := caddyBalanceKey(w, r); err != nil {
		return err
	}
	return caddyReverseProxy(w, p, r)
}

// caddyReverseProxy proxies to the route's server, or to every server of
// its pool.
func caddyReverseProxy(w *caddyWriter, p *plan.Plan, r plan.Route) error {
	if r.StripPrefix {
		m, err := escape.CaddyPathPrefix(r.PathPrefix)
		if err != nil {
			return err
		}
		// The prefix without its "/": Caddy leaves the path starting
		// with one.
		w.line("uri", "strip_prefix", strings.TrimSuffix(strings.TrimSuffix(m, "*"), "/"))
	}
	proxy := []string{"reverse_proxy"}
	for _, be := range r.Servers() {
		upstream, err := escape.CaddyUpstream(be.Upstream)
		if err != nil {
			return err
		}
		proxy = append(proxy, upstream)
	}
	var options [][]string
	if len(r.Backends) > 0 {
		options = append(options, caddyPoolOptions(r)...)
	}
	if len(p.Proxy.TrustedProxies) > 0 {
		trusted, err := caddyNetworks(p.Proxy.TrustedProxies)
		if err != nil {
			return err
		}
		options = append(options, append([]string{"trusted_proxies"}, trusted...))
	}
	if len(options) == 0 {
		// Caddy sends the backend the original Host and sets
		// X-Forwarded-For, -Proto and -Host itself, dropping whatever
		// the client claimed.
		w.line(proxy...)
		return nil
	}
	w.open(proxy...)
	for _, o := range options {
		w.line(o...)
	}
	w.close()
	return nil
}

// caddyBaseDomainSnippet is for the operator's own site of the base domain,
// which must serve the discovery documents for delegation to work. It is
// written only where the plan does not serve that host itself.
func caddyBaseDomainSnippet(p *plan.Plan) ([]byte, error) {
	wellKnown, ok := baseDomainWellKnown(p)
	if !ok {
		return nil, nil
	}
	w := &caddyWriter{}
	w.raw(generatedHeader)
	w.raw(caddyTargetNote)
	w.comment("")
	w.comment(wellKnownPrefix + "/* for the base domain " + p.Host.Domain + ", served from the")
	w.comment("same files as on " + wellKnown.Host + ". Import it inside your site block for")
	w.comment(p.Host.Domain + ":")
	w.comment("")
	site := p.Host.Domain
	if !caddyRouteTLS(p, wellKnown) {
		site = "http://" + site
	}
	w.comment("    " + site + " {")
	w.comment("        import /path/to/proxy/caddy/base-domain-well-known.caddy")
	w.comment("        ...")
	w.comment("    }")
	w.comment("")
	w.comment("Caddy runs the handle block with the longest matching path, so your")
	w.comment("other handle blocks keep the rest of the site. The block answers 400")
	w.comment("to a request whose target, as sent, does not start with its path:")
	w.comment("Caddy chooses it by the decoded path with dot segments resolved, but")
	w.comment("forwards the target as sent.")
	w.blank()
	base := wellKnown
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

// caddyRawTargetWhy explains the raw target check at the top of each block.
var caddyRawTargetWhy = []string{
	"",
	"Each handle block with a path first answers 400 to a request whose",
	"target, exactly as the client sent it (still encoded, the orig_uri",
	"placeholder), does not start with that path, compared case-sensitively",
	"as Synapse does. Caddy picks the block by the decoded path with dot",
	"segments resolved, slashes merged and case ignored, but forwards the",
	"target as sent, and Synapse routes on that: without the check,",
	"/_synapse/admin/..%2F..%2F_matrix/... would pass the checks of /_matrix",
	"and reach the admin API.",
}

// caddyRegexWhy explains the nested handle blocks of the regex routes.
var caddyRegexWhy = []string{
	"",
	"Routes matched by a regular expression (Synapse's workers) stand inside",
	"the block of the prefix they refine, as handle blocks with a path_regexp",
	"matcher in priority order: Caddy tries those in the order written, the",
	"first that matches takes the request, and the prefix route gets the rest.",
	"They match the decoded path with dot segments resolved and slashes",
	"merged, as Synapse's worker documentation expects, and case-sensitively.",
}

// caddyPoolsWhy explains the reverse_proxy lines with several servers.
var caddyPoolsWhy = []string{
	"",
	"A route served by several workers lists them all in its reverse_proxy.",
	"A pool spread by user hashes on the access token (Authorization: Bearer,",
	"else the access_token parameter), so that one session's syncs meet one",
	"worker's caches; a pool spread by room hashes on the room ID of the",
	"decoded path, so that \"!a:b\" and \"%21a%3Ab\" are one room, which",
	"pagination requires. Caddy 2.6 hashes on a header only, so the route",
	"copies the key into " + caddyBalanceHeader + ", which reverse_proxy removes",
	"again before the request leaves. Its hashing is rendezvous hashing: a",
	"changed pool moves few keys. The rest go to the server with the fewest",
	"open requests. A server that fails a request is left out for " + caddyFailDuration + ",",
	"and a request it refused is tried on another.",
}

func caddyHasRegexes(p *plan.Plan) bool {
	for _, r := range p.Routes {
		if r.PathRegex != "" {
			return true
		}
	}
	return false
}

func caddyHasPools(p *plan.Plan) bool {
	for _, r := range p.Routes {
		if len(r.Backends) > 0 {
			return true
		}
	}
	return false
}

const (
	// caddyBalanceHeader carries the key of a hashing pool. Caddy 2.6's
	// selection policies hash on a header, a cookie, the client's address
	// or the whole URI, not on a query parameter or a part of the path; so
	// the route copies the access token or the room ID into this header,
	// whatever the client put there, and reverse_proxy deletes it once it
	// has chosen the server (header_up runs after the choice).
	caddyBalanceHeader = "X-Matrixgen-Balance-Key"
	// caddyBearer finds the access token in Authorization, as nginx's map
	// does.
	caddyBearer = `^Bearer[[:blank:]]+(.+)`
	// Placeholders of matrixgen's own: the token the bearer matcher
	// captured, the access_token query parameter (decoded), the room ID the
	// room matcher captured, and the decoded path.
	caddyBearerToken = "{http.regexp.matrixgen_bearer.1}"
	caddyQueryToken  = "{http.request.uri.query.access_token}"
	caddyRoomID      = "{http.regexp.matrixgen_room.1}"
	caddyDecodedPath = "{http.request.uri.path}"
	// caddyFailDuration is how long a server that failed a request stays
	// out of its pool: nginx's default fail_timeout.
	caddyFailDuration = "10s"
)

// caddyBalanceKey sets caddyBalanceHeader for a hashing pool, from two
// matchers of which exactly one holds, so that the order Caddy runs the two
// request_header lines in does not matter and a value the client sent never
// survives. Requests without an access token get an empty key, which Caddy
// 2.6 spreads at random; requests outside RoomIDPattern hash on the path,
// as nginx does.
func caddyBalanceKey(w *caddyWriter, r plan.Route) error {
	if len(r.Backends) == 0 {
		return nil
	}
	b := r.Balance
	switch b.By {
	case plan.BalanceLeastConn:
		return nil
	case plan.BalanceUser:
		bearer, err := escape.Caddy(caddyBearer)
		if err != nil {
			return err
		}
		w.line("@matrixgen_bearer", "header_regexp", "matrixgen_bearer", "Authorization", bearer)
		w.line("@matrixgen_no_bearer", "not", "header_regexp", "Authorization", bearer)
		w.line("request_header", "@matrixgen_bearer", caddyBalanceHeader, caddyBearerToken)
		w.line("request_header", "@matrixgen_no_bearer", caddyBalanceHeader, caddyQueryToken)
		return nil
	case plan.BalanceRoom:
		room, err := escape.CaddyPathRegexp(plan.RoomIDPattern)
		if err != nil {
			return err
		}
		w.line("@matrixgen_room", "path_regexp", "matrixgen_room", room)
		w.line("@matrixgen_no_room", "not", "path_regexp", room)
		w.line("request_header", "@matrixgen_room", caddyBalanceHeader, caddyRoomID)
		w.line("request_header", "@matrixgen_no_room", caddyBalanceHeader, caddyDecodedPath)
		return nil
	}
	return fmt.Errorf("balance policy %q: %w", b.By, ErrRouteUnsupported)
}

// caddyPoolOptions are the reverse_proxy settings of a pool. Strict pools
// need nothing more: Caddy hashes on their key as nginx does.
//
// A request whose server refused the connection is retried on another, and
// the failure keeps that server out for caddyFailDuration, while the
// hashing gives its keys to the others. The retry itself lands on a random
// server: Caddy chooses it after header_up has removed the key. Caddy 2.6
// retries a request that reached its server only if it is a GET.
func caddyPoolOptions(r plan.Route) [][]string {
	var out [][]string
	hashed := false
	switch r.Balance.By {
	case plan.BalanceUser, plan.BalanceRoom:
		out = append(out, []string{"lb_policy", "header", caddyBalanceHeader})
		hashed = true
	default:
		out = append(out, []string{"lb_policy", "least_conn"})
	}
	out = append(out,
		[]string{"lb_retries", strconv.Itoa(len(r.Backends) - 1)},
		[]string{"fail_duration", caddyFailDuration})
	if hashed {
		out = append(out, []string{"header_up", "-" + caddyBalanceHeader})
	}
	return out
}
