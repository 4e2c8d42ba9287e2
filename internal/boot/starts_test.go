//go:build e2e

package boot

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestBootStarts measures what docs/benchmarks.md reports of starting and
// restarting a bundle, without the client checks of TestBoot: a fresh
// install to the first client request answered, a no-op run, and a
// changed option that every Synapse process reads (a restart of them all)
// with what a client polling the API sees meanwhile. It prints the load
// average beside each figure, since other work on the machine changes
// them most.
func TestBootStarts(t *testing.T) {
	requireDocker(t)
	for _, example := range bootExamples {
		t.Run(example, func(t *testing.T) {
			for _, proxy := range bootProxies {
				t.Run(proxy, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
					defer cancel()
					logLoad(t)
					s := boot(ctx, t, example, proxy)
					logLoad(t)
					t.Run("no-op install", func(t *testing.T) { checkNoOpInstall(ctx, t, s) })
					t.Run("option changed", func(t *testing.T) { checkOptionChange(ctx, t, s, example, settings(proxy)) })
					logLoad(t)
				})
			}
		})
	}
}

func logLoad(t *testing.T) {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("load average: %s", b)
	}
}
