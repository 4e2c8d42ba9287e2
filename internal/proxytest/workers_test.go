package proxytest_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/validate"
)

const mainSynapse = "matrix-synapse"

// workerVariants are what every worker example is also compiled as: the
// route table must keep the rules whatever the proxy and ports.
var workerVariants = []struct {
	name string
	edit func(doc map[string]any)
}{
	{"as-is", func(map[string]any) {}},
	{"admin-api", func(doc map[string]any) {
		section(doc, "reverse_proxy")["admin_api"] = map[string]any{"enabled": true}
	}},
	{"federation-on-443", func(doc map[string]any) {
		section(doc, "synapse")["federation"] = map[string]any{"port": 443}
	}},
	{"own-webserver", func(doc map[string]any) {
		section(doc, "reverse_proxy")["type"] = "nginx"
		section(doc, "reverse_proxy")["admin_api"] = map[string]any{"enabled": true}
	}},
}

func section(doc map[string]any, name string) map[string]any {
	m, _ := doc[name].(map[string]any)
	if m == nil {
		m = map[string]any{}
		doc[name] = m
	}
	return m
}

// TestWorkerRouteTable replays route-vectors.tsv through the route table
// of every example with workers, choosing routes as the proxies do (the
// matching route of the request's host and entrypoint with the highest
// priority), on the raw path and on the decoded one (nginx and Apache
// match regexes on the latter), and checks the rules of
// ../shared/routes/README.md on every backend a request can reach.
func TestWorkerRouteTable(t *testing.T) {
	vectors := proxytest.Vectors(t)
	examples := workerExamples(t)
	if len(examples) == 0 {
		t.Fatal("no example has workers")
	}
	for _, path := range examples {
		for _, v := range workerVariants {
			t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml")+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				p := compileEdited(t, path, v.edit)
				rt := newRouteTable(t, p)
				rt.checkAllRoutes(t)
				admin := slices.ContainsFunc(p.Routes, func(r plan.Route) bool { return r.PathPrefix == "/_synapse/admin" })
				for _, vec := range vectors {
					raw := strings.SplitN(vec.Path, "?", 2)[0]
					decoded, err := url.PathUnescape(raw)
					if err != nil {
						t.Fatal(err)
					}
					for _, reqPath := range slices.Compact([]string{raw, decoded}) {
						r, ok := rt.match(vec.Path, reqPath)
						if !ok {
							if !admin && strings.HasPrefix(raw, "/_synapse/admin/") {
								continue // the admin API is not served at all
							}
							t.Errorf("%s %s: no route", vec.Method, reqPath)
							continue
						}
						rt.checkVector(t, vec, reqPath, r)
					}
				}
			})
		}
	}
}

// workerExamples are the examples whose config has workers.
func workerExamples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(proxytest.RepoRoot(t), "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		p := compileEdited(t, f, func(map[string]any) {})
		if slices.ContainsFunc(p.Services, func(s plan.Service) bool { return workerType(s.Unit) != "" }) {
			out = append(out, f)
		}
	}
	return out
}

func compileEdited(t *testing.T, path string, edit func(map[string]any)) *plan.Plan {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	if data, err = yaml.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	return compileYAML(t, filepath.Base(path), string(data))
}

func compileYAML(t testing.TB, name, config string) *plan.Plan {
	t.Helper()
	cfg, problems := validate.Load(name, []byte(config))
	if len(problems) > 0 {
		var b strings.Builder
		diag.Print(&b, problems, "")
		t.Fatalf("%s is invalid:\n%s", name, b.String())
	}
	p, problems := compile.Compile(cfg)
	if len(problems) > 0 {
		t.Fatalf("%s does not compile: %v", name, problems)
	}
	return p
}

// workerType is the kind of worker a unit runs ("generic-worker",
// "stream-writer-typing", ...), or "" for another service.
func workerType(unit string) string {
	name, ok := strings.CutPrefix(unit, mainSynapse+"-worker-")
	if !ok {
		return ""
	}
	return name[:strings.LastIndex(name, "-")]
}

type routeTable struct {
	p        *plan.Plan
	host     string
	services map[string]plan.Service
	regexes  map[string]*regexp.Regexp
	// writers maps a stream to its writer's unit.
	writers map[string]string
	kinds   map[string]bool // worker types present
}

