package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/render"
)

// Same input, same bytes: these tests vary what must not matter (a second
// run, key order, comments, locale, where the config file lives) and
// expect the very same tree.

func TestDeterministicRebuild(t *testing.T) {
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			first := buildExample(t, name).Tree
			// Map iteration order is randomised per range statement, so a
			// few runs catch an unsorted map far more often than one.
			for range 5 {
				requireSameTree(t, "first build", first, "rebuild", buildExample(t, name).Tree)
			}
		})
	}
}

func TestDeterministicKeyOrder(t *testing.T) {
	root := repoRoot(t)
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("examples", name+".yaml")
			data, err := os.ReadFile(filepath.Join(root, path))
			if err != nil {
				t.Fatal(err)
			}
			reordered := reverseKeys(t, data)
			if bytes.Equal(reordered, data) {
				t.Fatal("reordering changed nothing; the test would prove nothing")
			}
			want := buildExample(t, name).Tree
			got := run(t, path, reordered)
			requireSameTree(t, path, want, "the same config with keys reversed and no comments", got)
		})
	}
}

// TestDeterministicLocale guards against a build step that ever shells out
// to a locale-aware tool (sort, tr, a formatter): Go itself reads no LC_*
// variable, so today this must pass trivially. The Turkish locale is the
// classic trap for case mapping (dotless i).
func TestDeterministicLocale(t *testing.T) {
	for _, name := range exampleNames(t) {
		want := buildExample(t, name).Tree
		t.Run(name, func(t *testing.T) {
			t.Setenv("LC_ALL", "tr_TR.UTF-8")
			t.Setenv("LANG", "tr_TR.UTF-8")
			requireSameTree(t, "C locale", want, "tr_TR.UTF-8", buildExample(t, name).Tree)
		})
	}
}

// TestNoLocalPaths builds each example from a copy at an absolute temp
// path: the config's location must not leak into the bundle, which is
// shipped to another machine and compared in CI across checkouts.
func TestNoLocalPaths(t *testing.T) {
	root := repoRoot(t)
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, "examples", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			abs := filepath.Join(tmp, "matrix.yaml")
			if err := os.WriteFile(abs, data, 0o644); err != nil {
				t.Fatal(err)
			}
			tree := run(t, abs, data)
			requireSameTree(t, "built from examples/", buildExample(t, name).Tree, "built from "+abs, tree)
			for _, p := range tree.Paths() {
				d := tree[p].Data
				// Not os.TempDir() itself: units legitimately mount a /tmp.
				for _, local := range []string{root, tmp} {
					if bytes.Contains(d, []byte(local)) {
						t.Errorf("%s contains the local path %s", p, local)
					}
				}
				if i := bytes.IndexByte(d, '\r'); i >= 0 {
					t.Errorf("%s:%d: contains a CR byte", p, 1+bytes.Count(d[:i], []byte("\n")))
				}
			}
		})
	}
}

func run(t *testing.T, file string, data []byte) render.Tree {
	t.Helper()
	res, problems := Run(file, data)
	if len(problems) > 0 {
		var b bytes.Buffer
		diag.Print(&b, problems, "")
		t.Fatalf("%s does not build:\n%s", file, b.String())
	}
	return res.Tree
}

// requireSameTree compares paths, modes, contents and restart lists.
func requireSameTree(t *testing.T, nameA string, a render.Tree, nameB string, b render.Tree) {
	t.Helper()
	if msg := treeDifference(a, b); msg != "" {
		t.Fatalf("%s and %s give different trees: %s", nameA, nameB, msg)
	}
}

func treeDifference(a, b render.Tree) string {
	if !slices.Equal(a.Paths(), b.Paths()) {
		return fmt.Sprintf("paths differ:\n\t%q\n\t%q", a.Paths(), b.Paths())
	}
	for _, p := range a.Paths() {
		ea, eb := a[p], b[p]
		switch {
		case ea.Mode != eb.Mode:
			return fmt.Sprintf("%s: mode %04o vs %04o", p, ea.Mode, eb.Mode)
		case !bytes.Equal(ea.Data, eb.Data):
			return p + firstLine(ea.Data, eb.Data)
		case !slices.Equal(ea.Restarts, eb.Restarts):
			return fmt.Sprintf("%s: restarts %q vs %q", p, ea.Restarts, eb.Restarts)
		}
	}
	return ""
}

// reverseKeys rewrites a YAML document with every mapping's keys in reverse
// order and every comment dropped. Sequences keep their order: list order
// is meaningful (auto-join rooms, trusted key servers).
func reverseKeys(t *testing.T, data []byte) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	reverseNode(&doc)
	return encodeNode(t, &doc)
}

// encodeNode writes a YAML document with two-space indents, as the
// examples are written.
func encodeNode(t *testing.T, doc *yaml.Node) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func reverseNode(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	if n.Kind == yaml.MappingNode {
		pairs := len(n.Content) / 2
		for i := 0; i < pairs/2; i++ {
			j := pairs - 1 - i
			n.Content[2*i], n.Content[2*j] = n.Content[2*j], n.Content[2*i]
			n.Content[2*i+1], n.Content[2*j+1] = n.Content[2*j+1], n.Content[2*i+1]
		}
	}
	for _, c := range n.Content {
		reverseNode(c)
	}
}
