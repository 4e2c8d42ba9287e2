package pipeline

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// ketesaDocumentedKeys are the keys of Ketesa's `interface Config`, as
// ../shared/bridges/ketesa/NOTES.md lists them, with the JSON kinds each
// takes.
var ketesaDocumentedKeys = map[string][]string{
	"restrictBaseUrl":      {"string", "array"},
	"corsCredentials":      {"string"},
	"asManagedUsers":       {"array"},
	"menu":                 {"array"},
	"externalAuthProvider": {"bool"},
	"wellKnownDiscovery":   {"bool"},
	"etkeccAdmin":          {"string"},
}

// ketesaBridges puts Ketesa under a path and gives it bridges, so that
// every key matrixgen writes has content.
const ketesaBridges = `domain: example.org
traefik: {acme_email: admin@example.org}
ketesa: {enabled: true, path: /admin/ketesa}
bridges:
  heisenbridge: {type: heisenbridge, owner: "@admin:example.org"}
  mautrix-signal: {type: mautrix-signal}
`

// TestKetesaUpstream holds the config.json matrixgen writes against what
// Ketesa reads: every key one it documents, every value of a kind it
// takes (elements too, against its example), and the homeserver it is
// locked to one whose admin API the bundle routes.
func TestKetesaUpstream(t *testing.T) {
	dir := filepath.Join(sharedBridges(t), "ketesa")
	notes, err := os.ReadFile(filepath.Join(dir, "NOTES.md"))
	if err != nil {
		t.Fatal(err)
	}
	for key := range ketesaDocumentedKeys {
		if !strings.Contains(string(notes), "`"+key+"`") {
			t.Errorf("NOTES.md does not list %s: the table here is out of date", key)
		}
	}
	example := ketesaReadJSON(t, filepath.Join(dir, "config.example.json"))
	// Ketesa runs with the upstream file, an empty object: nothing we
	// leave out is required.
	if empty := ketesaReadJSON(t, filepath.Join(dir, "config.json")); len(empty) != 0 {
		t.Errorf("upstream config.json is %v, not empty: check what Ketesa now requires", empty)
	}

	cases := map[string]*Result{"full": buildExample(t, "full"), "bridges-under-a-path": ketesaRun(t, ketesaBridges)}
	for name, res := range cases {
		t.Run(name, func(t *testing.T) {
			ours := ketesaBundleJSON(t, res, strings.TrimPrefix(res.Config.Host.DataDir, "/")+"/ketesa/config/config.json")
			if len(ours) == 0 {
				t.Fatal("config.json is empty")
			}
			for key, value := range ours {
				compareKetesaKey(t, key, value, example[key])
			}
			checkRestrictedToRoutedAdminAPI(t, res.Plan, ours["restrictBaseUrl"])
		})
	}
	managed := ketesaBundleJSON(t, cases["bridges-under-a-path"], "matrix/ketesa/config/config.json")["asManagedUsers"]
	if users, _ := managed.([]any); len(users) != 4 {
		t.Errorf("asManagedUsers %v: want the bot and the ghosts of both bridges", managed)
	}
}

func compareKetesaKey(t *testing.T, key string, ours, example any) {
	t.Helper()
	kinds, documented := ketesaDocumentedKeys[key]
	if !documented {
		t.Errorf("%s: Ketesa reads no such key", key)
		return
	}
	if !slices.Contains(kinds, ketesaJSONKind(ours)) {
		t.Errorf("%s: %s, Ketesa takes %v", key, ketesaJSONKind(ours), kinds)
	}
	ourList, ok1 := ours.([]any)
	exampleList, ok2 := example.([]any)
	if !ok1 || !ok2 || len(exampleList) == 0 {
		return
	}
	for i, v := range ourList {
		if got, want := ketesaJSONKind(v), ketesaJSONKind(exampleList[0]); got != want {
			t.Errorf("%s.%d: %s, the example's elements are %s", key, i, got, want)
		}
		if m, ok := v.(map[string]any); ok {
			for k := range m {
				if _, ok := exampleList[0].(map[string]any)[k]; !ok && k != "i18n" {
					t.Errorf("%s.%d.%s: not a key of the example's %s", key, i, k, key)
				}
			}
		}
	}
}

// checkRestrictedToRoutedAdminAPI: Ketesa logs in only to the
// restrictBaseUrl homeservers, so each must be one the bundle serves the
// admin API of, or Ketesa can log in nowhere.
func checkRestrictedToRoutedAdminAPI(t *testing.T, p *plan.Plan, restrict any) {
	t.Helper()
	var urls []any
	switch v := restrict.(type) {
	case string:
		urls = []any{v}
	case []any:
		urls = v
	}
	if len(urls) == 0 {
		t.Fatalf("restrictBaseUrl %v: Ketesa would log in to any homeserver", restrict)
	}
	for _, raw := range urls {
		u, err := url.Parse(raw.(string))
		if err != nil || u.Scheme != "https" || (u.Path != "" && u.Path != "/") {
			t.Errorf("restrictBaseUrl %v is not an https:// homeserver base URL", raw)
			continue
		}
		if !slices.ContainsFunc(p.Routes, func(r plan.Route) bool {
			return r.Host == u.Host && r.PathPrefix == "/_synapse/admin" && r.Entrypoint == plan.EntrypointClient
		}) {
			t.Errorf("restrictBaseUrl %s: the bundle routes no admin API there", raw)
		}
	}
}

func ketesaJSONKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "unknown"
}

func ketesaReadJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

func ketesaBundleJSON(t *testing.T, res *Result, path string) map[string]any {
	t.Helper()
	e, ok := res.Tree[path]
	if !ok {
		t.Fatalf("no %s in the bundle", path)
	}
	var out map[string]any
	if err := json.Unmarshal(e.Data, &out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

func ketesaRun(t *testing.T, src string) *Result {
	t.Helper()
	res, problems := Run("ketesa.yaml", []byte(src))
	if len(problems) > 0 {
		var b strings.Builder
		diag.Print(&b, problems, "")
		t.Fatalf("config does not build:\n%s", b.String())
	}
	return res
}
