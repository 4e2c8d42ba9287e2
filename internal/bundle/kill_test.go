package bundle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/benchconfig"
)

// buildBinary builds cmd/matrixgen into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go not found: %v", err)
		}
		t.Skipf("go not found (install Go): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "matrixgen")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/matrixgen/matrixgen/cmd/matrixgen")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// completeBundle checks that dir holds exactly the files its MANIFEST
// lists, each a regular file with the listed mode and hash, and returns
// the MANIFEST. A half-written or half-removed bundle fails here.
func completeBundle(dir string) (string, error) {
	manifest, err := os.ReadFile(filepath.Join(dir, Marker))
	if err != nil {
		return "", err
	}
	listed := map[string]bool{Marker: true}
	sc := bufio.NewScanner(bytes.NewReader(manifest))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			return "", fmt.Errorf("MANIFEST line %q", sc.Text())
		}
		sum, modeText, path := f[0], f[1], f[2]
		listed[path] = true
		full := filepath.Join(dir, filepath.FromSlash(path))
		info, err := os.Lstat(full)
		if err != nil {
			return "", err
		}
		mode, err := strconv.ParseUint(modeText, 8, 32)
		if err != nil {
			return "", err
		}
		if !info.Mode().IsRegular() || info.Mode().Perm() != fs.FileMode(mode) {
			return "", fmt.Errorf("%s: mode %v, want a regular file %s", path, info.Mode(), modeText)
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return "", err
		}
		if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
			return "", fmt.Errorf("%s: contents differ from MANIFEST", path)
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !listed[filepath.ToSlash(rel)] {
			return fmt.Errorf("%s is not in MANIFEST", rel)
		}
		return nil
	})
	return string(manifest), err
}

// TestKilledBuild kills the real binary at random moments of builds that
// replace one large bundle by another, and requires the target to be,
// after every kill, the complete previous bundle or the complete new one;
// then a build that runs to its end removes what the killed ones left.
func TestKilledBuild(t *testing.T) {
	bin := buildBinary(t)
	base, err := os.ReadFile("../../examples/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	var configs []string
	for _, n := range []int{256, 200} { // different files, not only different contents
		data, err := benchconfig.Workers(base, n, "")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(work, fmt.Sprintf("workers-%d.yaml", n))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		configs = append(configs, path)
	}
	parent := filepath.Join(work, "deploy")
	out := filepath.Join(parent, "out")
	build := func(config, dir string) *exec.Cmd {
		return exec.Command(bin, "build", "-c", config, "-o", dir)
	}
	// The bundle of each config, and how long a whole build takes.
	want := map[string]string{}
	var took time.Duration
	for _, c := range configs {
		ref := filepath.Join(work, "ref-"+filepath.Base(c))
		start := time.Now()
		if msg, err := build(c, ref).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", c, err, msg)
		}
		took = max(took, time.Since(start))
		m, err := completeBundle(ref)
		if err != nil {
			t.Fatal(err)
		}
		want[c] = m
	}
	if msg, err := build(configs[0], out).CombinedOutput(); err != nil {
		t.Fatalf("first build: %v\n%s", err, msg)
	}
	current := want[configs[0]]

	runs := 40
	if testing.Short() {
		runs = 8
	}
	seed := uint64(time.Now().UnixNano())
	rnd := rand.New(rand.NewPCG(seed, 0))
	t.Logf("%d runs, kills within %v, seed %d", runs, took*5/4, seed)
	outcome := map[string]int{}
	for i := range runs {
		next := configs[rnd.IntN(len(configs))]
		cmd := build(next, out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rnd.Int64N(int64(took * 5 / 4))))
		_ = cmd.Process.Kill()
		err := cmd.Wait()
		var exit *exec.ExitError
		killed := errors.As(err, &exit) && !exit.Exited()
		if err != nil && !killed {
			t.Fatalf("run %d: build failed by itself: %v", i, err)
		}
		got, err := completeBundle(out)
		if err != nil {
			t.Fatalf("run %d (killed: %v): the target is not a complete bundle: %v", i, killed, err)
		}
		switch got {
		case current:
			outcome["previous bundle"]++
		case want[next]:
			outcome["new bundle"]++
		default:
			t.Fatalf("run %d: the target is complete but neither the previous bundle nor the new one", i)
		}
		current = got
	}
	t.Logf("after a kill the target held: %v", outcome)

	if msg, err := build(configs[1], out).CombinedOutput(); err != nil {
		t.Fatalf("last build: %v\n%s", err, msg)
	}
	if got, err := completeBundle(out); err != nil || got != want[configs[1]] {
		t.Fatalf("last build: complete: %v, the bundle of %s: %v", err, configs[1], got == want[configs[1]])
	}
	requireOnly(t, parent, "out")
}
