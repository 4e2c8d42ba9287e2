package config

// Bots are the bots by instance name.
type Bots map[string]Bot

// Bot is one entry of bots: the options every bot type has, which the
// checks that span bridges and bots read, and all of the entry's options
// for the component of its type.
type Bot struct {
	Type         string         `json:"type"`
	Enabled      bool           `json:"enabled"`
	Image        string         `json:"image"`
	DatabaseName string         `json:"database_name,omitempty"` // "" for a bot without a database
	HostPort     int            `json:"host_port,omitempty"`     // 0 for a bot that publishes nothing
	Extra        map[string]any `json:"extra"`
	Options      Options        `json:"-"`
}

// Names lists the instance names in order.
func (bs Bots) Names() []string { return sortedNames(bs) }

// Enabled lists the names of the bots that run, in order.
func (bs Bots) Enabled() []string {
	return enabledNames(bs, func(b Bot) bool { return b.Enabled })
}

// DecodeOptions fills v, a struct with json tags, from the entry's options.
func (b Bot) DecodeOptions(v any) { b.Options.decode("bot type "+b.Type, v) }
