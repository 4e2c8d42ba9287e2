// Package reserved holds the few facts that compile decides and validate
// must respect before compile runs: the host ports matrixgen's own
// services publish for the operator's webserver, and the public paths
// component types serve on the homeserver's hostname (public_paths.go,
// each type's in a file of its own). Both stages read them from here, so
// a port or path is spelled once. It imports nothing, keeping validate
// free of compile.
package reserved

import "fmt"

// Host ports matrixgen's own services publish on reverse_proxy.bind_address
// when the operator's own webserver is the reverse proxy.
const (
	SynapseClientPort     = 8008
	SynapseFederationPort = 8048
	ElementPort           = 8765
	WellKnownPort         = 8766
	// FirstWorkerPort to LastWorkerPort hold the blocks Synapse's
	// workers publish theirs in, one block per kind
	// (compile/workers.go), so that adding a worker moves no other.
	FirstWorkerPort = 20000
	LastWorkerPort  = 27999
)

// FixedHostPorts names the service that publishes each fixed host port,
// as messages about a clash name it.
func FixedHostPorts() map[int]string {
	return map[int]string{
		SynapseClientPort:     "Synapse",
		SynapseFederationPort: "Synapse",
		ElementPort:           "Element",
		WellKnownPort:         "the well-known files",
	}
}

// IsWorkerPort tells whether port lies in the workers' range.
func IsWorkerPort(port int) bool {
	return port >= FirstWorkerPort && port <= LastWorkerPort
}

// WorkerRange is the workers' range as messages print it.
func WorkerRange() string {
	return fmt.Sprintf("%d-%d", FirstWorkerPort, LastWorkerPort)
}
