package validate

import (
	"strings"
	"testing"
)

// TestWorkerRules: every worker combination Synapse refuses (or that could
// only be a process doing nothing) is refused at the option that asks for
// it, saying why.
func TestWorkerRules(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, at, says string
	}{
		{"two typing writers", "synapse: {workers: {stream_writers: {typing: 2}}}",
			"synapse.workers.stream_writers.typing", "only the events stream can be shared"},
		{"two quarantine writers", "synapse: {workers: {stream_writers: {quarantined_media_changes: 2}}}",
			"synapse.workers.stream_writers.quarantined_media_changes", "exactly one writer"},
		{"two appservice workers", "synapse: {workers: {appservice: 2}}",
			"synapse.workers.appservice", "notify_appservices_from_worker names a single worker"},
		{"two user-dir workers", "synapse: {workers: {user_dir: 3}}",
			"synapse.workers.user_dir", "update_user_directory_from_worker"},
		{"two background workers", "synapse: {workers: {background: 2}}",
			"synapse.workers.background", "run_background_tasks_on"},
		{"presence writer without presence", "homeserver: {presence: false}\nsynapse: {workers: {stream_writers: {presence: 1}}}",
			"synapse.workers.stream_writers.presence", "homeserver.presence is false"},
		{"federation sender without federation", "homeserver: {federation: {enabled: false}}\nsynapse: {workers: {federation_sender: 1}}",
			"synapse.workers.federation_sender", "nothing to send"},
		{"federation reader without federation", "homeserver: {federation: {enabled: false}}\nsynapse: {workers: {federation_reader: 2}}",
			"synapse.workers.federation_reader", "no requests"},
		{"federation helper without federation", "homeserver: {federation: {enabled: false}}\nsynapse: {workers: {preset: little-federation-helper}}",
			"synapse.workers.preset", "federation is off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := Load("matrix.yaml", []byte(minimal+tc.yaml+"\n"))
			if len(problems) != 1 {
				t.Fatalf("want one problem, got:\n%s", printed(problems))
			}
			p := problems[0]
			if p.Path != tc.at || !strings.Contains(p.Summary, tc.says) || p.Subject.Start.Line == 0 {
				t.Errorf("got %s: %s (line %d), want %s: …%s…", p.Path, p.Summary, p.Subject.Start.Line, tc.at, tc.says)
			}
		})
	}
}

// TestWorkerPresets: a preset's numbers, and counts that override them.
func TestWorkerPresets(t *testing.T) {
	for _, tc := range []struct {
		yaml                                  string
		total, generic, room, sender, writers int
	}{
		{"synapse: {workers: {preset: none}}", 0, 0, 0, 0, 0},
		{"synapse: {workers: {preset: little-federation-helper}}", 1, 0, 0, 1, 0},
		{"synapse: {workers: {preset: one-of-each}}", 17, 1, 0, 1, 10},
		{"synapse: {workers: {preset: specialized-workers}}", 20, 0, 1, 1, 10},
		{"homeserver: {presence: false}\nsynapse: {workers: {preset: one-of-each}}", 16, 1, 0, 1, 9},
		{"homeserver: {federation: {enabled: false}}\nsynapse: {workers: {preset: specialized-workers}}", 18, 0, 1, 0, 10},
		{"synapse: {workers: {preset: one-of-each, generic: 4, federation_sender: 0, stream_writers: {events: 3, typing: 0}}}", 20, 4, 0, 0, 11},
		{"synapse: {workers: {generic: 2}}", 2, 2, 0, 0, 0},
	} {
		c := mustLoad(t, minimal+tc.yaml+"\n").WorkerCounts()
		writers := 0
		for _, n := range c.StreamWriters {
			writers += n
		}
		got := []int{c.Total(), c.Generic, c.Room, c.FederationSender, writers}
		want := []int{tc.total, tc.generic, tc.room, tc.sender, tc.writers}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: total, generic, room, federation senders, writers = %v, want %v", tc.yaml, got, want)
				break
			}
		}
	}
}
