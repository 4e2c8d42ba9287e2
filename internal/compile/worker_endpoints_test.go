package compile

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// sharedRoutes reads a table of ../shared/routes beside the repository,
// without its header; it skips the test when the checkout is not there.
func sharedRoutes(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "routes", name))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("../shared/routes not found beside the repository: %v", err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		if !first {
			rows = append(rows, strings.Split(sc.Text(), "\t"))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestEndpointTableIsTheDocumentation: the Go table holds exactly the
// rows of synapse-worker-endpoints.tsv, in order, with the same group,
// pattern and form, and GET-only groups are never routed to a pool.
func TestEndpointTableIsTheDocumentation(t *testing.T) {
	rows := sharedRoutes(t, "synapse-worker-endpoints.tsv")
	if len(rows) != len(synapseEndpoints) {
		t.Fatalf("%d documented patterns, %d in the table", len(rows), len(synapseEndpoints))
	}
	for i, row := range rows {
		e := synapseEndpoints[i]
		if e.group.name != row[0] || e.regex != row[2] || e.prefix != (row[4] == "prefix") {
			t.Errorf("row %d: the documentation has %q %s (%s), the table %q %s (prefix %v)", i+2, row[0], row[2], row[4], e.group.name, e.regex, e.prefix)
		}
		if row[1] == "GET" && e.group.serve != serveMain && e.group.serve != serveWriter {
			t.Errorf("row %d: %s is for GET only, but routed by path", i+2, e.regex)
		}
	}
}

// TestEndpointPatterns: every pattern compiles as the proxies will read
// it, starts with a literal Synapse path, and an anchored pattern matches
// exactly the requests the documented one does, except the ones the
// documentation's pattern matches by accident.
func TestEndpointPatterns(t *testing.T) {
	vectors := append(sharedRoutes(t, "route-vectors.tsv"),
		// Requests the vectors lack, for patterns they do not exercise.
		[]string{"POST", "/_matrix/client/v3/rooms/!r:example.org/receipt/m.read/$e", "receipts stream writer", "", "unique"},
		[]string{"POST", "/_matrix/client/r0/rooms/%21r%3Aexample.org/receipt/m.read.private/%24e", "receipts stream writer", "", "unique"},
	)
	for _, e := range synapseEndpoints {
		doc := regexp.MustCompile(e.regex)
		routed := regexp.MustCompile(e.routed())
		if lit := plan.RegexPrefix(e.routed()); !strings.HasPrefix(lit, "/_") {
			t.Errorf("%s: literal prefix %q", e.routed(), lit)
		}
		if e.anchored == "" {
			continue
		}
		hits := 0
		for _, v := range vectors {
			path := strings.SplitN(v[1], "?", 2)[0]
			d, r := doc.MatchString(path), routed.MatchString(path)
			accidental := v[4] == "AMBIGUOUS-accidental" && v[2] != e.group.name
			switch {
			case r && !d:
				t.Errorf("%s matches %s, which the documented %s does not", e.anchored, path, e.regex)
			case d && !r && !accidental:
				t.Errorf("%s misses %s, which the documented %s matches", e.anchored, path, e.regex)
			case d && r:
				hits++
			}
		}
		if hits == 0 {
			t.Errorf("%s: no request vector exercises it", e.anchored)
		}
	}
}

func TestRegexPrefix(t *testing.T) {
	for re, want := range map[string]string{
		`^/_matrix/client/(r0|v3)/sync$`:                           "/_matrix/client/",
		`^/_matrix/federation/v1/version$`:                         "/_matrix/federation/v1/version",
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/typing`: "/_matrix/client/",
		`^/_synapse/admin/v1/media/.*$`:                            "/_synapse/admin/v1/media/",
		`^/_matrix/key/v2/query`:                                   "/_matrix/key/v2/query",
		`^/a/b?`:                                                   "/a/",
		`^/a|^/b`:                                                  "",
		`/_matrix`:                                                 "",
	} {
		if got := plan.RegexPrefix(re); got != want {
			t.Errorf("RegexPrefix(%q) = %q, want %q", re, got, want)
		}
	}
}

func TestRegexCanMatchUnder(t *testing.T) {
	for _, tc := range []struct {
		re, prefix string
		want       bool
	}{
		{`^/_matrix/client/(r0|v3)/sync$`, "/_matrix", true},
		{`^/_matrix/client/(r0|v3)/sync$`, "/_matrix/client/v3/sync", true},
		{`^/_matrix/client/(r0|v3)/sync$`, "/_matrix/client/v3/sync/x", false},
		{`^/_matrix/client/(r0|v3)/sync$`, "/_matrix/client/v1/media", false},
		{`^/_matrix/client/(r0|v3)/sync$`, "/_matrix/federation", false},
		{`^/_matrix/client/(r0|v3|unstable)/.*/account_data`, "/_matrix/client/v1/media", false},
		{`^/_matrix/client/(r0|v3|unstable)/.*/account_data`, "/_matrix/client/unstable/x", true},
		{`^/_synapse/admin/v1/quarantine_media/.*$`, "/_synapse/admin", true},
		{`^/_synapse/admin/v1/quarantine_media/.*$`, "/_matrix", false},
		{`^/_matrix/media/`, "/_matrix/media/v3/download", true},
		{`^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`, "/_matrix/client/v3/devices", true},
		{`^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`, "/_matrix/client/v3/devicesx", false},
	} {
		if got := plan.RegexCanMatchUnder(tc.re, tc.prefix); got != tc.want {
			t.Errorf("RegexCanMatchUnder(%q, %q) = %v, want %v", tc.re, tc.prefix, got, tc.want)
		}
	}
}
