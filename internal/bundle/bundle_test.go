package bundle

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/render"
)

// This package has no golden files. The flag is accepted anyway so that
// `go test ./... -update` (make golden) does not fail here.
var _ = flag.Bool("update", false, "no effect in this package")

// sample is a small bundle with the modes that matter: an executable, a
// secret-bearing 0600 file, and a group-writable file that a umask of 022
// would silently narrow if Write relied on the mode given to WriteFile.
func sample(extra ...string) render.Tree {
	t := render.Tree{
		"install.sh":                            {Mode: 0o755, Data: []byte("#!/bin/sh\necho install\n")},
		"matrix/synapse/config/homeserver.yaml": {Mode: 0o600, Data: []byte("server_name: example.org\npresence:\n  enabled: true\n")},
		"matrix/shared/notes.txt":               {Mode: 0o664, Data: []byte("shared\n")},
	}
	for _, p := range extra {
		t[p] = render.Entry{Mode: 0o644, Data: []byte(p + "\n")}
	}
	t[Marker] = render.Entry{Mode: 0o644, Data: t.Manifest()}
	return t
}

// readTree reads dir and fails the test on error.
func readTree(t *testing.T, dir string) render.Tree {
	t.Helper()
	tree, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func requireTree(t *testing.T, dir string, want render.Tree) {
	t.Helper()
	have := readTree(t, dir)
	if !slices.Equal(have.Paths(), want.Paths()) {
		t.Fatalf("%s holds %q, want %q", dir, have.Paths(), want.Paths())
	}
	for _, p := range want.Paths() {
		if have[p].Mode != want[p].Mode.Perm() {
			t.Errorf("%s: mode %04o, want %04o", p, have[p].Mode, want[p].Mode.Perm())
		}
		if string(have[p].Data) != string(want[p].Data) {
			t.Errorf("%s: contents %q, want %q", p, have[p].Data, want[p].Data)
		}
	}
}

// requireOnly checks that dir holds exactly names: Write's temporary
// directories (.out.new-*, *.old) must not outlive it, failed or not.
func requireOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, e := range entries {
		have = append(have, e.Name())
	}
	slices.Sort(names)
	if !slices.Equal(have, names) {
		t.Errorf("%s holds %q, want only %q", dir, have, names)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func requireFile(t *testing.T, path, want string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != want {
		t.Errorf("%s now holds %q, want it untouched: %q", path, data, want)
	}
}

func TestWriteNewDir(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "deploy", "out")
	if err := Write(dir, sample()); err != nil {
		t.Fatal(err)
	}
	requireTree(t, dir, sample())
	requireOnly(t, filepath.Join(parent, "deploy"), "out")
}

func TestWriteEmptyDir(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, sample()); err != nil {
		t.Fatal(err)
	}
	requireTree(t, dir, sample())
	requireOnly(t, parent, "out")
}

func TestWriteReplacesPreviousBundle(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := Write(dir, sample("matrix/old-component/stale.conf")); err != nil {
		t.Fatal(err)
	}
	// A trailing slash is how shells complete a directory name.
	if err := Write(dir+string(filepath.Separator), sample()); err != nil {
		t.Fatal(err)
	}
	requireTree(t, dir, sample())
	requireOnly(t, parent, "out")
}

func TestWriteRefusesForeignDir(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "home")
	writeFile(t, filepath.Join(dir, "thesis.tex"), "years of work\n")
	err := Write(dir, sample())
	if err == nil || !strings.Contains(err.Error(), Marker) {
		t.Fatalf("Write into a non-empty directory without %s: err = %v, want a refusal naming %s", Marker, err, Marker)
	}
	requireFile(t, filepath.Join(dir, "thesis.tex"), "years of work\n")
	requireOnly(t, dir, "thesis.tex")
	requireOnly(t, parent, "home")
}

// A MANIFEST that is not a regular file was not written by matrixgen.
func TestWriteRefusesOddManifest(t *testing.T) {
	for name, setup := range map[string]func(t *testing.T, dir string){
		"directory": func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, Marker), 0o755); err != nil {
				t.Fatal(err)
			}
		},
		"symlink": func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "real"), "x\n")
			if err := os.Symlink("real", filepath.Join(dir, Marker)); err != nil {
				t.Skipf("no symlinks here: %v", err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			writeFile(t, filepath.Join(dir, "keep"), "keep\n")
			setup(t, dir)
			if err := Write(dir, sample()); err == nil {
				t.Fatal("Write accepted a directory whose MANIFEST is not a regular file")
			}
			requireFile(t, filepath.Join(dir, "keep"), "keep\n")
		})
	}
}

