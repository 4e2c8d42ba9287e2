package bundle

import (
	"os"
	"path/filepath"
	"testing"
)

// withoutExchange makes Write take the two-rename swap of systems without
// an atomic exchange, for the rest of the test.
func withoutExchange(t *testing.T) {
	saved := exchange
	exchange = func(a, b string) error { return errNoExchange }
	t.Cleanup(func() { exchange = saved })
}

// swaps runs a test with both ways of swapping the new bundle in.
func swaps(t *testing.T, test func(t *testing.T)) {
	t.Run("exchange", test)
	t.Run("two renames", func(t *testing.T) {
		withoutExchange(t)
		test(t)
	})
}

func TestWriteReplacesPreviousBundleBothSwaps(t *testing.T) {
	swaps(t, func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		for _, tree := range [][]string{{"matrix/old-component/stale.conf"}, nil, {"matrix/new.conf"}} {
			if err := Write(dir, sample(tree...)); err != nil {
				t.Fatal(err)
			}
			requireTree(t, dir, sample(tree...))
			requireOnly(t, parent, "out")
		}
	})
}

// Someone (or something) replaced parts of a previous bundle by symlinks
// out of it: a directory the new bundle writes into, a file it replaces,
// and a dangling-looking relative link. Replacing the bundle must neither
// write through them nor delete what they point to.
func TestWriteDoesNotFollowSymlinksInPreviousBundle(t *testing.T) {
	swaps(t, func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		elsewhere := filepath.Join(parent, "elsewhere")
		writeFile(t, filepath.Join(elsewhere, "config", "homeserver.yaml"), "precious\n")
		writeFile(t, filepath.Join(elsewhere, "script"), "precious script\n")
		if err := Write(dir, sample()); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(dir, "matrix", "synapse")); err != nil {
			t.Fatal(err)
		}
		links := map[string]string{
			"matrix/synapse":   elsewhere,
			"install.sh":       filepath.Join(elsewhere, "script"),
			"matrix/escape":    "../../elsewhere",
			"matrix/shared/up": "../../..",
		}
		for link, target := range links {
			if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
				t.Skipf("no symlinks here: %v", err)
			}
		}
		before := snapshot(t, elsewhere)
		if err := Write(dir, sample()); err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, elsewhere); after != before {
			t.Errorf("replacing the bundle changed what its symlinks point to:\nbefore:\n%safter:\n%s", before, after)
		}
		requireTree(t, dir, sample()) // regular files only: Read reports symlinks
		requireOnly(t, parent, "elsewhere", "out")
	})
}

// A killed build leaves its directory beside the target; the next build
// that succeeds removes it, and nothing that is not one.
func TestWriteRemovesStrays(t *testing.T) {
	swaps(t, func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		elsewhere := filepath.Join(parent, "elsewhere")
		writeFile(t, filepath.Join(elsewhere, "keep"), "keep\n")
		if err := Write(dir, sample()); err != nil {
			t.Fatal(err)
		}
		// An unfinished tree, with a symlink out of it.
		writeFile(t, filepath.Join(parent, ".out.new-123", "matrix", "half"), "half\n")
		if err := os.Symlink(elsewhere, filepath.Join(parent, ".out.new-123", "matrix", "link")); err != nil {
			t.Skipf("no symlinks here: %v", err)
		}
		// A previous bundle set aside by a two-rename swap.
		if err := Write(filepath.Join(parent, ".out.new-456.old"), sample()); err != nil {
			t.Fatal(err)
		}
		// Not directories, or not this target's: left alone.
		if err := os.Symlink(elsewhere, filepath.Join(parent, ".out.new-link")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(parent, ".out.new-file"), "a file\n")
		writeFile(t, filepath.Join(parent, ".other.new-789", "x"), "x\n")
		writeFile(t, filepath.Join(parent, "out.new-1", "x"), "x\n")
		before := snapshot(t, elsewhere)
		if err := Write(dir, sample("matrix/new.conf")); err != nil {
			t.Fatal(err)
		}
		requireTree(t, dir, sample("matrix/new.conf"))
		requireOnly(t, parent, "out", "elsewhere", ".out.new-link", ".out.new-file", ".other.new-789", "out.new-1")
		if after := snapshot(t, elsewhere); after != before {
			t.Errorf("removing strays changed what a symlink in one points to:\nbefore:\n%safter:\n%s", before, after)
		}
	})
}

// A build that fails removes no stray: after a two-rename swap was killed
// between its renames, the stray holds the one complete bundle there is.
func TestFailedWriteKeepsStrays(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	set := filepath.Join(parent, ".out.new-456.old")
	if err := Write(set, sample()); err != nil {
		t.Fatal(err)
	}
	broken := sample()
	broken["a"] = sample()["install.sh"]
	broken["a/b"] = sample()["install.sh"]
	if err := Write(dir, broken); err == nil {
		t.Fatal("Write of an impossible tree succeeded")
	}
	requireTree(t, set, sample())
	requireOnly(t, parent, ".out.new-456.old")
}
