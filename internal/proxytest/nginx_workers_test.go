package proxytest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

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
	a, err := proxytest.Send(w.n.client, proxytest.Request{Method: method, Scheme: w.n.scheme, Host: w.rt.host, Port: w.port(target), Target: target, Header: header})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
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
	// nginx matches the decoded path.
	decoded, _ := url.PathUnescape(strings.SplitN(v.Path, "?", 2)[0])
	if ans, ok := w.rt.checkAnswer(t, "nginx", v, w.send(t, v.Method, v.Path, nil), decoded, false); ok {
		w.rt.checkRules(t, v, ans)
	}
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

func (w *nginxWorkers) checkStubs(t *testing.T) { w.rt.checkStubs(t, w.n.setup.Stubs) }
