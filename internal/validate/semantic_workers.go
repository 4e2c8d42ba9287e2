package validate

import (
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// singleWorkers: Synapse names the process of these jobs with one worker
// name, or takes exactly one writer for the stream, and refuses to start
// otherwise.
func singleWorkers(c *config.Config, ix *index) diag.List {
	w := c.Synapse.Workers
	var out diag.List
	one := func(v *int, path, why string) {
		if v != nil && *v > 1 {
			out = append(out, problem(ix, path, "at most 1: %s", why)...)
		}
	}
	one(w.Appservice, "synapse.workers.appservice", "Synapse sends to application services from one process (notify_appservices_from_worker names a single worker)")
	one(w.UserDir, "synapse.workers.user_dir", "Synapse updates the user directory from one process (update_user_directory_from_worker names a single worker)")
	one(w.Background, "synapse.workers.background", "Synapse runs background tasks on one process (run_background_tasks_on names a single worker)")
	sw := w.StreamWriters
	for _, s := range []struct {
		stream string
		v      *int
	}{
		{"typing", sw.Typing}, {"to_device", sw.ToDevice}, {"account_data", sw.AccountData},
		{"receipts", sw.Receipts}, {"presence", sw.Presence}, {"push_rules", sw.PushRules},
		{"device_lists", sw.DeviceLists}, {"thread_subscriptions", sw.ThreadSubscriptions},
		{"quarantined_media_changes", sw.QuarantinedMediaChanges},
	} {
		one(s.v, "synapse.workers.stream_writers."+s.stream,
			"only the events stream can be shared between several writers; every other stream must have exactly one writer")
	}
	return out
}

// presenceWriterNeedsPresence: with presence off nothing is written to
// the presence stream, and a writer for it would be a process that does
// nothing. The presets leave it out by themselves.
func presenceWriterNeedsPresence(c *config.Config, ix *index) diag.List {
	if v := c.Synapse.Workers.StreamWriters.Presence; v != nil && *v > 0 && !c.Homeserver.Presence {
		return problem(ix, "synapse.workers.stream_writers.presence",
			"a presence writer needs presence: homeserver.presence is false, so the stream has nothing to write; set this to 0 or turn presence on")
	}
	return nil
}

// federationWorkersNeedFederation: without federation, federation senders
// have nothing to send and federation readers get no requests.
func federationWorkersNeedFederation(c *config.Config, ix *index) diag.List {
	if c.Homeserver.Federation.Enabled {
		return nil
	}
	w := c.Synapse.Workers
	var out diag.List
	if w.FederationSender != nil && *w.FederationSender > 0 {
		out = append(out, problem(ix, "synapse.workers.federation_sender",
			"federation is off (homeserver.federation.enabled: false): federation senders would have nothing to send; set this to 0")...)
	}
	if w.FederationReader != nil && *w.FederationReader > 0 {
		out = append(out, problem(ix, "synapse.workers.federation_reader",
			"federation is off (homeserver.federation.enabled: false): federation readers would receive no requests; set this to 0")...)
	}
	if w.Preset == "little-federation-helper" && w.FederationSender == nil {
		out = append(out, problem(ix, "synapse.workers.preset",
			"little-federation-helper adds only a federation sender, and federation is off (homeserver.federation.enabled: false)")...)
	}
	return out
}
