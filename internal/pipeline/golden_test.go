package pipeline

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/render"
)

var update = flag.Bool("update", false, "rewrite golden trees")

const updateHint = "go test ./internal/pipeline -run Golden -update"

// TestGolden compares each example's bundle, built in memory, with
// golden/<example>/, the whole tree as build would write it.
func TestGolden(t *testing.T) {
	root := repoRoot(t)
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			tree := buildExample(t, name).Tree
			dir := filepath.Join(root, "golden", name)
			if *update {
				// Write refuses a non-empty directory without MANIFEST, so a
				// golden dir someone filled by hand is never wiped.
				if err := bundle.Write(dir, tree); err != nil {
					t.Fatal(err)
				}
				return
			}
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("no golden tree for example %s (create it with: %s): %v", name, updateHint, err)
			}
			compareGolden(t, dir, tree)
		})
	}
}

// TestGoldenOrphans fails on a golden tree whose example is gone: nothing
// would check it any more, yet a reviewer would still trust it. With -update
// it is removed instead.
func TestGoldenOrphans(t *testing.T) {
	root := repoRoot(t)
	examples := map[string]bool{}
	for _, name := range exampleNames(t) {
		examples[name] = true
		examples[name+clusterGoldenSuffix] = true
	}
	entries, err := os.ReadDir(filepath.Join(root, "golden"))
	if err != nil {
		t.Fatalf("reading golden/ (create it with: %s): %v", updateHint, err)
	}
	for _, e := range entries {
		if examples[e.Name()] {
			continue
		}
		dir := filepath.Join(root, "golden", e.Name())
		if *update && e.IsDir() {
			if _, err := os.Lstat(filepath.Join(dir, bundle.Marker)); err != nil {
				t.Errorf("golden/%s has no example and no %s; not removing a directory matrixgen did not write", e.Name(), bundle.Marker)
				continue
			}
			if err := os.RemoveAll(dir); err != nil {
				t.Error(err)
			}
			continue
		}
		t.Errorf("golden/%s has no examples/%s.yaml: remove it, or run %s", e.Name(), e.Name(), updateHint)
	}
}

// TestGoldenNoCR keeps line ends LF: a CR that slips into a golden (an
// editor, a git autocrlf checkout) would make every comparison noisy or,
// worse, bless a CR in the output.
func TestGoldenNoCR(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "golden")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(data, '\r'); i >= 0 {
			rel, _ := filepath.Rel(dir, p)
			line := 1 + bytes.Count(data[:i], []byte("\n"))
			t.Errorf("golden/%s:%d: contains a CR byte", filepath.ToSlash(rel), line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// compareGolden fails with a unified diff and the first difference when dir
// is not exactly tree.
//
// Git keeps only the executable bit of a file's mode, so a fresh clone has
// golden files at 0644 or 0755 whatever the tree says. Modes on disk are
// therefore compared as git sees them; the exact modes are still checked,
// because the golden MANIFEST lists every file's mode and is compared byte
// for byte like any other file.
func compareGolden(t *testing.T, dir string, tree render.Tree) {
	t.Helper()
	have, err := bundle.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := render.Tree{}
	for p, e := range tree {
		if h, ok := have[p]; ok && h.Mode.IsRegular() && gitMode(h.Mode) == gitMode(e.Mode) {
			e.Mode = h.Mode
		}
		want[p] = e
	}
	diff, err := bundle.Diff(dir, want)
	if err != nil {
		t.Fatal(err)
	}
	if diff == "" {
		return
	}
	rel := "golden/" + filepath.Base(dir)
	t.Errorf("%s differs from the build (if the change is intended, run: %s and review the golden diff)\nfirst difference: %s\n%s",
		rel, updateHint, firstDifference(rel, have, want), diff)
}

func gitMode(m fs.FileMode) fs.FileMode {
	if m.Perm()&0o100 != 0 {
		return 0o755
	}
	return 0o644
}

// firstDifference names the first file (in path order) that differs and,
// for contents, its first differing line, so the failure points somewhere
// before the reader scrolls through the diff.
func firstDifference(prefix string, have, want render.Tree) string {
	all := render.Tree{}
	for p := range have {
		all[p] = render.Entry{}
	}
	for p := range want {
		all[p] = render.Entry{}
	}
	for _, p := range all.Paths() {
		h, inHave := have[p]
		w, inWant := want[p]
		loc := prefix + "/" + p
		switch {
		case !inHave:
			return loc + ": missing from the golden tree"
		case !inWant:
			return loc + ": in the golden tree but not built"
		case !bytes.Equal(h.Data, w.Data):
			return loc + firstLine(h.Data, w.Data)
		case h.Mode != w.Mode:
			return fmt.Sprintf("%s: mode %04o, build has %04o", loc, h.Mode, w.Mode.Perm())
		}
	}
	return "(none found: the diff above is all there is)"
}

func firstLine(golden, built []byte) string {
	g := strings.SplitAfter(string(golden), "\n")
	b := strings.SplitAfter(string(built), "\n")
	for i := 0; i < max(len(g), len(b)); i++ {
		var gl, bl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(b) {
			bl = b[i]
		}
		if gl != bl {
			return fmt.Sprintf(":%d:\n\tgolden: %q\n\tbuilt:  %q", i+1, gl, bl)
		}
	}
	return ": contents differ"
}
