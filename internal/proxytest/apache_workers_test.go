package proxytest_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
	"github.com/matrixgen/matrixgen/internal/render"
)

// apacheWorkerVectors are requests to worker routes whose target must
// reach the worker byte for byte: a query string after a route whose
// regex ends in "$", percent-encoded room, user and event IDs, an encoded
// slash inside a state key, and an encoded "?" inside an alias.
var apacheWorkerVectors = []proxytest.Vector{
	{Method: "GET", Path: "/_matrix/client/v3/sync?since=s72594_4483_1934&timeout=30000&filter=%7B%22room%22%3A%7B%7D%7D"},
	{Method: "GET", Path: "/_matrix/client/v3/sync?access_token=syt_dXNlcg_abc_0aZb1c"},
	{Method: "GET", Path: "/_matrix/client/v3/rooms/%21room%3Aexample.org/messages?dir=b&from=t1%7E2&limit=10"},
	{Method: "GET", Path: "/_matrix/client/v3/rooms/!raw:example.org/messages?dir=f"},
	{Method: "PUT", Path: "/_matrix/client/v3/rooms/%21r%3Aexample.org/typing/%40a%3Aexample.org"},
	{Method: "GET", Path: "/_matrix/client/v3/user/%40a%3Aexample.org/rooms/%21r%3Aexample.org/tags?x=1"},
	{Method: "PUT", Path: "/_matrix/client/v3/user/%40a%3Aexample.org/account_data/m.x%2Fy"},
	{Method: "GET", Path: "/_matrix/client/v3/rooms/%21r%3Aexample.org/state/m.room.member/%40a%2Fb%3Aexample.org"},
	{Method: "GET", Path: "/_matrix/client/v3/rooms/%21r%3Aexample.org/members?membership=join&at=s1%2F2"},
	{Method: "GET", Path: "/_matrix/client/v3/directory/room/%23a%3Fb%3Aexample.org"},
	{Method: "GET", Path: "/_matrix/client/v3/profile/%40a%3Aexample.org?x=%2F"},
	{Method: "POST", Path: "/_matrix/client/v3/keys/query?x=a%20b"},
	{Method: "GET", Path: "/_matrix/client/v1/media/download/example.org/abc%2F..%2Fdef"},
	{Method: "GET", Path: "/_matrix/media/v3/thumbnail/example.org/abc?width=32&height=32"},
	{Method: "GET", Path: "/_synapse/admin/v1/media/example.org/abc%2Fdef"},
	{Method: "GET", Path: "/_synapse/admin/v1/rooms/%21r%3Aexample.org?x=1"},
	{Method: "GET", Path: "/_matrix/federation/v1/state_ids/%21r%3Aexample.org?event_id=%24e%3Aexample.org"},
	{Method: "PUT", Path: "/_matrix/federation/v1/send/1%2F2%213"},
	{Method: "GET", Path: "/_matrix/federation/v1/version?x=1"},
	{Method: "POST", Path: "/_matrix/key/v2/query?x=%2F"},
}

// TestApacheWorkers serves every worker example through a real httpd in
// front of stub backends and replays route-vectors.tsv: each request must
// reach a backend the route table allows for it (the rules of
// routes/README.md), a server of the route the table chooses for the path
// httpd matches on, with the request target unchanged. Pools must spread
// requests over all their servers, strict pools keep to their first, and
// httpd must never have dropped nocanon (AH01136).
func TestApacheWorkers(t *testing.T) {
	t.Parallel()
	apacheBinary(t)
	vectors := proxytest.Vectors(t)
	examples := workerExamples(t)
	if len(examples) == 0 {
		t.Fatal("no example has workers")
	}
	for _, path := range examples {
		for _, variant := range []struct {
			name string
			edit func(doc map[string]any)
		}{
			{"tls", func(doc map[string]any) {}},
			{"federation-on-443", func(doc map[string]any) {
				section(doc, "synapse")["federation"] = map[string]any{"port": 443}
			}},
		} {
			t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml")+"/"+variant.name, func(t *testing.T) {
				t.Parallel()
				config := editedYAML(t, path, func(doc map[string]any) {
					// The test's hostnames are those of example.org.
					doc["domain"] = apacheBaseDomain
					section(doc, "reverse_proxy")["type"] = "apache"
					section(doc, "reverse_proxy")["admin_api"] = map[string]any{"enabled": true, "allow": []any{"127.0.0.1/32"}}
					variant.edit(doc)
				})
				setup := proxytest.Compile(t, config)
				setup.Certificates(t)
				a := startApache(t, setup)
				w := &apacheWorkers{a: a, rt: newRouteTable(t, setup.Plan)}
				if w.rt.host != apacheHomeserver {
					t.Fatalf("the homeserver is %q, want %q", w.rt.host, apacheHomeserver)
				}
				t.Run("modules", w.checkModules)
				t.Run("vectors", func(t *testing.T) {
					workers := 0
					for _, v := range vectors {
						if workerType(w.checkVector(t, v, true)) != "" {
							workers++
						}
					}
					t.Logf("%d vectors, %d of them served by workers", len(vectors), workers)
				})
				t.Run("encoded", func(t *testing.T) {
					for _, v := range append(slices.Clone(apacheExtraVectors), apacheWorkerVectors...) {
						w.checkVector(t, v, false)
					}
				})
				t.Run("pools", w.checkPools)
				t.Run("stubs", w.checkStubs)
				t.Run("nocanon kept", w.checkNocanon)
				t.Run("reduced target", w.checkReduced)
			})
		}
	}
}

