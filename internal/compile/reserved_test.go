package compile

import (
	"testing"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

// TestWorkerHostPortsInReservedRange: validation refuses a bridge's or
// Ketesa's host port inside reserved's worker range, so every port a
// worker may publish must lie in it, up to the schema's largest count.
func TestWorkerHostPortsInReservedRange(t *testing.T) {
	const maxWorkersOfAKind = 256 // #WorkerCount in schema/synapse_workers.cue
	kinds := []workerKind{kindGeneric, kindRoom, kindSync, kindClientReader, kindFederationReader, kindMedia, kindUserDir}
	for _, k := range kinds {
		for listen, first := range k.hostPort {
			if last := first + maxWorkersOfAKind - 1; !reserved.IsWorkerPort(first) || !reserved.IsWorkerPort(last) {
				t.Errorf("%s %s publishes %d-%d, outside %s", k.typ, listen, first, last, reserved.WorkerRange())
			}
		}
	}
	for _, stream := range config.Streams {
		for listen, port := range writerKind(stream).hostPort {
			if !reserved.IsWorkerPort(port) {
				t.Errorf("the %s writer's %s port %d is outside %s", stream, listen, port, reserved.WorkerRange())
			}
		}
	}
}
