//go:build tools

// The Dendrite programs `make e2e-dendrite` builds from this module: the
// server, and create-account, the shared-secret registration client that
// the Dendrite image carries and docs/homeservers.md tells operators to
// make accounts with. The release is v0.13.8, the last one under the
// Apache-2.0 licence; later releases moved to another module under the
// AGPL and are not used.
package dendrite

import (
	_ "github.com/matrix-org/dendrite/cmd/create-account"
	_ "github.com/matrix-org/dendrite/cmd/dendrite"
)
