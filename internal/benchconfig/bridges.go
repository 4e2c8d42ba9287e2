package benchconfig

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/reserved"
)

// onePerServer tells whether a bridge type serves a fixed public path, so
// that a server runs at most one instance of it.
func onePerServer(bridgeType string) bool { return reserved.BridgePublicPath(bridgeType) != "" }

// ownedOptions are the options each generated instance sets itself, so
// that no two instances claim one appservice, user, database or port, or
// leaves at their defaults: permissions name the template's users, whom a
// base such as examples/full.yaml (example.com) would take for the
// placeholders bridges refuse.
var ownedOptions = []string{"enabled", "appservice_id", "bot_username", "username_prefix", "database_name", "host_port", "permissions"}

// Bridges returns cfg (a YAML config) with n bridge instances added, dealt
// out over the bridge types in turn. Each instance copies the options of
// the first enabled entry of its type in templates (a YAML config such as
// examples/bridges.yaml), and takes an appservice ID of its own, from which
// its bot, users and database follow.
func Bridges(cfg, templates []byte, n int) ([]byte, error) {
	var doc, tmpl map[string]any
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(templates, &tmpl); err != nil {
		return nil, err
	}
	if doc == nil {
		doc = map[string]any{}
	}
	byType := bridgeTemplates(tmpl)
	domain, _ := doc["domain"].(string)
	from, _ := tmpl["domain"].(string)
	rehome := func(s string) string { return rehomed(s, from, domain) }
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	bridges := mapping(doc, "bridges")
	added := 0
	for round := 0; added < n; round++ {
		before := added
		for _, t := range types {
			if added == n || round > 0 && onePerServer(t) {
				continue
			}
			added++
			bridges[fmt.Sprintf("bench-%d", added)] = instance(byType[t], added, rehome)
		}
		if added == before {
			return nil, fmt.Errorf("%d bridges: the templates have no type that runs more than once", n)
		}
	}
	return yaml.Marshal(doc)
}

// bridgeTemplates are the first enabled entry of each type, by name order.
func bridgeTemplates(tmpl map[string]any) map[string]map[string]any {
	entries, _ := tmpl["bridges"].(map[string]any)
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)
	out := map[string]map[string]any{}
	for _, name := range names {
		e, _ := entries[name].(map[string]any)
		t, _ := e["type"].(string)
		if enabled, set := e["enabled"].(bool); t == "" || set && !enabled || out[t] != nil {
			continue
		}
		out[t] = e
	}
	return out
}

// instance copies template with the users and servers it names moved to
// the config's own server: bridges accept only local owners and admins.
func instance(template map[string]any, i int, rehome func(string) string) map[string]any {
	out := rewriteStrings(template, rehome).(map[string]any)
	for _, k := range ownedOptions {
		delete(out, k)
	}
	if !onePerServer(template["type"].(string)) {
		out["appservice_id"] = fmt.Sprintf("bench%d", i)
	}
	return out
}

// rewriteStrings copies v with every string, keys included, passed
// through f.
func rewriteStrings(v any, f func(string) string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[f(k)] = rewriteStrings(x, f)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = rewriteStrings(x, f)
		}
		return out
	case string:
		return f(v)
	}
	return v
}

// rehomed is s with the server name from (alone, or ending a user ID)
// replaced by to.
func rehomed(s, from, to string) string {
	if from == "" || to == "" {
		return s
	}
	if s == from {
		return to
	}
	if rest, ok := strings.CutSuffix(s, ":"+from); ok && strings.HasPrefix(s, "@") {
		return rest + ":" + to
	}
	return s
}