func TestWriteRefusesFile(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "out")
	writeFile(t, path, "not a bundle\n")
	if err := Write(path, sample()); err == nil {
		t.Fatal("Write replaced a regular file")
	}
	requireFile(t, path, "not a bundle\n")
	requireOnly(t, parent, "out")
}

// A symlink at the target is refused whatever it points to: following it
// would replace a directory the user never named, and replacing the link
// itself would silently move the bundle away from where the link's users
// look. Write checks the target with os.Lstat, so this holds.
func TestWriteRefusesSymlink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target func(t *testing.T, parent string) string // returns the link's target
	}{
		{"to a previous bundle", func(t *testing.T, parent string) string {
			real := filepath.Join(parent, "real")
			if err := Write(real, sample()); err != nil {
				t.Fatal(err)
			}
			return real
		}},
		{"to an empty directory", func(t *testing.T, parent string) string {
			real := filepath.Join(parent, "real")
			if err := os.Mkdir(real, 0o755); err != nil {
				t.Fatal(err)
			}
			return real
		}},
		{"to a foreign directory", func(t *testing.T, parent string) string {
			real := filepath.Join(parent, "real")
			writeFile(t, filepath.Join(real, "keep"), "keep\n")
			return real
		}},
		{"dangling", func(t *testing.T, parent string) string {
			return filepath.Join(parent, "nowhere")
		}},
	} {
		for _, suffix := range []string{"", "/"} {
			t.Run(tc.name+" "+fmt.Sprintf("%q", suffix), func(t *testing.T) {
				parent := t.TempDir()
				target := tc.target(t, parent)
				before := snapshot(t, parent)
				link := filepath.Join(parent, "out")
				if err := os.Symlink(target, link); err != nil {
					t.Skipf("no symlinks here: %v", err)
				}
				if err := Write(link+suffix, sample("matrix/new.conf")); err == nil {
					t.Fatalf("Write accepted a symlink %s -> %s", link+suffix, target)
				}
				info, err := os.Lstat(link)
				if err != nil || info.Mode()&fs.ModeSymlink == 0 {
					t.Fatalf("the link was replaced: %v %v", info, err)
				}
				if got, _ := os.Readlink(link); got != target {
					t.Errorf("the link now points to %s, want %s", got, target)
				}
				if err := os.Remove(link); err != nil {
					t.Fatal(err)
				}
				if after := snapshot(t, parent); after != before {
					t.Errorf("the tree under the link changed:\nbefore:\n%safter:\n%s", before, after)
				}
			})
		}
	}
}

// snapshot lists every file under dir with its mode and contents.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %v", filepath.ToSlash(rel), info.Mode())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", data)
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A write that fails halfway leaves the previous bundle as it was and no
// temporary directory behind: that is the point of building beside it.
func TestWriteFailureKeepsPreviousBundle(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := Write(dir, sample()); err != nil {
		t.Fatal(err)
	}
	broken := sample()
	// "a" as a file and as a directory cannot both be written.
	broken["a"] = render.Entry{Mode: 0o644, Data: []byte("a\n")}
	broken["a/b"] = render.Entry{Mode: 0o644, Data: []byte("b\n")}
	if err := Write(dir, broken); err == nil {
		t.Fatal("Write of an impossible tree succeeded")
	}
	requireTree(t, dir, sample())
	requireOnly(t, parent, "out")
}

func TestReadDoesNotFollowSymlinks(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, "do not read me\n")
	writeFile(t, filepath.Join(dir, "plain"), "plain\n")
	if err := os.Symlink(secret, filepath.Join(dir, "link")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	tree := readTree(t, dir)
	link := tree["link"]
	if link.Mode&fs.ModeSymlink == 0 || strings.Contains(string(link.Data), "do not read me") {
		t.Errorf("Read followed a symlink: %v %q", link.Mode, link.Data)
	}
	// A symlink where the bundle has a file is a difference, never a match.
	want := render.Tree{
		"plain": {Mode: 0o644, Data: []byte("plain\n")},
		"link":  {Mode: 0o644, Data: []byte("do not read me\n")},
	}
	diff, err := Diff(dir, want)
	if err != nil {
		t.Fatal(err)
	}
	if diff == "" {
		t.Error("Diff found a symlink identical to a regular file")
	}
}

