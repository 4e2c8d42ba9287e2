package proxytest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// caddyBalanceHeader is the request header the Caddyfile hashes pools on;
// it must never reach Synapse nor be the client's to choose.
const caddyBalanceHeader = "X-Matrixgen-Balance-Key"

// TestCaddyWorkers serves every worker example through a real Caddy in
// front of stub backends and replays route-vectors.tsv: each request must
// reach a backend the route table allows for it (the rules of
// routes/README.md), and the one Caddy picks must be a server of the route
// the table chooses. Sync requests must stay with their user and room
// requests with their room.
func TestCaddyWorkers(t *testing.T) {
	t.Parallel()
	caddyBinary(t)
	vectors := proxytest.Vectors(t)
	for _, path := range workerExamples(t) {
		for _, variant := range []struct {
			name string
			edit func(doc map[string]any)
		}{
			{"tls", func(doc map[string]any) {}},
			{"terminated-federation-on-443", func(doc map[string]any) {
				section(doc, "reverse_proxy")["tls"] = map[string]any{"mode": "terminated"}
				section(doc, "synapse")["federation"] = map[string]any{"port": 443}
			}},
		} {
			t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml")+"/"+variant.name, func(t *testing.T) {
				t.Parallel()
				c := startCaddy(t, caddyCase{config: caddyWorkerConfig(t, path, variant.edit)})
				w := &caddyWorkers{c: c, rt: newRouteTable(t, c.setup.Plan)}
				t.Run("vectors", func(t *testing.T) {
					for _, v := range vectors {
						w.checkVector(t, v)
					}
				})
				t.Run("order", w.checkOrder)
				t.Run("pinned", w.checkPinned)
				t.Run("raw-target", func(t *testing.T) { c.checkSmuggled(t, caddyWorkerSmuggled...) })
				t.Run("stubs", w.checkStubs)
			})
		}
	}
}

// caddyWorkerSmuggled are targets whose decoded, cleaned path matches a
// worker's regex in one block while the raw target starts elsewhere: the
// regex blocks stand inside their prefix's block, whose raw target check
// must hold for them too.
var caddyWorkerSmuggled = []string{
	"/_synapse/admin/v1/rooms/..%2F..%2F..%2F..%2F_matrix/client/v3/sync",
	"/_matrix/client/v3/sync/..%2F..%2F..%2F..%2F_synapse/admin/v1/rooms/!r:example.org",
	"/_matrix/media/..%2F..%2F_synapse/admin/v1/purge_media_cache",
	"/_synapse/admin/v1/media/..%2F..%2F..%2F..%2F_matrix/media/v3/upload",
	"/_matrix/client/v3/rooms/!r:example.org/..%2F..%2F..%2F..%2F..%2F_synapse/admin/v1/quarantine_media/example.org/a",
	"/_SYNAPSE/admin/v1/rooms/!r:example.org",
	"/%5Fmatrix/client/v3/sync",
}

// TestCaddyWorkersAdminAllowlist: with workers, the admin block holds the
// admin API's regex routes under one allow list. From outside it, neither
// an admin target nor a smuggled one reaches any backend.
func TestCaddyWorkersAdminAllowlist(t *testing.T) {
	t.Parallel()
	caddyBinary(t)
	for _, path := range workerExamples(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			t.Parallel()
			c := startCaddy(t, caddyCase{config: caddyWorkerConfig(t, path, func(doc map[string]any) {
				section(doc, "reverse_proxy")["admin_api"] = map[string]any{"enabled": true, "allow": []any{"10.0.0.0/8"}}
			})})
			before := c.requests()
			for _, target := range []string{
				"/_synapse/admin/v1/rooms/!r:example.org",
				"/_synapse/admin/v1/purge_media_cache",
				"/_synapse/admin/v1/media/example.org/abc",
				"/_synapse/admin/v1/quarantine_media/example.org/abc",
				"/_synapse/admin/v2/users",
			} {
				if a := c.do(t, "GET", caddyHomeserver, c.clientPort, target, nil, nil); a.Status != http.StatusForbidden || a.Seen != nil {
					t.Errorf("GET %s from outside the allowlist: %d %s, want 403", target, a.Status, a.Body)
				}
			}
			c.checkSmuggled(t, caddyWorkerSmuggled...)
			if n := c.requests() - before; n != 0 {
				t.Errorf("requests from outside the admin allowlist reached backends %d times", n)
			}
		})
	}
}

