//go:build e2e

package proxytest_test

import (
	"testing"

	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// TestTraefikHomeservers serves the examples of the homeservers other than
// Synapse through a real Traefik, as TestHomeserverRoutingNginx does
// through nginx.
func TestTraefikHomeservers(t *testing.T) {
	bin := traefikBinary(t)
	matrixgen := buildMatrixgen(t)
	for _, example := range homeserverExamples {
		t.Run(example, func(t *testing.T) {
			config := homeserverConfig(t, example, "traefik")
			setup := proxytest.Compile(t, config)
			startTraefik(t, bin, setup)
			newHomeserverRouting(t, matrixgen, config, setup).check(t)
		})
	}
}
