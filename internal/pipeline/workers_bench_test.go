package pipeline

import (
	"fmt"
	"testing"
)

// BenchmarkWorkers times a whole build (load, compile, render) against the
// number of generic workers, beside one of each other kind: the route table
// has one route per pattern whatever the count, so the cost should grow
// with the units and worker configs only.
func BenchmarkWorkers(b *testing.B) {
	for _, n := range []int{4, 16, 64, 256} {
		config := []byte(fmt.Sprintf(`domain: example.org
traefik: {acme_email: admin@example.org}
synapse:
  workers:
    preset: one-of-each
    generic: %d
    federation_sender: %d
`, n, max(n/4, 1)))
		b.Run(fmt.Sprintf("generic=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, problems := Run("workers.yaml", config); len(problems) > 0 {
					b.Fatal(problems)
				}
			}
		})
	}
}