// caddyOrderProbes each match two regex routes with different servers, so
// that only the priority order decides between them, which no request of
// route-vectors.tsv needs: an account data writer's pattern has no "$" and
// also matches a room event of that name, or a filter with that ID.
var caddyOrderProbes = []string{
	"/_matrix/client/v3/rooms/!r:example.org/send/m.custom/account_data",
	"/_matrix/client/v3/user/@u:example.org/filter/account_data",
}

// checkOrder: of the regex routes a request matches, the one with the
// highest priority wins, as in the route table.
func (w *caddyWorkers) checkOrder(t *testing.T) {
	for _, target := range caddyOrderProbes {
		servers := map[string]bool{}
		for _, r := range w.rt.p.Routes {
			if r.PathRegex != "" && r.Host == w.rt.host && w.rt.regexes[r.Name].MatchString(target) {
				servers[fmt.Sprint(r.Servers())] = true
			}
		}
		if len(servers) < 2 {
			t.Errorf("%s matches regex routes with %d sets of servers; the probe needs two", target, len(servers))
		}
		r, _ := w.rt.match(target, target)
		a := w.send(t, "GET", target, nil)
		unit, port := backendOf(t, a)
		if !slices.ContainsFunc(r.Servers(), func(be plan.Backend) bool { return be.Service == unit && be.Port == port }) {
			t.Errorf("GET %s: Caddy chose %s:%d, not a server of route %s (%s, priority %d)", target, unit, port, r.Name, r.PathRegex, r.Priority)
		}
	}
}

// caddyWorkerConfig is a worker example switched to Caddy, with the admin
// API open to the test's client.
func caddyWorkerConfig(t *testing.T, path string, edit func(map[string]any)) string {
	t.Helper()
	return editedYAML(t, path, func(doc map[string]any) {
		// The tests' hostnames are example.org's.
		doc["domain"] = "example.org"
		section(doc, "reverse_proxy")["type"] = "caddy"
		section(doc, "reverse_proxy")["admin_api"] = map[string]any{"enabled": true, "allow": []any{"127.0.0.1/32"}}
		edit(doc)
	})
}

type caddyWorkers struct {
	c  *caddyRun
	rt *routeTable
}

func (w *caddyWorkers) port(target string) int {
	if proxytest.IsFederation(target) {
		return w.c.fedPort
	}
	return w.c.clientPort
}

func (w *caddyWorkers) send(t *testing.T, method, target string, header http.Header) proxytest.Answer {
	t.Helper()
	return w.c.do(t, method, w.rt.host, w.port(target), target, header, nil)
}

func (w *caddyWorkers) checkVector(t *testing.T, v proxytest.Vector) {
	t.Helper()
	// Caddy matches the decoded path.
	decoded, _ := url.PathUnescape(strings.SplitN(v.Path, "?", 2)[0])
	if ans, ok := w.rt.checkAnswer(t, "Caddy", v, w.send(t, v.Method, v.Path, nil), decoded, false); ok {
		w.rt.checkRules(t, v, ans)
	}
}