func newRouteTable(t *testing.T, p *plan.Plan) *routeTable {
	rt := &routeTable{p: p, services: map[string]plan.Service{}, regexes: map[string]*regexp.Regexp{},
		writers: map[string]string{}, kinds: map[string]bool{}}
	for _, s := range p.Services {
		rt.services[s.Unit] = s
		typ := workerType(s.Unit)
		rt.kinds[typ] = true
		if stream, ok := strings.CutPrefix(typ, "stream-writer-"); ok {
			rt.writers[stream] = s.Unit
		}
	}
	for _, r := range p.Routes {
		if r.Service == mainSynapse && r.Host != "" {
			rt.host = r.Host
		}
		if r.PathRegex != "" {
			re, err := regexp.Compile(r.PathRegex)
			if err != nil {
				t.Fatalf("route %s: %v", r.Name, err)
			}
			rt.regexes[r.Name] = re
			if lit := plan.RegexPrefix(r.PathRegex); !strings.HasPrefix(lit, "/_") {
				t.Errorf("route %s: regex %s has the literal prefix %q, not one of Synapse's", r.Name, r.PathRegex, lit)
			}
		}
	}
	return rt
}

// match is the route a proxy chooses for a request to the homeserver.
func (rt *routeTable) match(target, reqPath string) (plan.Route, bool) {
	ep := plan.EntrypointClient
	if proxytest.IsFederation(target) {
		ep = plan.EntrypointFederation
	}
	var best plan.Route
	found := false
	for _, r := range rt.p.Routes {
		if r.Host != rt.host || r.Entrypoint != ep {
			continue
		}
		var ok bool
		if r.PathRegex != "" {
			ok = rt.regexes[r.Name].MatchString(reqPath)
		} else {
			ok = r.PathPrefix == "/" || reqPath == r.PathPrefix || strings.HasPrefix(reqPath, r.PathPrefix+"/")
		}
		if ok && (!found || r.Priority > best.Priority) {
			best, found = r, true
		}
	}
	return best, found
}

// listenerAt is the name of the service's listener on port, or "".
func (rt *routeTable) listenerAt(unit string, port int) string {
	for _, l := range rt.services[unit].Listens {
		if l.Port == port {
			return l.Name
		}
	}
	return ""
}

// checkAllRoutes: every Synapse backend of every route is a listener for
// the route's side of the API, so no request reaches a worker without an
// HTTP listener for it, and no federation request a client-only worker or
// the other way round; pools are named consistently and have servers.
func (rt *routeTable) checkAllRoutes(t *testing.T) {
	pools := map[string]string{}
	for _, r := range rt.p.Routes {
		if r.PathPrefix != "" && r.PathRegex != "" {
			t.Errorf("route %s matches by prefix %q and regex %q", r.Name, r.PathPrefix, r.PathRegex)
		}
		if len(r.Backends) == 1 {
			t.Errorf("route %s: a pool of one", r.Name)
		}
		if len(r.Backends) > 0 {
			if b0 := r.Backends[0]; b0.Service != r.Service || b0.Port != r.Port || b0.Upstream != r.Upstream {
				t.Errorf("route %s: Service/Port/Upstream %s:%d %s do not repeat Backends[0] %+v", r.Name, r.Service, r.Port, r.Upstream, b0)
			}
			key := fmt.Sprint(r.Backends, r.Balance)
			if prev, ok := pools[r.Pool]; ok && prev != key {
				t.Errorf("pool %s has two definitions: %s and %s", r.Pool, prev, key)
			}
			pools[r.Pool] = key
			if r.Pool == "" || r.Balance.By == "" {
				t.Errorf("route %s: pool without name or policy: %q %+v", r.Name, r.Pool, r.Balance)
			}
		}
		for _, be := range r.Servers() {
			if be.Service != mainSynapse && workerType(be.Service) == "" {
				continue
			}
			if be.Upstream == "" {
				t.Errorf("route %s: backend %s has no upstream", r.Name, be.Service)
			}
			want := []string{"client", "media"}
			if r.Entrypoint == plan.EntrypointFederation {
				want = []string{"federation", "media"}
			}
			if got := rt.listenerAt(be.Service, be.Port); !slices.Contains(want, got) {
				t.Errorf("route %s (%s entrypoint) sends to %s port %d, a %q listener; want one of %q",
					r.Name, r.Entrypoint, be.Service, be.Port, got, want)
			}
		}
	}
	for unit, s := range rt.services {
		typ := workerType(unit)
		http := slices.ContainsFunc(s.Listens, func(l plan.Listen) bool { return l.Name == "client" || l.Name == "federation" || l.Name == "media" })
		if noHTTP := slices.Contains([]string{"federation-sender", "pusher", "appservice", "background", "stream-writer-events"}, typ); noHTTP && http {
			t.Errorf("%s serves requests (%v), but its kind serves none", unit, s.Listens)
		}
	}
}

