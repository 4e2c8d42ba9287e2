package proxytest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// TestNginxWorkers serves every worker example through a real nginx in
// front of stub backends and replays route-vectors.tsv: each request must
// reach a backend the route table allows for it (the rules of
// routes/README.md), and the one nginx picks must be a server of the route
// the table chooses. Sync requests must stay with their user and room
// requests with their room.
func TestNginxWorkers(t *testing.T) {
	bin := nginxBinary(t)
	vectors := proxytest.Vectors(t)
	for _, path := range workerExamples(t) {
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
				config := editedYAML(t, path, func(doc map[string]any) {
					// The harness's stand-in website is for example.org.
					doc["domain"] = nginxDomain
					section(doc, "reverse_proxy")["type"] = "nginx"
					section(doc, "reverse_proxy")["admin_api"] = map[string]any{"enabled": true, "allow": []any{"127.0.0.1/32"}}
					variant.edit(doc)
				})
				setup := proxytest.Compile(t, config)
				setup.Certificates(t)
				n := startNginx(t, bin, setup, nginxCase{name: variant.name, tls: true, admin: "allowed"})
				rt := newRouteTable(t, setup.Plan)
				w := &nginxWorkers{n: n, rt: rt}
				t.Run("vectors", func(t *testing.T) {
					for _, v := range vectors {
						w.checkVector(t, v)
					}
				})
				t.Run("pinned", w.checkPinned)
				t.Run("stubs", w.checkStubs)
			})
		}
	}
}

func editedYAML(t *testing.T, path string, edit func(map[string]any)) string {
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
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

type nginxWorkers struct {
	n  *nginxRun
	rt *routeTable
}

func (w *nginxWorkers) port(target string) int {
	if proxytest.IsFederation(target) {
		return w.n.fedPort
	}
	return w.n.clientPort
}

// send makes a request with the target exactly as written, as
// proxytest.Do does, and with the given headers.
func (w *nginxWorkers) send(t *testing.T, method, target string, header http.Header) proxytest.Answer {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("%s://%s:%d/", w.n.scheme, w.rt.host, w.port(target)), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = target
	req.Host = w.rt.host
	maps.Copy(req.Header, header)
	resp, err := w.n.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := proxytest.Answer{Status: resp.StatusCode, Header: resp.Header, Body: body}
	var seen proxytest.Seen
	if json.Unmarshal(body, &seen) == nil && seen.Backend != "" {
		a.Seen = &seen
	}
	return a
}

// backendOf splits a stub's name ("unit:port").
func backendOf(t *testing.T, a proxytest.Answer) (string, int) {
	t.Helper()
	if a.Seen == nil {
		return "", 0
	}
	unit, port, _ := strings.Cut(a.Seen.Backend, ":")
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("stub name %q", a.Seen.Backend)
	}
	return unit, n
}

func (w *nginxWorkers) checkVector(t *testing.T, v proxytest.Vector) {
	t.Helper()
	a := w.send(t, v.Method, v.Path, nil)
	raw := strings.SplitN(v.Path, "?", 2)[0]
	decoded, _ := url.PathUnescape(raw)
	r, routed := w.rt.match(v.Path, decoded)
	unit, port := backendOf(t, a)
	where := fmt.Sprintf("%s %s (%s, %s): nginx chose %s:%d", v.Method, v.Path, v.Group, v.Status, unit, port)
	if !routed {
		if a.Seen != nil {
			t.Errorf("%s, but the route table has no route for it", where)
		}
		return
	}
	if a.Seen == nil {
		t.Errorf("%s %s: %d %s, want the route %s", v.Method, v.Path, a.Status, a.Body, r.Name)
		return
	}
	if a.Seen.URI != v.Path {
		t.Errorf("%s: the backend saw %q", where, a.Seen.URI)
	}
	if !slices.ContainsFunc(r.Servers(), func(be plan.Backend) bool { return be.Service == unit && be.Port == port }) {
		t.Errorf("%s, not a server of route %s (%s%s)", where, r.Name, r.PathPrefix, r.PathRegex)
	}
	w.rt.checkBackends(t, v, where, []string{unit}, port)
}

// checkPinned: one access token's syncs reach one worker and one room's
// requests one worker, however the room ID is encoded; different tokens
// and rooms are spread.
func (w *nginxWorkers) checkPinned(t *testing.T) {
	sync := "/_matrix/client/v3/sync"
	if r, ok := w.rt.match(sync, sync); ok && len(r.Backends) > 1 {
		seen := map[string]bool{}
		for i := range 16 {
			token := fmt.Sprintf("syt_dXNlcg_token%02d_0aZb1c", i)
			var first string
			for j := range 3 {
				h := http.Header{"Authorization": {"Bearer " + token}}
				target := sync
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
			a, _ := backendOf(t, w.send(t, "GET", fmt.Sprintf(messages, room), nil))
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

// checkStubs: every backend nginx can reach is a listener of its service
// that serves requests; the workers without one have no stub at all, so
// nothing was sent to them.
func (w *nginxWorkers) checkStubs(t *testing.T) {
	for name := range w.n.setup.Stubs {
		unit, portText, _ := strings.Cut(name, ":")
		port, _ := strconv.Atoi(portText)
		if workerType(unit) == "" {
			continue
		}
		if l := w.rt.listenerAt(unit, port); l != "client" && l != "federation" && l != "media" {
			t.Errorf("stub %s stands for a %q listener, which serves no requests", name, l)
		}
	}
	for unit, s := range w.rt.services {
		if workerType(unit) == "" {
			continue
		}
		serves := slices.ContainsFunc(s.Listens, func(l plan.Listen) bool { return l.Name == "client" || l.Name == "federation" || l.Name == "media" })
		for name, stub := range w.n.setup.Stubs {
			if strings.HasPrefix(name, unit+":") && !serves && stub.Requests.Load() > 0 {
				t.Errorf("%s has no HTTP listener, yet its stub got %d requests", unit, stub.Requests.Load())
			}
		}
	}
}