type apacheWorkers struct {
	a  *apacheRun
	rt *routeTable
}

func (w *apacheWorkers) port(target string) int {
	if proxytest.IsFederation(target) {
		return w.a.port(plan.EntrypointFederation)
	}
	return w.a.port(plan.EntrypointClient)
}

// apacheDecodedPath is the path httpd matches routes against (r->uri):
// percent-decoded, except "%2F", which AllowEncodedSlashes NoDecode keeps.
func apacheDecodedPath(t *testing.T, target string) string {
	t.Helper()
	raw, _, _ := strings.Cut(target, "?")
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' && i+2 < len(raw) {
			n, err := strconv.ParseUint(raw[i+1:i+3], 16, 8)
			if err != nil {
				t.Fatalf("%s: bad escape at %d", target, i)
			}
			if n != '/' {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// checkVector sends one request, checks where it went and returns the
// unit that answered. rules adds the checks of routes/README.md, for the
// vectors that name their group.
func (w *apacheWorkers) checkVector(t *testing.T, v proxytest.Vector, rules bool) string {
	t.Helper()
	a := w.a.send(t, v.Method, w.rt.host, w.port(v.Path), v.Path, nil, nil)
	// httpd cannot hash: a strict pool gets its first server only.
	ans, ok := w.rt.checkAnswer(t, "httpd", v, a, apacheDecodedPath(t, v.Path), true)
	if !ok {
		return ans.unit
	}
	if a.Seen.Host != w.rt.host || a.Seen.XForwardedFor != "127.0.0.1" || a.Seen.XForwardedProto != "https" {
		t.Errorf("%s: the backend saw Host %q, X-Forwarded-For %q, X-Forwarded-Proto %q", ans.where, a.Seen.Host, a.Seen.XForwardedFor, a.Seen.XForwardedProto)
	}
	if rules {
		w.rt.checkRules(t, v, ans)
	}
	return ans.unit
}

func (w *apacheWorkers) checkModules(t *testing.T) {
	m := regexp.MustCompile(`(?m)^#\s+a2enmod (.*)$`).FindSubmatch(w.a.conf)
	if m == nil {
		t.Fatal("no a2enmod line")
	}
	mods := strings.Fields(string(m[1]))
	for _, want := range []string{"proxy_balancer", "slotmem_shm", "lbmethod_byrequests", "lbmethod_bybusyness"} {
		if !slices.Contains(mods, want) {
			t.Errorf("a2enmod line %q lacks %s", m[1], want)
		}
	}
}

// checkPools sends one request per pooled route, as many times as its
// pool has servers times three: a balancer must use every server, a
// strict route only the first.
func (w *apacheWorkers) checkPools(t *testing.T) {
	pools := map[string]bool{}
	strict := 0
	for _, r := range w.rt.p.Routes {
		if r.Host != w.rt.host || len(r.Backends) == 0 || (pools[r.Pool] && !r.Balance.Strict) {
			continue
		}
		pools[r.Pool] = true
		target := strings.TrimSuffix(r.PathPrefix, "/") + "/matrixgen-probe"
		if r.PathRegex != "" {
			target = apacheSample(t, r.PathRegex)
		}
		if got, ok := w.rt.match(target, apacheDecodedPath(t, target)); !ok || got.Name != r.Name {
			t.Fatalf("probe %s for route %s is routed to %s", target, r.Name, got.Name)
		}
		port := w.a.port(r.Entrypoint)
		seen := map[string]int{}
		for range 3 * len(r.Backends) {
			ans := w.a.send(t, "GET", w.rt.host, port, target, nil, nil)
			if ans.Seen == nil || ans.Seen.URI != target {
				t.Fatalf("%s: %d %.200s", target, ans.Status, ans.Body)
			}
			seen[ans.Seen.Backend]++
		}
		var want []string
		for _, be := range r.Backends {
			want = append(want, fmt.Sprintf("%s:%d", be.Service, be.Port))
		}
		if r.Balance.Strict {
			strict++
			if seen[want[0]] != 3*len(r.Backends) {
				t.Errorf("route %s (%s, strict): %v, want only %s", r.Name, r.Balance.By, seen, want[0])
			}
			continue
		}
		for _, s := range want {
			if seen[s] == 0 {
				t.Errorf("pool %s (%s): %s got nothing of %v", r.Pool, r.Balance.By, s, seen)
			}
		}
	}
	if len(pools) == 0 {
		t.Fatal("no pool in the route table")
	}
	t.Logf("%d pools spread, %d strict routes on their first server", len(pools)-strict, strict)
}

// apacheSample is a path regex re matches: each group's first branch,
// "x" for a class or a dot, "/" for an optional group's absence.
func apacheSample(t *testing.T, re string) string {
	t.Helper()
	r := strings.NewReplacer("[^/]+", "x", ".*", "x", "(/|$)", "", "(/.*/restart)?", "", "^", "", "$", "")
	s := r.Replace(re)
	s = regexp.MustCompile(`\(([^|()]*)(\|[^()]*)?\)`).ReplaceAllString(s, "$1")
	s = strings.ReplaceAll(s, `\`, "")
	if !regexp.MustCompile(re).MatchString(s) {
		t.Fatalf("no sample for %s: %s does not match", re, s)
	}
	return s
}

// checkReduced: a target whose decoded form matches a route that the
// target as sent does not (an encoded letter) still takes the route, and
// httpd forwards the decoded path instead, with a warning (AH01136): it
// never forwards a target that differs from the path it routed on.
func (w *apacheWorkers) checkReduced(t *testing.T) {
	sent := "/_matrix/client/v3/%73ync?since=x"
	ans := w.a.send(t, "GET", w.rt.host, w.a.port(plan.EntrypointClient), sent, nil, nil)
	r, ok := w.rt.match(sent, apacheDecodedPath(t, sent))
	if !ok || r.PathRegex == "" {
		t.Fatalf("%s: the route table chooses %s", sent, r.Name)
	}
	unit, port := backendOf(t, ans)
	if ans.Seen == nil || ans.Seen.URI != "/_matrix/client/v3/sync?since=x" ||
		!slices.ContainsFunc(r.Servers(), func(be plan.Backend) bool { return be.Service == unit && be.Port == port }) {
		t.Errorf("%s: %d %.200s, want route %s with the decoded path", sent, ans.Status, ans.Body, r.Name)
	}
	log, _ := os.ReadFile(filepath.Join(w.a.dir, "error.log"))
	if bytes.Count(log, []byte("AH01136")) != 1 {
		t.Errorf("want one AH01136 in the error log:\n%s", log)
	}
}

func (w *apacheWorkers) checkStubs(t *testing.T) { w.rt.checkStubs(t, w.a.setup.Stubs) }

// checkNocanon: httpd logs AH01136 whenever the request target did not
// match a route the decoded path matched, and then forwards the decoded
// path re-encoded instead. No request of this test may have caused it.
func (w *apacheWorkers) checkNocanon(t *testing.T) {
	log, err := os.ReadFile(filepath.Join(w.a.dir, "error.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(log, []byte("AH01136")); n > 0 {
		t.Errorf("httpd ignored nocanon %d times:\n%s", n, log)
	}
}

// Worker routes keep the settings of the prefix they refine: an admin
// allow list that does not hold the client keeps it away from the admin
// API's worker routes, however the path is spelled, and the upload limit
// holds for worker routes and pools. A pool member that refuses
// connections costs no request.
func TestApacheWorkersSettings(t *testing.T) {
	t.Parallel()
	apacheBinary(t)
	path := filepath.Join(proxytest.RepoRoot(t), "examples", "specialized.yaml")
	config := editedYAML(t, path, func(doc map[string]any) {
		doc["domain"] = apacheBaseDomain
		section(doc, "reverse_proxy")["type"] = "apache"
		section(doc, "reverse_proxy")["admin_api"] = map[string]any{"enabled": true, "allow": []any{"10.0.0.0/8"}}
		section(doc, "synapse")["max_upload_size_mb"] = 1
	})
	s := proxytest.Compile(t, config)
	s.Certificates(t)
	// A member of two pools that accepts no connection: its requests must
	// go to the others.
	dead := fmt.Sprintf("127.0.0.1:%d", proxytest.FreePort(t))
	deadPools := map[string]bool{"synapse-client-reader-client-least-conn": true, "synapse-room-worker-client-room": true}
	for i := range s.Plan.Routes {
		if r := &s.Plan.Routes[i]; deadPools[r.Pool] {
			r.Backends = append(r.Backends, plan.Backend{Service: "dead", Port: 1, Upstream: dead})
		}
	}
	a := startApache(t, s)
	port := a.port(plan.EntrypointClient)
	for _, path := range []string{"/_matrix/client/v3/createRoom", "/_matrix/client/v3/rooms/%21r%3Aexample.org/members"} {
		for range 8 {
			ans := a.send(t, "GET", apacheHomeserver, port, path, nil, nil)
			if ans.Seen == nil || ans.Seen.URI != path {
				t.Errorf("%s with a dead pool member: %d %.200s", path, ans.Status, ans.Body)
			}
		}
	}
	if log, _ := os.ReadFile(filepath.Join(a.dir, "error.log")); !bytes.Contains(log, []byte(dead)) {
		t.Errorf("httpd never tried the dead member %s, so the test proves nothing:\n%s", dead, log)
	}
	var workerRoutes []string
	for _, r := range s.Plan.Routes {
		if r.PathRegex != "" && strings.HasPrefix(plan.RegexPrefix(r.PathRegex), "/_synapse/admin/") {
			workerRoutes = append(workerRoutes, r.Name)
		}
	}
	if len(workerRoutes) == 0 {
		t.Fatal("no worker route under the admin API")
	}
	paths := []string{
		"/_synapse/admin/v1/media/example.org/abc",
		"/_synapse/admin/v1/purge_media_cache?before_ts=1",
		"/_synapse/admin/v1/room/%21r%3Aexample.org/media",
		"/_synapse/admin/v1/users/%40a%3Aexample.org/media",
		"/_synapse/admin/v1/quarantine_media/example.org/abc",
		"/_synapse/admin/v1/rooms/%21r%3Aexample.org",
		"/_synapse/%61dmin/v1/media/example.org/abc",
		"/_synapse//admin/v1/media/example.org/abc",
		"/_matrix/client/../../_synapse/admin/v1/media/example.org/abc",
		"/_synapse/admin/..%2F..%2F_synapse/admin/v1/media/x",
	}
	for _, v := range proxytest.Vectors(t) {
		if strings.HasPrefix(v.Path, "/_synapse/admin/") {
			paths = append(paths, v.Path)
		}
	}
	for _, p := range paths {
		a.expectNoBackend(t, "GET", apacheHomeserver, port, p, 0)
	}
	ans := a.send(t, "GET", apacheHomeserver, port, "/_matrix/client/v3/sync", nil, nil)
	if ans.Seen == nil || workerType(ans.Seen.Backend[:strings.IndexByte(ans.Seen.Backend, ':')]) != "sync-worker" {
		t.Errorf("sync: %d %.200s, want a sync worker", ans.Status, ans.Body)
	}
	t.Logf("%d admin paths refused; %d worker routes under the admin API", len(paths), len(workerRoutes))

	big, small := bytes.Repeat([]byte("x"), 2<<20), bytes.Repeat([]byte("x"), 512<<10)
	for _, target := range []struct {
		port int
		path string
	}{
		{port, "/_matrix/client/v3/rooms/%21r%3Aexample.org/send/m.room.message/t1"},
		{port, "/_matrix/client/v3/sendToDevice/m.x/t1"},
		{port, "/_matrix/media/v3/upload?filename=a%20b"},
		{a.port(plan.EntrypointFederation), "/_matrix/federation/v1/send/t1"},
	} {
		r, ok := newRouteTable(t, s.Plan).match(target.path, apacheDecodedPath(t, target.path))
		if !ok || r.PathRegex == "" && len(r.Backends) == 0 {
			t.Fatalf("%s is not a worker route's: %s", target.path, r.Name)
		}
		before := a.total()
		ans := a.send(t, "POST", apacheHomeserver, target.port, target.path, nil, big)
		if a.total() != before {
			t.Errorf("2 MiB to %s (%s) reached a backend", target.path, r.Name)
		}
		proxytest.CheckTooLarge(t, fmt.Sprintf("2 MiB to %s (%s)", target.path, r.Name), ans)
		ans = a.send(t, "POST", apacheHomeserver, target.port, target.path, nil, small)
		if ans.Seen == nil || ans.Seen.URI != target.path || !strings.HasPrefix(ans.Seen.Backend, mainSynapse+"-worker-") {
			t.Errorf("512 KiB to %s (%s): %d %.200s, want a worker", target.path, r.Name, ans.Status, ans.Body)
		}
	}
}

// The renderer fails rather than write a configuration in which httpd
// would choose another route than the table, or apply other settings.
func TestApacheRefusesWorkerRoutes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(proxytest.RepoRoot(t), "examples", "specialized.yaml")
	find := func(p *plan.Plan, name string) *plan.Route {
		for i := range p.Routes {
			if p.Routes[i].Name == name {
				return &p.Routes[i]
			}
		}
		t.Fatalf("no route %s", name)
		return nil
	}
	for name, mutate := range map[string]func(p *plan.Plan){
		"regex under a higher prefix": func(p *plan.Plan) {
			find(p, "synapse-sync-1").Priority = 50
			slices.SortStableFunc(p.Routes, func(a, b plan.Route) int { return b.Priority - a.Priority })
		},
		"out of priority order": func(p *plan.Plan) { find(p, "synapse-sync-1").Priority = 9000 },
		"same priority as its prefix": func(p *plan.Plan) {
			find(p, "synapse-client").Priority = find(p, "synapse-pagination-1").Priority
			slices.SortStableFunc(p.Routes, func(a, b plan.Route) int { return b.Priority - a.Priority })
		},
		"other body limit than its prefix": func(p *plan.Plan) { find(p, "synapse-sync-1").Settings.MaxBodyBytes = 1 },
		"other allow list than its prefix": func(p *plan.Plan) {
			find(p, "synapse-admin-1").Settings.AllowIPs = []string{"0.0.0.0/0"}
		},
		"settings outside every prefix": func(p *plan.Plan) { find(p, "synapse-sync-1").PathRegex = "^/_other/sync$" },
		"lookahead":                     func(p *plan.Plan) { find(p, "synapse-sync-1").PathRegex = "^/_matrix/client/v3/sync(?=x)" },
		"digit class":                   func(p *plan.Plan) { find(p, "synapse-sync-1").PathRegex = `^/_matrix/client/v\d/sync$` },
		"dollar inside":                 func(p *plan.Plan) { find(p, "synapse-sync-1").PathRegex = `^/_matrix/client/(v3$|r0)/sync` },
		"define in regex":               func(p *plan.Plan) { find(p, "synapse-sync-1").PathRegex = `^/_matrix/client/${x}` },
		"unknown policy": func(p *plan.Plan) {
			for i := range p.Routes {
				if p.Routes[i].Pool == "synapse-sync-worker-client-user" {
					p.Routes[i].Balance.By = "cookie"
				}
			}
		},
		"pool name": func(p *plan.Plan) {
			for i := range p.Routes {
				if p.Routes[i].Pool == "synapse-sync-worker-client-user" {
					p.Routes[i].Pool = "Sync Pool"
				}
			}
		},
		"pool of two definitions": func(p *plan.Plan) {
			r := find(p, "synapse-sync-1")
			r.Backends = append(slices.Clone(r.Backends[:len(r.Backends)-1]), plan.Backend{Service: "x", Port: 1, Upstream: "127.0.0.1:1"})
		},
		"member address": func(p *plan.Plan) {
			for i := range p.Routes {
				if r := &p.Routes[i]; r.Pool == "synapse-sync-worker-client-user" {
					r.Backends = append(slices.Clone(r.Backends[:1]), plan.Backend{Service: "x", Port: 1, Upstream: "127.0.0.1:1&x"})
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			config := editedYAML(t, path, func(doc map[string]any) {
				section(doc, "reverse_proxy")["type"] = "apache"
				section(doc, "reverse_proxy")["admin_api"] = map[string]any{"enabled": true, "allow": []any{"127.0.0.1/32"}}
			})
			s := proxytest.Compile(t, config)
			mutate(s.Plan)
			if tree, err := render.Render(s.Plan); err == nil {
				t.Fatalf("rendered without complaint:\n%s", tree["proxy/apache/matrix.conf"].Data)
			} else {
				t.Log(err)
			}
		})
	}
}