// checkPinned: one access token's syncs reach one worker, whether the
// token comes in the header or the query, and one room's requests one
// worker, however the room ID is encoded; different tokens and rooms are
// spread.
func (w *caddyWorkers) checkPinned(t *testing.T) {
	sync := "/_matrix/client/v3/sync"
	if r, ok := w.rt.match(sync, sync); ok && len(r.Backends) > 1 {
		seen := map[string]bool{}
		for i := range 16 {
			token := fmt.Sprintf("syt_dXNlcg_token%02d_0aZb1c", i)
			var first string
			for j := range 3 {
				h := http.Header{"Authorization": {"Bearer " + token}}
				target := sync + "?timeout=0&since=s" + strconv.Itoa(j)
				if j == 2 {
					h, target = nil, sync+"?access_token="+token
				}
				unit, _ := backendOf(t, w.send(t, "GET", target, h))
				if j == 0 {
					first = unit
				} else if unit != first {
					t.Errorf("token %d: sync went to %s, then %s", i, first, unit)
				}
			}
			seen[first] = true
		}
		if len(seen) < 2 {
			t.Errorf("16 users' syncs all went to %v", seen)
		}
	}
	messages := "/_matrix/client/v3/rooms/%s/messages"
	if r, ok := w.rt.match(fmt.Sprintf(messages, "!x:example.org"), fmt.Sprintf(messages, "!x:example.org")); ok && len(r.Backends) > 1 {
		seen := map[string]bool{}
		for i := range 16 {
			room := fmt.Sprintf("!room%02dAbCdEf:example.org", i)
			a, _ := backendOf(t, w.send(t, "GET", fmt.Sprintf(messages, room)+"?dir=b", nil))
			b, _ := backendOf(t, w.send(t, "GET", fmt.Sprintf(messages, strings.NewReplacer("!", "%21", ":", "%3A").Replace(room)), nil))
			if a != b {
				t.Errorf("room %s went to %s, percent-encoded to %s", room, a, b)
			}
			seen[a] = true
		}
		if len(seen) < 2 {
			t.Errorf("16 rooms' pagination all went to %v", seen)
		}
	}
}

func (w *caddyWorkers) checkStubs(t *testing.T) { w.rt.checkStubs(t, w.c.setup.Stubs) }

// headerStub is a pool's backend that also remembers the headers of what
// it got, which proxytest's stubs do not report.
type headerStub struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	keys []string // the balance header of every request, "<absent>" without one
	auth []string // Authorization of every request
}

func startHeaderStub(t *testing.T, name string) *headerStub {
	s := &headerStub{name: name}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		key, ok := r.Header[http.CanonicalHeaderKey(caddyBalanceHeader)]
		if !ok {
			key = []string{"<absent>"}
		}
		s.keys = append(s.keys, strings.Join(key, ","))
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(proxytest.Seen{Backend: name, Method: r.Method, Host: r.Host, URI: r.RequestURI})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *headerStub) addr() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// TestCaddyWorkersBalanceKey: the header Caddy hashes pools on is set by
// the Caddyfile alone and removed before the request leaves, so a client
// can neither choose its worker nor send Synapse the header, and the
// token itself still arrives.
func TestCaddyWorkersBalanceKey(t *testing.T) {
	t.Parallel()
	stubs := map[string]*headerStub{}
	config := caddyWorkerConfig(t, filepath.Join(proxytest.RepoRoot(t), "examples", "specialized.yaml"), func(doc map[string]any) {
		section(doc, "reverse_proxy")["tls"] = map[string]any{"mode": "terminated"}
	})
	c := startCaddy(t, caddyCase{config: config, tweak: func(p *plan.Plan) {
		for i := range p.Routes {
			r := &p.Routes[i]
			for j := range r.Backends {
				be := &r.Backends[j]
				name := fmt.Sprintf("%s:%d", be.Service, be.Port)
				if stubs[name] == nil {
					stubs[name] = startHeaderStub(t, name)
				}
				be.Upstream = stubs[name].addr()
			}
			if len(r.Backends) > 0 {
				r.Upstream = r.Backends[0].Upstream
			}
		}
	}})
	w := &caddyWorkers{c: c, rt: newRouteTable(t, c.setup.Plan)}
	for i := range 8 {
		token := fmt.Sprintf("syt_dXNlcg_token%02d_0aZb1c", i)
		var first string
		for j := range 4 {
			h := http.Header{"Authorization": {"Bearer " + token}, caddyBalanceHeader: {fmt.Sprintf("client-%d", j)}}
			a := w.send(t, "GET", "/_matrix/client/v3/sync", h)
			if a.Seen == nil || workerType(strings.Split(a.Seen.Backend, ":")[0]) != "sync-worker" {
				t.Fatalf("sync: %d %s, want a sync worker", a.Status, a.Body)
			}
			if j == 0 {
				first = a.Seen.Backend
			} else if a.Seen.Backend != first {
				t.Errorf("token %d with the client's %s %d: %s, before %s", i, caddyBalanceHeader, j, a.Seen.Backend, first)
			}
		}
		room := fmt.Sprintf("/_matrix/client/v3/rooms/!room%02d:example.org/messages", i)
		first = ""
		for j := range 4 {
			a := w.send(t, "GET", room, http.Header{caddyBalanceHeader: {fmt.Sprintf("client-%d", j)}})
			if a.Seen == nil {
				t.Fatalf("%s: %d %s", room, a.Status, a.Body)
			}
			if j == 0 {
				first = a.Seen.Backend
			} else if a.Seen.Backend != first {
				t.Errorf("%s with the client's %s %d: %s, before %s", room, caddyBalanceHeader, j, a.Seen.Backend, first)
			}
		}
	}
	got := 0
	for name, s := range stubs {
		s.mu.Lock()
		for i, key := range s.keys {
			got++
			if key != "<absent>" {
				t.Errorf("%s got %s: %q", name, caddyBalanceHeader, key)
			}
			if a := s.auth[i]; a != "" && !strings.HasPrefix(a, "Bearer syt_") {
				t.Errorf("%s got Authorization %q", name, a)
			}
		}
		s.mu.Unlock()
	}
	if got != 8*8 {
		t.Errorf("the pools' stubs got %d requests, want %d", got, 8*8)
	}
}

