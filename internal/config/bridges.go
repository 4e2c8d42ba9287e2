package config

import (
	"encoding/json"
	"sort"
)

// Bridges are the bridges by instance name.
type Bridges map[string]Bridge

// Bridge is one entry of bridges: the options every bridge type has, which
// the cross-option checks and the appservice plumbing read, and all of the
// entry's options for the component of its type.
type Bridge struct {
	Type           string         `json:"type"`
	Enabled        bool           `json:"enabled"`
	Image          string         `json:"image"`
	AppserviceID   string         `json:"appservice_id"`
	BotUsername    string         `json:"bot_username"`
	UsernamePrefix string         `json:"username_prefix"`
	DatabaseName   string         `json:"database_name,omitempty"` // "" for a bridge without a database
	HostPort       int            `json:"host_port,omitempty"`     // 0 for a bridge that publishes nothing
	Extra          map[string]any `json:"extra"`
	// Options are all of the entry's options, defaults applied, as the
	// schema of its type has them.
	Options Options `json:"-"`
}

// Names lists the instance names in order, so that everything made from
// them comes out in one order.
func (bs Bridges) Names() []string { return sortedNames(bs) }

// Enabled lists the names of the bridges that run, in order.
func (bs Bridges) Enabled() []string {
	return enabledNames(bs, func(b Bridge) bool { return b.Enabled })
}

// DecodeOptions fills v, a struct with json tags, from the entry's options.
func (b Bridge) DecodeOptions(v any) { b.Options.decode("bridge type "+b.Type, v) }

// Options are all of the options of a variant map's entry (bridges, bots),
// defaults applied, for the component of its type to read.
type Options map[string]any

// decode fills v from the options. The schema has checked them, so a
// failure is a disagreement between v and the schema of what: a bug.
func (o Options) decode(what string, v any) {
	data, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		panic("options and the schema of " + what + " disagree: " + err.Error())
	}
}

// sortedNames lists a variant map's instance names in order.
func sortedNames[E any](entries map[string]E) []string {
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// enabledNames lists the names of the entries that run, in order.
func enabledNames[E any](entries map[string]E, enabled func(E) bool) []string {
	var out []string
	for _, n := range sortedNames(entries) {
		if enabled(entries[n]) {
			out = append(out, n)
		}
	}
	return out
}
