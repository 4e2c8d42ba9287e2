package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestTopUsageAligned: every command's summary in `matrixgen --help` starts
// in the same column, however long the longest command name is.
func TestTopUsageAligned(t *testing.T) {
	var out bytes.Buffer
	topUsage(&out)
	line := regexp.MustCompile(`^  ([a-z-]+) +(\S)`)
	column, seen := -1, 0
	for _, l := range strings.Split(out.String(), "\n") {
		m := line.FindStringSubmatchIndex(l)
		if m == nil {
			continue
		}
		seen++
		if column < 0 {
			column = m[4]
		}
		if m[4] != column {
			t.Errorf("summary of %q starts in column %d, the others in %d:\n%s", l[m[2]:m[3]], m[4], column, out.String())
		}
	}
	if seen != len(commands) {
		t.Errorf("found %d command lines, want %d:\n%s", seen, len(commands), out.String())
	}
}
