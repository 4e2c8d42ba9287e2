package render

import (
	"regexp"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/validate"
)

const maubotPrefix = "/_matrix/maubot"

// webSocketPlan compiles a config for proxy, with maubot, whose route
// carries WebSockets, when withMaubot is set.
func webSocketPlan(t *testing.T, proxy string, withMaubot bool) *plan.Plan {
	t.Helper()
	config := "domain: example.org\nreverse_proxy: {type: " + proxy + "}\n"
	if withMaubot {
		config += "bots:\n  maubot:\n    type: maubot\n"
	}
	cfg, problems := validate.Load("test.yaml", []byte(config))
	if len(problems) > 0 {
		t.Fatalf("invalid: %v", problems)
	}
	p, problems := compile.Compile(cfg)
	if len(problems) > 0 {
		t.Fatalf("does not compile: %v", problems)
	}
	return p
}

func renderedFile(t *testing.T, p *plan.Plan, path string) string {
	t.Helper()
	tree, err := Render(p)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	e, ok := tree[path]
	if !ok {
		t.Fatalf("no %s", path)
	}
	return string(e.Data)
}

// nginxPrefixLocation is the body of the location block of prefix.
func nginxPrefixLocation(t *testing.T, conf, prefix string) string {
	t.Helper()
	_, rest, ok := strings.Cut(conf, "    location ^~ "+prefix+" {\n")
	if !ok {
		t.Fatalf("no location for %s in\n%s", prefix, conf)
	}
	body, _, ok := strings.Cut(rest, "\n    }\n")
	if !ok {
		t.Fatalf("location %s does not end", prefix)
	}
	return "\n" + body + "\n"
}

var nginxWebSocketLines = []string{
	"proxy_set_header Upgrade $http_upgrade;",
	"proxy_set_header Connection $matrixgen_connection_upgrade;",
	"proxy_read_timeout 1h;",
}

// TestNginxWebSocket: the map is declared once, at the top level of
// matrix.conf (nginx's http block), however many routes need it, and
// only then; only the locations of those routes pass upgrades.
func TestNginxWebSocket(t *testing.T) {
	const conf = "proxy/nginx/matrix.conf"
	mapLine := regexp.MustCompile(`(?m)^map \$http_upgrade \$matrixgen_connection_upgrade \{\n    default upgrade;\n    '' close;\n\}\n`)

	plain := renderedFile(t, webSocketPlan(t, "nginx", false), conf)
	if strings.Contains(plain, "$http_upgrade") || strings.Contains(plain, "proxy_read_timeout") {
		t.Errorf("without WebSocket routes matrix.conf mentions upgrades:\n%s", plain)
	}

	p := webSocketPlan(t, "nginx", true)
	for i, r := range p.Routes {
		if r.PathPrefix == "/" { // Element's: a second route that needs the map
			p.Routes[i].Settings.WebSocket = true
		}
	}
	text := renderedFile(t, p, conf)
	if n := len(mapLine.FindAllString(text, -1)); n != 1 || len(regexp.MustCompile(`(?m)^\s*map `).FindAllString(text, -1)) != 1 {
		t.Errorf("%d top-level maps for the Connection header, want 1:\n%s", n, text)
	}
	for _, prefix := range []string{maubotPrefix, "/"} {
		body := nginxPrefixLocation(t, text, prefix)
		for _, line := range nginxWebSocketLines {
			if !strings.Contains(body, "\n        "+line+"\n") { // the location's own, not a nested one's
				t.Errorf("location %s lacks %q:\n%s", prefix, line, body)
			}
		}
	}
	for _, prefix := range []string{"/_matrix", "/_synapse/client", "/.well-known/matrix"} {
		if body := nginxPrefixLocation(t, text, prefix); strings.Contains(body, "Upgrade") || strings.Contains(body, "proxy_read_timeout") {
			t.Errorf("location %s, which carries no WebSockets, passes upgrades:\n%s", prefix, body)
		}
	}
}

// TestNginxRefusesWebSocketSnippet: the base domain's snippet goes in a
// server block, where no map can be declared.
func TestNginxRefusesWebSocketSnippet(t *testing.T) {
	p := webSocketPlan(t, "nginx", false)
	marked := false
	for i, r := range p.Routes {
		if r.PathPrefix == wellKnownPrefix {
			p.Routes[i].Settings.WebSocket = true
			marked = true
		}
	}
	if !marked {
		t.Fatal("no well-known route")
	}
	if _, err := Render(p); err == nil || !strings.Contains(err.Error(), "snippet cannot pass") {
		t.Fatalf("render: %v; want the snippet refused", err)
	}
}

// TestApacheWebSocket: only the ProxyPass of a route that carries
// WebSockets gets upgrade= and timeout=, the header explains them, and
// the modules to enable stay the same, mod_proxy_http being the one that
// tunnels.
func TestApacheWebSocket(t *testing.T) {
	const conf = "proxy/apache/matrix.conf"
	a2enmod := regexp.MustCompile(`(?m)^#\s+a2enmod .*$`)
	plain := renderedFile(t, webSocketPlan(t, "apache", false), conf)
	text := renderedFile(t, webSocketPlan(t, "apache", true), conf)
	if strings.Contains(plain, "upgrade=") || strings.Contains(plain, "timeout=") {
		t.Errorf("without WebSocket routes matrix.conf has upgrade= or timeout=:\n%s", plain)
	}
	if got, want := a2enmod.FindString(text), a2enmod.FindString(plain); got != want || want == "" {
		t.Errorf("modules with a WebSocket route: %q, without: %q", got, want)
	}
	if !strings.Contains(text, "# upgrade=websocket: httpd 2.4.47 and later") {
		t.Error("the header does not explain upgrade=websocket")
	}
	passes := regexp.MustCompile(`(?m)^\s*ProxyPass(Match)? \S+ .*$`).FindAllString(text, -1)
	if len(passes) == 0 {
		t.Fatal("no ProxyPass lines")
	}
	for _, line := range passes {
		line = strings.TrimSpace(line)
		isMaubot := strings.HasPrefix(line, "ProxyPass "+maubotPrefix+" ")
		if got := strings.HasSuffix(line, " nocanon retry=0 upgrade=websocket timeout=3600"); got != isMaubot {
			t.Errorf("%s: WebSocket parameters %v, want %v", line, got, isMaubot)
		}
	}
}

// TestApacheWebSocketSnippet: the base domain's snippet proxies with a
// ProxyPass of its own, which takes the parameters like any other.
func TestApacheWebSocketSnippet(t *testing.T) {
	const snippet = "proxy/apache/base-domain-well-known.conf"
	p := webSocketPlan(t, "apache", false)
	if text := renderedFile(t, p, snippet); strings.Contains(text, "upgrade=") {
		t.Errorf("snippet of a route without WebSockets:\n%s", text)
	}
	for i, r := range p.Routes {
		if r.PathPrefix == wellKnownPrefix {
			p.Routes[i].Settings.WebSocket = true
		}
	}
	text := renderedFile(t, p, snippet)
	if !regexp.MustCompile(`(?m)^    ProxyPass \S+ retry=0 upgrade=websocket timeout=3600$`).MatchString(text) {
		t.Errorf("snippet of a route carrying WebSockets:\n%s", text)
	}
}
