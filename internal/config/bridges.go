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
	Options map[string]any `json:"-"`
}

// Names lists the instance names in order, so that everything made from
// them comes out in one order.
func (bs Bridges) Names() []string {
	names := make([]string, 0, len(bs))
	for n := range bs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Enabled lists the names of the bridges that run, in order.
func (bs Bridges) Enabled() []string {
	var out []string
	for _, n := range bs.Names() {
		if bs[n].Enabled {
			out = append(out, n)
		}
	}
	return out
}

// DecodeOptions fills v, a struct with json tags, from the entry's options.
// The schema has checked them, so a failure is a disagreement between v and
// the schema: a bug.
func (b Bridge) DecodeOptions(v any) {
	data, err := json.Marshal(b.Options)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		panic("bridge options and the schema of " + b.Type + " disagree: " + err.Error())
	}
}
