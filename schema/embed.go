// Package schema embeds the CUE schema of matrix.yaml: the single source of
// truth for every option, its default and its documentation.
package schema

import "embed"

// Files holds every *.cue file of the schema; they all belong to one CUE
// package and are unified into #Config.
//
//go:embed *.cue
var Files embed.FS
