//go:build tools

// Package tools pins the LiveKit server release that `make e2e-rtc` builds
// and starts with the generated LiveKit config. It lives in its own module
// so that LiveKit's dependencies never enter matrixgen's go.mod.
package tools

import _ "github.com/livekit/livekit-server/cmd/server"
