// Package templates holds the text templates of the line formats matrixgen
// writes (systemd units, shell scripts). Structured formats are never
// templated: they are marshalled from Go values.
package templates

import "embed"

//go:embed *.tmpl
var Files embed.FS
