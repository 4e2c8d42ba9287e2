//go:build tools

// Package tools pins the LiveKit server release that `make e2e-rtc` builds
// and starts with the generated LiveKit config. It lives in its own module
// so that LiveKit's dependencies never enter matrixgen's go.mod.
//
// The release is v1.13.5, the one matrix-docker-ansible-deploy's LiveKit
// role pins and the default image's. Later 1.13 releases replace three
// pion modules with LiveKit's own forks in their go.mod; a dependency's
// replace directives do not apply here, and the module proxy does not
// serve those forks, so they cannot be built from this module.
package tools

import _ "github.com/livekit/livekit-server/cmd/server"