// diffAgainst writes sample() to a fresh directory, lets change alter it,
// and returns Diff against sample().
func diffAgainst(t *testing.T, change func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	if err := Write(dir, sample()); err != nil {
		t.Fatal(err)
	}
	change(dir)
	diff, err := Diff(dir, sample())
	if err != nil {
		t.Fatal(err)
	}
	return diff
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		want   string
	}{
		{
			name:   "identical",
			change: func(t *testing.T, dir string) {},
			want:   "",
		},
		{
			name: "changed file",
			change: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "matrix/synapse/config/homeserver.yaml")
				if err := os.WriteFile(p, []byte("server_name: example.org\npresence:\n  enabled: false\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "--- a/matrix/synapse/config/homeserver.yaml\n" +
				"+++ b/matrix/synapse/config/homeserver.yaml\n" +
				"@@ -1,3 +1,3 @@\n" +
				" server_name: example.org\n" +
				" presence:\n" +
				"-  enabled: false\n" +
				"+  enabled: true\n",
		},
		{
			name: "mode",
			change: func(t *testing.T, dir string) {
				if err := os.Chmod(filepath.Join(dir, "install.sh"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "mode of install.sh: 0644, want 0755\n",
		},
		{
			name: "extra file",
			change: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "matrix/left-over.conf"), "old\n")
			},
			want: "--- a/matrix/left-over.conf\n" +
				"+++ /dev/null\n" +
				"@@ -1,1 +0,0 @@\n" +
				"-old\n",
		},
		{
			name: "missing file",
			change: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "install.sh")); err != nil {
					t.Fatal(err)
				}
			},
			want: "--- /dev/null\n" +
				"+++ b/install.sh\n" +
				"@@ -0,0 +1,2 @@\n" +
				"+#!/bin/sh\n" +
				"+echo install\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diffAgainst(t, func(dir string) { tc.change(t, dir) })
			if canonical(got) != canonical(tc.want) {
				t.Errorf("Diff:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestUnified(t *testing.T) {
	lines := func(from, to int, change map[int]string) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			if s, ok := change[i]; ok {
				if s != "" {
					b.WriteString(s + "\n")
				}
				continue
			}
			fmt.Fprintf(&b, "%d\n", i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name string
		a, b string
		want string // after the ---/+++ header
	}{
		{
			name: "identical",
			a:    "x\ny\n", b: "x\ny\n",
			want: "",
		},
		{
			name: "from nothing",
			a:    "", b: "x\ny\n",
			want: "@@ -0,0 +1,2 @@\n+x\n+y\n",
		},
		{
			name: "to nothing",
			a:    "x\ny\n", b: "",
			want: "@@ -1,2 +0,0 @@\n-x\n-y\n",
		},
		{
			name: "insert at start",
			a:    lines(1, 6, nil), b: "0\n" + lines(1, 6, nil),
			want: "@@ -1,3 +1,4 @@\n+0\n 1\n 2\n 3\n",
		},
		{
			name: "delete at end",
			a:    lines(1, 6, nil), b: lines(1, 5, nil),
			want: "@@ -3,4 +3,3 @@\n 3\n 4\n 5\n-6\n",
		},
		{
			name: "change in the middle, three lines of context",
			a:    lines(1, 10, nil), b: lines(1, 10, map[int]string{5: "five"}),
			want: "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			name: "two distant hunks",
			a:    lines(1, 20, nil), b: lines(1, 20, map[int]string{3: "three", 17: ""}),
			want: "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n" +
				"@@ -14,7 +14,6 @@\n 14\n 15\n 16\n-17\n 18\n 19\n 20\n",
		},
		{
			// Six unchanged lines between two changes are all context
			// of one hunk or the other: they merge, as in GNU diff.
			name: "close changes share a hunk",
			a:    lines(1, 20, nil), b: lines(1, 20, map[int]string{5: "five", 12: "twelve"}),
			want: "@@ -2,14 +2,14 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n 10\n 11\n-12\n+twelve\n 13\n 14\n 15\n",
		},
		{
			name: "seven lines apart are two hunks",
			a:    lines(1, 20, nil), b: lines(1, 20, map[int]string{5: "five", 13: "thirteen"}),
			want: "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n" +
				"@@ -10,7 +10,7 @@\n 10\n 11\n 12\n-13\n+thirteen\n 14\n 15\n 16\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := unified("a/f", "b/f", tc.a, tc.b)
			want := "--- a/f\n+++ b/f\n" + tc.want
			if canonical(got) != canonical(want) {
				t.Errorf("unified:\n%s\nwant:\n%s", got, want)
			}
			// The hunk headers must be right for patch(1) and review
			// tools, independently of the expected text above.
			applied, err := applyUnified(tc.a, got)
			if err != nil {
				t.Fatalf("the diff does not apply: %v\n%s", err, got)
			}
			if applied != tc.b {
				t.Errorf("applying the diff gives %q, want %q", applied, tc.b)
			}
		})
	}
}

