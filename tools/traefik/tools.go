//go:build tools

// Package tools pins the Traefik release that `make e2e-traefik` builds.
// It lives in its own module so that Traefik's several hundred
// dependencies never enter matrixgen's go.mod.
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