// TestCaddyWorkersDeadServer: a pool server that refuses connections costs
// no request: Caddy retries on another server and leaves the dead one out.
func TestCaddyWorkersDeadServer(t *testing.T) {
	t.Parallel()
	config := caddyWorkerConfig(t, filepath.Join(proxytest.RepoRoot(t), "examples", "specialized.yaml"), func(doc map[string]any) {
		section(doc, "reverse_proxy")["tls"] = map[string]any{"mode": "terminated"}
	})
	c := startCaddy(t, caddyCase{config: config, tweak: func(p *plan.Plan) {
		closed := fmt.Sprintf("127.0.0.1:%d", proxytest.FreePort(t))
		for i := range p.Routes {
			r := &p.Routes[i]
			if len(r.Backends) > 1 {
				// The second server of every pool: nothing listens there.
				r.Backends[1].Upstream = closed
			}
		}
	}})
	w := &caddyWorkers{c: c, rt: newRouteTable(t, c.setup.Plan)}
	for i := range 16 {
		for _, req := range []struct {
			target string
			header http.Header
		}{
			{fmt.Sprintf("/_matrix/client/v3/rooms/!room%02d:example.org/messages", i), nil},
			{fmt.Sprintf("/_matrix/client/v3/rooms/!room%02d:example.org/send/m.room.message/%d", i, i), nil},
			{"/_matrix/client/v3/sync", http.Header{"Authorization": {fmt.Sprintf("Bearer syt_token%02d", i)}}},
			{fmt.Sprintf("/_matrix/media/v3/download/example.org/media%02d", i), nil},
			{fmt.Sprintf("/_matrix/federation/v1/state/!room%02d:example.org", i), nil},
		} {
			method := "GET"
			if strings.Contains(req.target, "/send/") {
				method = "PUT"
			}
			a := w.send(t, method, req.target, req.header)
			if a.Seen == nil {
				t.Errorf("%s %s with a dead server in the pool: %d %s", method, req.target, a.Status, a.Body)
			}
		}
	}
}

