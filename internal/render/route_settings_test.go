package render

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// TestRouteSettingsDeclared: every proxy's renderer declares what it does
// with every route setting, and each setting it declares written changes
// its files. A new field of plan.RouteSettings fails here until every
// renderer carries it out.
func TestRouteSettingsDeclared(t *testing.T) {
	fields := routeSettingFields()
	for _, proxy := range slices.Sorted(maps.Keys(routeSettingUses)) {
		uses := routeSettingUses[proxy]
		for _, field := range fields {
			t.Run(proxy+"/"+field, func(t *testing.T) {
				switch uses[field] {
				case 0:
					t.Errorf("the %s renderer does not say what it does with %s", proxy, field)
				case written:
					before, after := proxyFiles(t, proxy, plan.RouteSettings{}), proxyFiles(t, proxy, sampleSettings(t, field))
					if before == after {
						t.Errorf("%s is declared written, but setting it does not change the %s files", field, proxy)
					}
				}
			})
		}
	}
}

// TestRenderRefusesUndeclaredSetting: a setting a renderer does not carry
// out fails the build instead of vanishing from the proxy's config.
func TestRenderRefusesUndeclaredSetting(t *testing.T) {
	p := settingsPlan(t, "traefik")
	routeOf(t, p).Settings = sampleSettings(t, "MaxBodyBytes")
	uses := maps.Clone(routeSettingUses["traefik"])
	delete(uses, "MaxBodyBytes")
	err := checkRouteSettings(p, uses)
	if err == nil || !strings.Contains(err.Error(), "MaxBodyBytes") {
		t.Errorf("got %v, want a refusal naming MaxBodyBytes", err)
	}
	if err := checkRouteSettings(p, routeSettingUses["traefik"]); err != nil {
		t.Errorf("declared settings: %v", err)
	}
}

func routeSettingFields() []string {
	typ := reflect.TypeFor[plan.RouteSettings]()
	var names []string
	for i := range typ.NumField() {
		names = append(names, typ.Field(i).Name)
	}
	return names
}

// sampleSettings sets one field of RouteSettings to a value no route of
// the test plan has.
func sampleSettings(t *testing.T, field string) plan.RouteSettings {
	t.Helper()
	var s plan.RouteSettings
	f := reflect.ValueOf(&s).Elem().FieldByName(field)
	switch v := f.Addr().Interface().(type) {
	case *int64:
		*v = 12345
	case *bool:
		*v = true
	case *[]string:
		*v = []string{"192.0.2.0/24"}
	case *[]plan.EnvVar:
		*v = []plan.EnvVar{{Name: "X-Matrixgen-Test", Value: "1"}}
	default:
		t.Fatalf("no sample value for %s (%s): add one here", field, f.Type())
	}
	return s
}

// TestTooLargeOnlyWithBodyLimit: every proxy answers an upload over a
// route's limit with the plan's Matrix error, and a config whose routes
// set no limit holds no such answer.
func TestTooLargeOnlyWithBodyLimit(t *testing.T) {
	for _, proxy := range slices.Sorted(maps.Keys(routeSettingUses)) {
		t.Run(proxy, func(t *testing.T) {
			p := settingsPlan(t, proxy)
			if !strings.Contains(p.Proxy.TooLarge.Body, `"errcode":"M_TOO_LARGE"`) {
				t.Fatalf("the plan's answer is %q, want M_TOO_LARGE", p.Proxy.TooLarge.Body)
			}
			// Traefik fetches the answer from a file: its config names the file.
			marker := "M_TOO_LARGE"
			if proxy == "traefik" {
				marker = p.Proxy.TooLarge.Path
			}
			if !strings.Contains(renderProxyFiles(t, p), marker) {
				t.Errorf("routes with a body limit, but no %q in the %s config", marker, proxy)
			}
			for i := range p.Routes {
				p.Routes[i].Settings.MaxBodyBytes = 0
			}
			if strings.Contains(renderProxyFiles(t, p), marker) {
				t.Errorf("no route has a body limit, yet the %s config holds %q", proxy, marker)
			}
		})
	}
}

// proxyFiles renders a plan for proxy with settings on the main Synapse
// client route, and returns every file of the proxy's config.
func proxyFiles(t *testing.T, proxy string, settings plan.RouteSettings) string {
	t.Helper()
	p := settingsPlan(t, proxy)
	routeOf(t, p).Settings = settings
	return renderProxyFiles(t, p)
}

// renderProxyFiles returns every file of p's proxy config.
func renderProxyFiles(t *testing.T, p *plan.Plan) string {
	t.Helper()
	tree, err := Render(p)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var b bytes.Buffer
	for _, path := range tree.Paths() {
		if strings.HasPrefix(path, "proxy/") || strings.HasSuffix(path, "/matrixgen.yml") {
			b.WriteString(path + "\n")
			b.Write(tree[path].Data)
		}
	}
	if b.Len() == 0 {
		t.Fatalf("no %s files in the bundle", p.Proxy.Type)
	}
	return b.String()
}

// settingsPlan compiles a small config for proxy.
func settingsPlan(t *testing.T, proxy string) *plan.Plan {
	t.Helper()
	config := "domain: example.org\nreverse_proxy: {type: " + proxy + "}\ntraefik: {acme_email: admin@example.org}\n"
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

// routeOf is the route of the main Synapse process's client API.
func routeOf(t *testing.T, p *plan.Plan) *plan.Route {
	t.Helper()
	for i, r := range p.Routes {
		if r.Entrypoint == plan.EntrypointClient && r.PathPrefix == "/_matrix" {
			return &p.Routes[i]
		}
	}
	t.Fatal("no client route for /_matrix")
	return nil
}