// servesGroup: which groups of the worker documentation a kind of worker
// can serve.
func servesGroup(typ, group string) bool {
	federation := strings.HasPrefix(group, "Federation") || strings.HasPrefix(group, "Inbound federation")
	switch typ {
	case "generic-worker", "room-worker":
		return !strings.Contains(group, "stream writer") && group != "Media repository" && group != "Updating the User Directory"
	case "client-reader":
		return !federation && !strings.Contains(group, "stream writer") && group != "Media repository" && group != "Updating the User Directory"
	case "sync-worker":
		return group == "Sync requests"
	case "federation-reader":
		return federation
	case "media-repository":
		return group == "Media repository"
	case "user-dir":
		return group == "Updating the User Directory" || group == "User directory search requests"
	}
	if stream, ok := strings.CutPrefix(typ, "stream-writer-"); ok {
		return group == stream+" stream writer"
	}
	return false
}

// checkVector asserts the rules of routes/README.md for one request and
// the route the table chooses for it.
func (rt *routeTable) checkVector(t *testing.T, v proxytest.Vector, reqPath string, r plan.Route) {
	t.Helper()
	var units []string
	for _, be := range r.Servers() {
		units = append(units, be.Service)
	}
	where := fmt.Sprintf("%s %s (%s, %s): route %s -> %q", v.Method, reqPath, v.Group, v.Status, r.Name, units)
	rt.checkBackends(t, v, where, units, r.Port)
	if len(r.Backends) > 0 {
		switch {
		case v.Group == "Sync requests" && r.Balance.By != plan.BalanceUser:
			t.Errorf("%s: sync spread by %q, want by user", where, r.Balance.By)
		case v.Group == "Pagination requests" && (r.Balance.By != plan.BalanceRoom || !r.Balance.Strict):
			t.Errorf("%s: pagination spread by %+v, want strictly by room", where, r.Balance)
		}
	}
}

// checkBackends asserts the rules of routes/README.md for one request
// that reaches units, all on one port.
func (rt *routeTable) checkBackends(t *testing.T, v proxytest.Vector, where string, units []string, port int) {
	t.Helper()
	all := func(ok func(unit string) bool) bool {
		return !slices.ContainsFunc(units, func(u string) bool { return !ok(u) })
	}
	isMain := func(u string) bool { return u == mainSynapse }
	group := v.Group
	stream, isWriterGroup := strings.CutSuffix(group, " stream writer")
	switch {
	case group == "main":
		if !all(isMain) {
			t.Errorf("%s: the main process must serve it", where)
		}
	case isWriterGroup:
		writer, ok := rt.writers[stream]
		switch {
		case ok && !all(func(u string) bool { return u == writer }):
			t.Errorf("%s: only the %s writer %s may serve it", where, stream, writer)
		case !ok && v.Status == "ambiguous-by-design":
			// Without the writer, the generic pattern the documentation
			// lists for the same request applies.
			if !all(func(u string) bool { return isMain(u) || servesOther(v, workerType(u)) }) {
				t.Errorf("%s: without a %s writer, only the main process or a worker serving %s may serve it", where, stream, v.Group)
			}
		case !ok && !all(isMain):
			t.Errorf("%s: without a %s writer, the main process must serve it", where, stream)
		}
	case group == "Media repository":
		if rt.kinds["media-repository"] {
			if !all(func(u string) bool { return workerType(u) == "media-repository" }) {
				t.Errorf("%s: media workers must serve it", where)
			}
		} else if !all(isMain) {
			t.Errorf("%s: the main process must serve it without media workers", where)
		}
	case v.Status == "AMBIGUOUS-accidental":
		// Any process with a client listener can send events.
		if !all(func(u string) bool { return isMain(u) || rt.listenerAt(u, port) == "client" }) {
			t.Errorf("%s: only a process that can send events may serve it", where)
		}
	default:
		if !all(func(u string) bool {
			return isMain(u) || servesGroup(workerType(u), group) || v.Status == "ambiguous-by-design" && servesOther(v, workerType(u))
		}) {
			t.Errorf("%s: only the main process or a worker serving %q may serve it", where, group)
		}
	}
}

// servesOther: the worker kind serves another group whose patterns match
// the request as well.
func servesOther(v proxytest.Vector, typ string) bool {
	return slices.ContainsFunc(v.Matched, func(g string) bool { return g != v.Group && servesGroup(typ, g) })
}

