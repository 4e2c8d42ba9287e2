package render

import (
	"fmt"
	"reflect"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// settingUse says how a proxy's renderer carries out one field of
// plan.RouteSettings.
type settingUse int

const (
	// written: the renderer puts it into the proxy's config.
	written settingUse = iota + 1
	// inherent: the proxy does it on every route without being told.
	inherent
)

// routeSettingUses declares, per proxy, every route setting its renderer
// carries out. A setting missing from a proxy's list would vanish from
// its config: Render refuses a route that sets it, and
// TestRouteSettingsDeclared fails on the missing field, and on a written
// one whose value does not change the proxy's files.
var routeSettingUses = map[string]map[string]settingUse{
	"traefik": {"MaxBodyBytes": written, "Headers": written, "CORS": written, "AllowIPs": written, "WebSocket": inherent},
	"nginx":   {"MaxBodyBytes": written, "Headers": written, "CORS": written, "AllowIPs": written, "WebSocket": written},
	"caddy":   {"MaxBodyBytes": written, "Headers": written, "CORS": written, "AllowIPs": written, "WebSocket": inherent},
	"apache":  {"MaxBodyBytes": written, "Headers": written, "CORS": written, "AllowIPs": written, "WebSocket": written},
}

// checkRouteSettings refuses a route whose settings the proxy's renderer
// would drop.
func checkRouteSettings(p *plan.Plan, uses map[string]settingUse) error {
	for _, r := range p.Routes {
		for _, name := range setRouteSettings(r.Settings) {
			if uses[name] == 0 {
				return fmt.Errorf("route %s sets %s, which the %s renderer cannot carry out", r.Name, name, p.Proxy.Type)
			}
		}
	}
	return nil
}

// setRouteSettings names the fields of s that are not their zero value.
func setRouteSettings(s plan.RouteSettings) []string {
	v := reflect.ValueOf(s)
	var names []string
	for i := range v.NumField() {
		if !v.Field(i).IsZero() {
			names = append(names, v.Type().Field(i).Name)
		}
	}
	return names
}

// hasBodyLimit tells whether a route sets an upload limit, which the
// proxy then answers with the plan's TooLarge.
func hasBodyLimit(routes []plan.Route) bool {
	for _, r := range routes {
		if r.Settings.MaxBodyBytes > 0 {
			return true
		}
	}
	return false
}
