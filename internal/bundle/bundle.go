// Package bundle writes a rendered Tree to disk and compares one with a
// directory. Writing is all or nothing: the new bundle is built beside the
// target and swapped in, so a failed or interrupted build leaves the old one.
package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/matrixgen/matrixgen/internal/render"
)

// Marker is the file that makes a directory a bundle matrixgen may replace.
const Marker = "MANIFEST"

// errNoExchange is exchange's answer where paths cannot be swapped in one step.
var errNoExchange = errors.New("atomic exchange not supported")

// Write replaces dir with the tree. dir must not exist, be empty, or hold a
// previous bundle; anything else is refused so that a typo in -o cannot
// delete someone's files.
//
// The tree is written into a directory beside dir (.<name>.new-*) and
// swapped in, so that a build that fails or is killed at any point leaves
// dir as it was or complete. A killed build leaves its directory behind;
// the next successful Write removes it. Two builds into one directory at
// once are not supported: the later swap wins, and its clean-up may make
// the other fail, which then leaves dir as the winner wrote it.
func Write(dir string, t render.Tree) error {
	dir = filepath.Clean(dir)
	if err := replaceable(dir); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, strayPrefix(dir))
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // after a swap: the previous bundle, or nothing
	if err := writeTree(tmp, t); err != nil {
		return err
	}
	if err := swap(tmp, dir); err != nil {
		return err
	}
	return removeStrays(dir)
}

// strayPrefix starts the names of the directories Write builds beside dir.
func strayPrefix(dir string) string { return "." + filepath.Base(dir) + ".new-" }

// removeStrays removes what killed builds of dir left beside it: their
// unfinished trees and, from the two-rename swap, previous bundles. It runs
// only once the new bundle is in place, so it never removes the one
// complete copy there is. Only directories are removed, and os.RemoveAll
// removes symlinks inside them rather than following them.
func removeStrays(dir string) error {
	parent, prefix := filepath.Dir(dir), strayPrefix(dir)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			if err := os.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func replaceable(dir string) error {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if m, err := os.Lstat(filepath.Join(dir, Marker)); err != nil || !m.Mode().IsRegular() {
		return fmt.Errorf("%s is not empty and holds no %s: refusing to replace it", dir, Marker)
	}
	return nil
}

func writeTree(root string, t render.Tree) error {
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	for _, p := range t.Paths() {
		e := t[p]
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, e.Data, e.Mode.Perm()); err != nil {
			return err
		}
		// WriteFile's mode is filtered by the umask; the bundle's modes are not.
		if err := os.Chmod(full, e.Mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

// swap moves the new tree into place. Where the kernel can exchange two
// paths in one step (Linux's renameat2 RENAME_EXCHANGE), dir is never
// missing and newDir ends up holding the previous bundle. Elsewhere it takes
// two renames, between which dir is briefly missing but never half-written.
func swap(newDir, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(newDir, dir)
	}
	if err := exchange(newDir, dir); err == nil {
		return os.RemoveAll(newDir)
	} else if !errors.Is(err, errNoExchange) {
		return err
	}
	old := newDir + ".old"
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(newDir, dir); err != nil {
		_ = os.Rename(old, dir)
		return err
	}
	return os.RemoveAll(old)
}

// Read loads a directory as a tree (modes and contents; no restart data).
// Symlinks are reported, never followed.
// A missing dir reads as an empty tree: for check, every file is missing.
func Read(dir string) (render.Tree, error) {
	t := render.Tree{}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			t[rel] = render.Entry{Mode: info.Mode(), Data: []byte("(not a regular file)\n")}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		t[rel] = render.Entry{Mode: info.Mode().Perm(), Data: data}
		return nil
	})
	return t, err
}

// Diff compares what is on disk with what should be there, as a unified
// diff; empty means identical (contents and modes).
func Diff(dir string, want render.Tree) (string, error) {
	have, err := Read(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range union(have, want) {
		h, inHave := have[p]
		w, inWant := want[p]
		switch {
		case !inHave:
			b.WriteString(unified("/dev/null", "b/"+p, "", string(w.Data)))
		case !inWant:
			b.WriteString(unified("a/"+p, "/dev/null", string(h.Data), ""))
		default:
			if h.Mode != w.Mode.Perm() {
				fmt.Fprintf(&b, "mode of %s: %04o, want %04o\n", p, h.Mode, w.Mode.Perm())
			}
			if string(h.Data) != string(w.Data) {
				b.WriteString(unified("a/"+p, "b/"+p, string(h.Data), string(w.Data)))
			}
		}
	}
	return b.String(), nil
}

func union(a, b render.Tree) []string {
	all := render.Tree{}
	for p := range a {
		all[p] = render.Entry{}
	}
	for p := range b {
		all[p] = render.Entry{}
	}
	return all.Paths()
}
