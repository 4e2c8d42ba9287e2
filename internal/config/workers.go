package config

// Workers mirrors synapse.workers. A nil count was left unset and takes
// the preset's number; Counts resolves them.
type Workers struct {
	Preset           string        `json:"preset"`
	Generic          *int          `json:"generic,omitempty"`
	Room             *int          `json:"room,omitempty"`
	Sync             *int          `json:"sync,omitempty"`
	ClientReader     *int          `json:"client_reader,omitempty"`
	FederationReader *int          `json:"federation_reader,omitempty"`
	FederationSender *int          `json:"federation_sender,omitempty"`
	Pusher           *int          `json:"pusher,omitempty"`
	MediaRepository  *int          `json:"media_repository,omitempty"`
	Appservice       *int          `json:"appservice,omitempty"`
	UserDir          *int          `json:"user_dir,omitempty"`
	Background       *int          `json:"background,omitempty"`
	StreamWriters    StreamWriters `json:"stream_writers"`
}

type StreamWriters struct {
	Events                  *int `json:"events,omitempty"`
	Typing                  *int `json:"typing,omitempty"`
	ToDevice                *int `json:"to_device,omitempty"`
	AccountData             *int `json:"account_data,omitempty"`
	Receipts                *int `json:"receipts,omitempty"`
	Presence                *int `json:"presence,omitempty"`
	PushRules               *int `json:"push_rules,omitempty"`
	DeviceLists             *int `json:"device_lists,omitempty"`
	ThreadSubscriptions     *int `json:"thread_subscriptions,omitempty"`
	QuarantinedMediaChanges *int `json:"quarantined_media_changes,omitempty"`
}

// Streams are Synapse's stream names a writer can be configured for, in
// the order of its worker documentation.
var Streams = []string{
	"events", "typing", "to_device", "account_data", "receipts", "presence",
	"push_rules", "device_lists", "thread_subscriptions", "quarantined_media_changes",
}

func (s *StreamWriters) byName() map[string]*int {
	return map[string]*int{
		"events": s.Events, "typing": s.Typing, "to_device": s.ToDevice, "account_data": s.AccountData,
		"receipts": s.Receipts, "presence": s.Presence, "push_rules": s.PushRules,
		"device_lists": s.DeviceLists, "thread_subscriptions": s.ThreadSubscriptions,
		"quarantined_media_changes": s.QuarantinedMediaChanges,
	}
}

// WorkerCounts is how many workers of each kind run, the preset applied.
type WorkerCounts struct {
	Generic, Room, Sync, ClientReader, FederationReader int
	FederationSender, Pusher, MediaRepository           int
	Appservice, UserDir, Background                     int
	// StreamWriters counts the writers of each stream, by stream name.
	StreamWriters map[string]int
}

// Total is the number of worker processes.
func (c WorkerCounts) Total() int {
	n := c.Generic + c.Room + c.Sync + c.ClientReader + c.FederationReader +
		c.FederationSender + c.Pusher + c.MediaRepository + c.Appservice + c.UserDir + c.Background
	for _, w := range c.StreamWriters {
		n += w
	}
	return n
}

// WorkerCounts resolves synapse.workers: the preset's numbers, each
// replaced by the count the config sets. The presets follow
// matrix-docker-ansible-deploy's; they leave out the presence writer while
// presence is off, and the federation workers while federation is off,
// since those would have nothing to do.
func (cfg *Config) WorkerCounts() WorkerCounts {
	w, hs := cfg.Synapse.Workers, cfg.Homeserver
	c := WorkerCounts{StreamWriters: map[string]int{}}
	switch w.Preset {
	case "little-federation-helper":
		c.FederationSender = 1
	case "one-of-each", "specialized-workers":
		if w.Preset == "one-of-each" {
			c.Generic = 1
		} else {
			c.Room, c.Sync, c.ClientReader, c.FederationReader = 1, 1, 1, 1
		}
		c.FederationSender, c.Pusher, c.MediaRepository = 1, 1, 1
		c.Appservice, c.UserDir, c.Background = 1, 1, 1
		for _, stream := range Streams {
			if stream != "presence" || hs.Presence {
				c.StreamWriters[stream] = 1
			}
		}
	}
	if !hs.Federation.Enabled {
		c.FederationSender, c.FederationReader = 0, 0
	}
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Generic, w.Generic)
	set(&c.Room, w.Room)
	set(&c.Sync, w.Sync)
	set(&c.ClientReader, w.ClientReader)
	set(&c.FederationReader, w.FederationReader)
	set(&c.FederationSender, w.FederationSender)
	set(&c.Pusher, w.Pusher)
	set(&c.MediaRepository, w.MediaRepository)
	set(&c.Appservice, w.Appservice)
	set(&c.UserDir, w.UserDir)
	set(&c.Background, w.Background)
	for stream, v := range w.StreamWriters.byName() {
		if v != nil {
			c.StreamWriters[stream] = *v
		}
	}
	for stream, n := range c.StreamWriters {
		if n == 0 {
			delete(c.StreamWriters, stream)
		}
	}
	return c
}