// TestWorkerScale: a large server builds, and its route table keeps one
// route per pattern however many workers share it.
func TestWorkerScale(t *testing.T) {
	config := `domain: example.org
traefik: {acme_email: admin@example.org}
synapse:
  workers:
    preset: one-of-each
    generic: 64
    federation_sender: 16
    media_repository: 4
    stream_writers: {events: 8}
`
	p := compileYAML(t, "scale.yaml", config)
	if _, err := render.Render(p); err != nil {
		t.Fatal(err)
	}
	small := compileYAML(t, "small.yaml", strings.NewReplacer("64", "2", "16", "2").Replace(config))
	if len(p.Routes) != len(small.Routes) {
		t.Errorf("%d routes with 64 generic workers, %d with 2", len(p.Routes), len(small.Routes))
	}
	workers := 0
	for _, s := range p.Services {
		if workerType(s.Unit) != "" {
			workers++
		}
	}
	// 64 + 16 + 4 media + 8 event persisters + 9 other writers + pusher,
	// appservice, user-dir and background.
	if workers != 64+16+4+8+9+4 {
		t.Errorf("%d workers", workers)
	}
}

// answered is a backend's answer to a vector, as checkAnswer found it.
type answered struct {
	route plan.Route
	where string // the exchange, for messages
	unit  string // the backend that answered, and its port
	port  int
}

// checkAnswer checks a real proxy's answer a to vector v against the
// route table: a backend answered exactly when the table has a route for
// the request (reqPath is the path as the proxy matches it), the backend
// saw the method and target as sent, and it is one of the route's servers
// the proxy may use (the first only where the proxy cannot keep a strict
// pool's key, strictFirst). It returns what answered, and false when
// nothing did.
func (rt *routeTable) checkAnswer(t *testing.T, proxy string, v proxytest.Vector, a proxytest.Answer, reqPath string, strictFirst bool) (answered, bool) {
	t.Helper()
	r, routed := rt.match(v.Path, reqPath)
	unit, port := backendOf(t, a)
	ans := answered{route: r, unit: unit, port: port,
		where: fmt.Sprintf("%s %s (%s, %s): %s chose %s:%d", v.Method, v.Path, v.Group, v.Status, proxy, unit, port)}
	if !routed {
		if a.Seen != nil {
			t.Errorf("%s, but the route table has no route for it", ans.where)
		}
		return ans, false
	}
	if a.Seen == nil {
		t.Errorf("%s %s: %d %.200s, want the route %s", v.Method, v.Path, a.Status, a.Body, r.Name)
		return ans, false
	}
	if a.Seen.URI != v.Path || a.Seen.Method != v.Method {
		t.Errorf("%s: the backend saw %s %q", ans.where, a.Seen.Method, a.Seen.URI)
	}
	servers := r.Servers()
	if strictFirst && r.Balance.Strict {
		servers = servers[:1]
	}
	if !slices.ContainsFunc(servers, func(be plan.Backend) bool { return be.Service == unit && be.Port == port }) {
		t.Errorf("%s, not a server of route %s (%s%s) that %s may use", ans.where, r.Name, r.PathPrefix, r.PathRegex, proxy)
	}
	return ans, true
}

// checkRules asserts the rules of routes/README.md for the backend that
// answered a vector of route-vectors.tsv.
func (rt *routeTable) checkRules(t *testing.T, v proxytest.Vector, ans answered) {
	t.Helper()
	rt.checkBackends(t, v, ans.where, []string{ans.unit}, ans.port)
}

// checkStubs: every backend a proxy can reach is a listener of its
// service that serves requests, and a worker without one got nothing.
func (rt *routeTable) checkStubs(t *testing.T, stubs map[string]*proxytest.Stub) {
	serves := func(l plan.Listen) bool { return l.Name == "client" || l.Name == "federation" || l.Name == "media" }
	for name, stub := range stubs {
		unit, portText, _ := strings.Cut(name, ":")
		port, _ := strconv.Atoi(portText)
		if workerType(unit) == "" {
			continue
		}
		if l := rt.listenerAt(unit, port); l != "client" && l != "federation" && l != "media" {
			t.Errorf("stub %s stands for a %q listener, which serves no requests", name, l)
		}
		if !slices.ContainsFunc(rt.services[unit].Listens, serves) && stub.Requests.Load() > 0 {
			t.Errorf("%s has no HTTP listener, yet its stub got %d requests", unit, stub.Requests.Load())
		}
	}
}
