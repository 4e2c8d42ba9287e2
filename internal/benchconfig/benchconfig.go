// Package benchconfig makes the large configs that the benchmarks build: a
// base config with n Synapse workers spread over every kind, so that build
// time can be compared against n (make bench, BenchmarkWorkers).
package benchconfig

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// kinds are the worker counts of synapse.workers in the order workers are
// dealt out, with the most each may take. Presence is left out: its writer
// needs homeserver.presence, which the base may turn off.
var kinds = []struct {
	path []string
	max  int
}{
	{[]string{"generic"}, 256},
	{[]string{"room"}, 256},
	{[]string{"sync"}, 256},
	{[]string{"client_reader"}, 256},
	{[]string{"federation_reader"}, 256},
	{[]string{"federation_sender"}, 256},
	{[]string{"pusher"}, 256},
	{[]string{"media_repository"}, 256},
	{[]string{"stream_writers", "events"}, 64},
	{[]string{"appservice"}, 1},
	{[]string{"user_dir"}, 1},
	{[]string{"background"}, 1},
	{[]string{"stream_writers", "typing"}, 1},
	{[]string{"stream_writers", "to_device"}, 1},
	{[]string{"stream_writers", "account_data"}, 1},
	{[]string{"stream_writers", "receipts"}, 1},
	{[]string{"stream_writers", "push_rules"}, 1},
	{[]string{"stream_writers", "device_lists"}, 1},
	{[]string{"stream_writers", "thread_subscriptions"}, 1},
	{[]string{"stream_writers", "quarantined_media_changes"}, 1},
}

// MaxWorkers is the most workers Workers can spread.
func MaxWorkers() int {
	n := 0
	for _, k := range kinds {
		n += k.max
	}
	return n
}

// Counts deals n workers out over the kinds one at a time, so that every
// kind is present once n is large enough and the large kinds share the rest
// evenly. The keys are paths below synapse.workers, dot-separated.
func Counts(n int) (map[string]int, error) {
	if n < 0 || n > MaxWorkers() {
		return nil, fmt.Errorf("%d workers: at most %d can be spread", n, MaxWorkers())
	}
	counts := make([]int, len(kinds))
	for dealt := 0; dealt < n; {
		for i, k := range kinds {
			if dealt < n && counts[i] < k.max {
				counts[i]++
				dealt++
			}
		}
	}
	out := map[string]int{}
	for i, k := range kinds {
		if counts[i] > 0 {
			key := k.path[0]
			if len(k.path) > 1 {
				key += "." + k.path[1]
			}
			out[key] = counts[i]
		}
	}
	return out, nil
}

// Workers returns base (a YAML config) with synapse.workers replaced by n
// workers spread over the kinds, and reverse_proxy.type set to proxy unless
// proxy is empty. Comments of base are lost; the options stay as they were.
func Workers(base []byte, n int, proxy string) ([]byte, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal(base, &cfg); err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	counts, err := Counts(n)
	if err != nil {
		return nil, err
	}
	workers := map[string]any{"preset": "none"}
	writers := map[string]any{}
	for _, k := range kinds {
		key := k.path[0]
		if len(k.path) > 1 {
			key += "." + k.path[1]
		}
		c, ok := counts[key]
		if !ok {
			continue
		}
		if len(k.path) > 1 {
			writers[k.path[1]] = c
		} else {
			workers[key] = c
		}
	}
	if len(writers) > 0 {
		workers["stream_writers"] = writers
	}
	mapping(cfg, "synapse")["workers"] = workers
	if proxy != "" {
		mapping(cfg, "reverse_proxy")["type"] = proxy
	}
	return yaml.Marshal(cfg)
}

func mapping(m map[string]any, key string) map[string]any {
	if child, ok := m[key].(map[string]any); ok {
		return child
	}
	child := map[string]any{}
	m[key] = child
	return child
}