// TestCaddyWorkersOwnSettings: a regex route whose settings differ from
// its prefix route's keeps its own, and the prefix route and the other
// regex routes keep theirs.
func TestCaddyWorkersOwnSettings(t *testing.T) {
	t.Parallel()
	config := caddyWorkerConfig(t, filepath.Join(proxytest.RepoRoot(t), "examples", "specialized.yaml"), func(doc map[string]any) {
		section(doc, "reverse_proxy")["tls"] = map[string]any{"mode": "terminated"}
	})
	const limit = 1 << 10
	c := startCaddy(t, caddyCase{config: config, tweak: func(p *plan.Plan) {
		for i := range p.Routes {
			if r := &p.Routes[i]; strings.Contains(r.PathRegex, "/sync$") {
				r.Settings.AllowIPs = []string{"10.0.0.0/8"}
				r.Settings.MaxBodyBytes = limit
			}
		}
	}})
	w := &caddyWorkers{c: c, rt: newRouteTable(t, c.setup.Plan)}
	before := c.requests()
	if a := w.send(t, "GET", "/_matrix/client/v3/sync", nil); a.Status != http.StatusForbidden || a.Seen != nil {
		t.Errorf("sync from outside its allow list: %d %s, want 403", a.Status, a.Body)
	}
	if n := c.requests() - before; n != 0 {
		t.Errorf("a refused sync reached %d backends", n)
	}
	for target, kind := range map[string]string{
		"/_matrix/client/v3/events":                         "sync-worker",
		"/_matrix/client/v3/rooms/!r:example.org/messages":  "room-worker",
		"/_matrix/client/v3/login":                          "client-reader",
		"/_matrix/client/v3/account/password":               "",
		"/_matrix/client/v3/rooms/!r:example.org/typing/@u": "stream-writer-typing",
	} {
		a := w.send(t, "GET", target, nil)
		if a.Seen == nil || workerType(strings.Split(a.Seen.Backend, ":")[0]) != kind {
			t.Errorf("GET %s: %d %s, want a %q backend", target, a.Status, a.Body, kind)
		}
	}
	// /sync's smaller upload limit stays its own.
	body := make([]byte, 2*limit)
	if a := c.do(t, "POST", w.rt.host, c.clientPort, "/_matrix/client/v3/login", nil, body); a.Seen == nil {
		t.Errorf("POST of %d bytes to /login: %d %s", len(body), a.Status, a.Body)
	}
}

// TestCaddyWorkersTooLarge: where worker routes share their prefix
// route's upload limit, Caddy checks it once for the whole block, and
// an upload over it gets the Matrix error there too.
func TestCaddyWorkersTooLarge(t *testing.T) {
	t.Parallel()
	config := caddyWorkerConfig(t, filepath.Join(proxytest.RepoRoot(t), "examples", "specialized.yaml"), func(doc map[string]any) {
		section(doc, "reverse_proxy")["tls"] = map[string]any{"mode": "terminated"}
		section(doc, "synapse")["max_upload_size_mb"] = 1
	})
	c := startCaddy(t, caddyCase{config: config})
	w := &caddyWorkers{c: c, rt: newRouteTable(t, c.setup.Plan)}
	expect := http.Header{"Expect": {"100-continue"}}
	for _, target := range []string{"/_matrix/client/v3/sendToDevice/m.x/t1", "/_matrix/media/v3/upload"} {
		before := c.requests()
		a := c.do(t, "PUT", w.rt.host, w.port(target), target, expect, make([]byte, 2<<20))
		proxytest.CheckTooLarge(t, "2 MiB to "+target, a)
		if n := c.requests() - before; n != 0 {
			t.Errorf("2 MiB to %s reached %d backends", target, n)
		}
		if a := c.do(t, "PUT", w.rt.host, w.port(target), target, nil, make([]byte, 512<<10)); a.Seen == nil || !strings.Contains(a.Seen.Backend, "-worker-") {
			t.Errorf("512 KiB to %s: %d %.200s, want a worker", target, a.Status, a.Body)
		}
	}
}