// canonical puts the removed lines of each change before the added ones.
// Both orders are valid unified diffs and patch(1) applies either; GNU
// diff prints removals first, and these tests should not hinge on which.
func canonical(diff string) string {
	ls := strings.SplitAfter(diff, "\n")
	for i := 0; i < len(ls); {
		if strings.HasPrefix(ls[i], "---") || strings.HasPrefix(ls[i], "+++") ||
			!(strings.HasPrefix(ls[i], "-") || strings.HasPrefix(ls[i], "+")) {
			i++
			continue
		}
		j := i
		for j < len(ls) && (strings.HasPrefix(ls[j], "-") || strings.HasPrefix(ls[j], "+")) &&
			!strings.HasPrefix(ls[j], "---") && !strings.HasPrefix(ls[j], "+++") {
			j++
		}
		slices.SortStableFunc(ls[i:j], func(x, y string) int { return strings.Compare(x[:1], y[:1]) * -1 })
		i = j
	}
	return strings.Join(ls, "")
}

// applyUnified applies a one-file unified diff to a, checking every hunk
// header's line numbers and counts and every context and removed line.
func applyUnified(a, diff string) (string, error) {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	}
	src, dl := split(a), split(diff)
	if len(dl) < 2 || !strings.HasPrefix(dl[0], "--- ") || !strings.HasPrefix(dl[1], "+++ ") {
		return "", fmt.Errorf("no ---/+++ header")
	}
	var out []string
	pos := 0
	for i := 2; i < len(dl); {
		var as, ac, bs, bc int
		if _, err := fmt.Sscanf(dl[i], "@@ -%d,%d +%d,%d @@", &as, &ac, &bs, &bc); err != nil {
			return "", fmt.Errorf("line %d: %q is not a hunk header", i+1, dl[i])
		}
		// A count of 0 means the hunk sits after line start, not at it.
		start, outStart := as-1, bs-1
		if ac == 0 {
			start = as
		}
		if bc == 0 {
			outStart = bs
		}
		if start < pos || start > len(src) {
			return "", fmt.Errorf("hunk %q starts at old line %d, out of order or range", dl[i], as)
		}
		out = append(out, src[pos:start]...)
		pos = start
		if len(out) != outStart {
			return "", fmt.Errorf("hunk %q: new text would start at line %d", dl[i], len(out)+1)
		}
		na, nb := 0, 0
		for i++; i < len(dl) && !strings.HasPrefix(dl[i], "@@"); i++ {
			l := dl[i]
			if l == "" {
				return "", fmt.Errorf("line %d is empty", i+1)
			}
			if l[0] != '+' {
				if pos >= len(src) || src[pos] != l[1:] {
					return "", fmt.Errorf("line %d: %q does not match the old text", i+1, l)
				}
				pos++
				na++
			}
			if l[0] != '-' {
				out = append(out, l[1:])
				nb++
			}
		}
		if na != ac || nb != bc {
			return "", fmt.Errorf("hunk -%d,%d +%d,%d has %d old and %d new lines", as, ac, bs, bc, na, nb)
		}
	}
	out = append(out, src[pos:]...)
	if len(out) == 0 {
		return "", nil
	}
	return strings.Join(out, "\n") + "\n", nil
}
