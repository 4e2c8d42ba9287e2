package plan

import "testing"

// TestServedRoutesWhere: the text that names a route's claim, which
// checkPlan keys conflicts on and the webservers' route tables print.
func TestServedRoutesWhere(t *testing.T) {
	p := Plan{
		Entrypoints: []Entrypoint{
			{Name: EntrypointClient, HostPort: 443, TLS: true},
			{Name: EntrypointInternal, ProxyPort: 8008},
		},
		Routes: []Route{
			{Name: "prefix", Host: "hs.example.org", PathPrefix: "/_matrix", Entrypoint: EntrypointClient},
			{Name: "regex", Host: "hs.example.org", PathRegex: "^/_matrix/client/.*/sync$", Entrypoint: EntrypointClient},
			{Name: "internal", PathPrefix: "/", Entrypoint: EntrypointInternal},
		},
	}
	want := []struct {
		where, kind string
		port        int
	}{
		{"hs.example.org:443/_matrix", "prefix", 443},
		{"hs.example.org:443 ~ ^/_matrix/client/.*/sync$", "regex", 443},
		{":8008/", "prefix", 8008},
	}
	got := p.ServedRoutes()
	if len(got) != len(want) {
		t.Fatalf("ServedRoutes() = %d routes, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if r.Where() != w.where || r.Match().Kind() != w.kind || r.ListenPort != w.port {
			t.Errorf("route %s: Where() = %q, kind %q, port %d; want %q, %q, %d",
				r.Name, r.Where(), r.Match().Kind(), r.ListenPort, w.where, w.kind, w.port)
		}
	}
}
