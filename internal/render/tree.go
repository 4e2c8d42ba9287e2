// Package render turns a Plan into a Tree of files: one renderer per target
// format. Renderers read the Plan only; they know formats, not components.
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// Entry is one file of the bundle.
type Entry struct {
	Mode     fs.FileMode
	Data     []byte
	Restarts []string // units to restart when this file changes
	// BundleOnly files stay in the bundle (scripts, snippets for the
	// operator's own webserver); install.sh installs every other file at
	// its path on the host.
	BundleOnly bool
}

// Tree maps slash-separated paths inside the bundle to files.
type Tree map[string]Entry

// Paths returns the tree's paths in sorted order.
func (t Tree) Paths() []string {
	paths := make([]string, 0, len(t))
	for p := range t {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// hostPath is where a host file lives inside the bundle: the same path,
// relative, so that out/ mirrors the host.
func hostPath(abs string) string { return strings.TrimPrefix(abs, "/") }

func (t Tree) add(path string, mode fs.FileMode, data []byte, restarts ...string) error {
	return t.put(path, Entry{Mode: mode, Data: data, Restarts: restarts})
}

// addBundleFile adds a file that is not installed on the host.
func (t Tree) addBundleFile(path string, mode fs.FileMode, data []byte) error {
	return t.put(path, Entry{Mode: mode, Data: data, BundleOnly: true})
}

func (t Tree) put(path string, e Entry) error {
	if _, dup := t[path]; dup {
		return fmt.Errorf("two renderers write %s", path)
	}
	t[path] = e
	return nil
}

// Manifest lists every file: sha256, mode, path and the units that restart
// when it changes ("-" for none), sorted by path. install.sh reads it.
func (t Tree) Manifest() []byte {
	var b strings.Builder
	for _, p := range t.Paths() {
		e := t[p]
		sum := sha256.Sum256(e.Data)
		units := "-"
		if len(e.Restarts) > 0 {
			units = strings.Join(e.Restarts, ",")
		}
		fmt.Fprintf(&b, "%s %04o %s %s\n", hex.EncodeToString(sum[:]), e.Mode.Perm(), p, units)
	}
	return []byte(b.String())
}
