package benchconfig_test

import (
	"os"
	"testing"

	"github.com/matrixgen/matrixgen/internal/benchconfig"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// Every count deals out exactly n workers, each kind within its limit, and
// the config built with them loads with that many workers.
func TestWorkers(t *testing.T) {
	base, err := os.ReadFile("../../examples/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 4, 16, 64, 256, benchconfig.MaxWorkers()} {
		counts, err := benchconfig.Counts(n)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0
		for _, c := range counts {
			sum += c
		}
		if sum != n {
			t.Errorf("%d workers: counts %v add up to %d", n, counts, sum)
		}
		if n == 256 && len(counts) != 20 {
			t.Errorf("256 workers: %d kinds, want all 20: %v", len(counts), counts)
		}
		for _, proxy := range []string{"", "nginx"} {
			data, err := benchconfig.Workers(base, n, proxy)
			if err != nil {
				t.Fatal(err)
			}
			cfg, problems := validate.Load("large.yaml", data)
			if len(problems) > 0 {
				t.Fatalf("%d workers, proxy %q: %v\n%s", n, proxy, problems, data)
			}
			if got := cfg.WorkerCounts().Total(); got != n {
				t.Errorf("%d workers, proxy %q: the config has %d", n, proxy, got)
			}
			if proxy != "" && cfg.ReverseProxy.Type != proxy {
				t.Errorf("proxy %q: reverse_proxy.type %q", proxy, cfg.ReverseProxy.Type)
			}
		}
	}
	if _, err := benchconfig.Counts(benchconfig.MaxWorkers() + 1); err == nil {
		t.Error("Counts spread more workers than the kinds can take")
	}
}

// Every bridge count loads on top of the large config, with that many
// bridges, every type among them once there are enough.
func TestBridges(t *testing.T) {
	base, err := os.ReadFile("../../examples/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	templates, err := os.ReadFile("../../examples/bridges.yaml")
	if err != nil {
		t.Fatal(err)
	}
	workers, err := benchconfig.Workers(base, 256, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 10, 40} {
		data, err := benchconfig.Bridges(workers, templates, n)
		if err != nil {
			t.Fatal(err)
		}
		cfg, problems := validate.Load("large.yaml", data)
		if len(problems) > 0 {
			t.Fatalf("%d bridges: %v\n%s", n, problems, data)
		}
		if got := len(cfg.Bridges.Enabled()); got != n {
			t.Errorf("%d bridges: the config has %d", n, got)
		}
		types := map[string]bool{}
		for _, b := range cfg.Bridges {
			types[b.Type] = true
		}
		if want := bridgeTypes(); n == 40 && len(types) != want {
			t.Errorf("40 bridges are of %d types, want all %d", len(types), want)
		}
	}
}

func bridgeTypes() int {
	for _, v := range validate.Variants() {
		if v.Path == "bridges" {
			return len(v.Types)
		}
	}
	return 0
}
