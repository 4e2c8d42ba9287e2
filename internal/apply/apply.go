// Package apply decides what applying a bundle over the one installed
// before changes on the host. install.sh makes the same decision on the
// host with awk; `matrixgen diff` makes it here, so that a pull request
// shows which units a change restarts before it reaches the server. Tests
// hold the two to the same answer on the same pairs of bundles.
package apply

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/matrixgen/matrixgen/internal/render"
)

// Bundle is what the decision reads from a bundle: its MANIFEST and the
// FILES and UNITS tables install.sh reads.
type Bundle struct {
	Manifest map[string]Line // by path inside the bundle
	Files    []File          // host files, in the order install.sh installs them
	Units    []Unit          // in start order: every unit after the ones it needs
}

// Line is one MANIFEST line.
type Line struct {
	Sum, Mode string
	Units     []string // restarted when the file changes
}

// File is one row of FILES.
type File struct {
	Mode, Owner, Path, Secrets string // Path is the host path, absolute
}

// Unit is one row of UNITS.
type Unit struct {
	Name, Image string
	Requires    []string
	// RestartGroup is the pool the unit serves with others, restarted one
	// at a time; "" for none, and in tables an older matrixgen wrote.
	RestartGroup string
	// Stage is when install.sh starts the unit: the units of a stage
	// start or restart together, after those of the stages before are
	// healthy. In tables an older matrixgen wrote, each unit is a stage
	// of its own, as that install.sh started them one by one.
	Stage int
}

// Read loads the tables of a bundle directory. A directory without a
// MANIFEST reads as an empty bundle: a host where nothing is installed yet.
func Read(dir string) (Bundle, error) {
	var data [3][]byte
	for i, name := range []string{render.ManifestFile, render.FilesTable, render.UnitsTable} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			if i == 0 {
				return Bundle{Manifest: map[string]Line{}}, nil
			}
			return Bundle{}, fmt.Errorf("%s has no %s: an older matrixgen built it; build it again with this one to compare", dir, name)
		}
		if err != nil {
			return Bundle{}, err
		}
		data[i] = b
	}
	return Parse(data[0], data[1], data[2])
}

// FromTree reads the tables of a rendered tree.
func FromTree(t render.Tree) (Bundle, error) {
	return Parse(t[render.ManifestFile].Data, t[render.FilesTable].Data, t[render.UnitsTable].Data)
}

// Parse reads the three tables.
func Parse(manifest, files, units []byte) (Bundle, error) {
	b := Bundle{Manifest: map[string]Line{}}
	var badStage error
	err := eachRow(render.ManifestFile, manifest, 4, 4, func(f []string) {
		b.Manifest[f[2]] = Line{Sum: f[0], Mode: f[1], Units: list(f[3])}
	})
	if err == nil {
		err = eachRow(render.FilesTable, files, 4, 4, func(f []string) {
			b.Files = append(b.Files, File{Mode: f[0], Owner: f[1], Path: f[2], Secrets: f[3]})
		})
	}
	if err == nil {
		// The restart group and the stage came later: a host keeps the
		// UNITS of the bundle it applied last, which may not have them.
		err = eachRow(render.UnitsTable, units, 3, 5, func(f []string) {
			u := Unit{Name: f[0], Image: f[1], Requires: list(f[2]), Stage: len(b.Units)}
			if len(f) >= 4 && f[3] != "-" {
				u.RestartGroup = f[3]
			}
			if len(f) == 5 {
				stage, convErr := strconv.Atoi(f[4])
				if convErr != nil || stage < 0 {
					badStage = fmt.Errorf("%s line %d: stage %q is not a number", render.UnitsTable, len(b.Units)+1, f[4])
				}
				u.Stage = stage
			}
			b.Units = append(b.Units, u)
		})
	}
	if err == nil {
		err = badStage
	}
	return b, err
}

// eachRow calls f with the columns of every row, which must number from
// least to most.
func eachRow(name string, data []byte, least, most int, f func([]string)) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) < least || len(fields) > most {
			return fmt.Errorf("%s line %d: %d columns, want %s", name, n, len(fields), columnCount(least, most))
		}
		f(fields)
	}
	return sc.Err()
}

func columnCount(least, most int) string {
	if least == most {
		return fmt.Sprint(least)
	}
	return fmt.Sprintf("%d to %d", least, most)
}

// list reads a comma-separated column, "-" for none.
func list(s string) []string {
	if s == "-" {
		return nil
	}
	return strings.Split(s, ",")
}

// Step is one thing applying a bundle does. Its String form is the line
// install.sh prints for it, word for word.
type Step struct {
	Action  string // install, remove, daemon-reload, pull, stop, start, restart
	Subject string // a host path, an image or a unit
	With    string // restart: the unit it needs, whose restart systemd passes on to it
	// Pool is set on the restart of a unit of a restart group: it restarts
	// after the units it needs, on its own, and the next one of its pool
	// only once it is healthy.
	Pool string
	// Stage is the unit's stage, on starts and restarts.
	Stage int
	// Together is set on a restart of a unit's own that install.sh makes
	// in one call with other such restarts of its stage (and their
	// followers); a restart with a unit says so by With.
	Together bool
}

func (s Step) String() string {
	out := s.Action
	if s.Subject != "" {
		out += " " + s.Subject
	}
	if s.With != "" {
		out += " with " + s.With
	}
	if s.Pool != "" {
		out += " (one at a time: " + s.Pool + " pool)"
	}
	if s.Together {
		out += fmt.Sprintf(" (together: stage %d)", s.Stage)
	}
	return out
}

const unitDir = "/etc/systemd/system/"

// Decide lists what applying next over installed does, in the order
// install.sh does it: files in, files out, daemon-reload, image pulls, units
// removed from the config stopped, then units started or restarted in
// dependency order. missing, when not nil, reports host files that are gone
// although the installed bundle has them (install.sh puts them back); the
// host is otherwise taken to hold exactly the installed bundle.
func Decide(installed, next Bundle, missing func(hostPath string) bool) []Step {
	var steps []Step
	changed := map[string]bool{} // units whose inputs changed
	mark := func(units []string) {
		for _, u := range units {
			changed[u] = true
		}
	}
	reload := false
	wasHost := map[string]bool{}
	for _, f := range installed.Files {
		wasHost[f.Path] = true
	}
	isHost := map[string]bool{}
	for _, f := range next.Files {
		isHost[f.Path] = true
		rel := strings.TrimPrefix(f.Path, "/")
		old, had := installed.Manifest[rel]
		now := next.Manifest[rel]
		if wasHost[f.Path] && had && old.Sum == now.Sum && old.Mode == now.Mode && (missing == nil || !missing(f.Path)) {
			continue
		}
		steps = append(steps, Step{Action: "install", Subject: f.Path})
		mark(now.Units)
		reload = reload || strings.HasPrefix(f.Path, unitDir)
	}
	for _, f := range installed.Files {
		if isHost[f.Path] {
			continue
		}
		steps = append(steps, Step{Action: "remove", Subject: f.Path})
		mark(installed.Manifest[strings.TrimPrefix(f.Path, "/")].Units)
		reload = reload || strings.HasPrefix(f.Path, unitDir)
	}
	if reload {
		steps = append(steps, Step{Action: "daemon-reload"})
	}

	oldImage := map[string]string{}
	for _, u := range installed.Units {
		oldImage[u.Name] = u.Image
	}
	var pulled []string
	for _, u := range next.Units {
		if img, had := oldImage[u.Name]; (!had || img != u.Image) && !slices.Contains(pulled, u.Image) {
			pulled = append(pulled, u.Image)
			steps = append(steps, Step{Action: "pull", Subject: u.Image})
		}
	}
	kept := map[string]bool{}
	for _, u := range next.Units {
		kept[u.Name] = true
	}
	for _, u := range slices.Backward(installed.Units) {
		if !kept[u.Name] {
			steps = append(steps, Step{Action: "stop", Subject: u.Name})
		}
	}
	restarted := map[string]bool{}
	own := map[int][]int{} // stage: the indexes of its restarts of their own
	for _, u := range next.Units {
		if _, had := oldImage[u.Name]; !had {
			steps = append(steps, Step{Action: "start", Subject: u.Name, Stage: u.Stage})
			continue
		}
		if step, ok := unitRestart(u, changed[u.Name], restarted); ok {
			if step.With == "" && step.Pool == "" {
				own[u.Stage] = append(own[u.Stage], len(steps))
			}
			steps = append(steps, step)
			restarted[u.Name] = true
		}
	}
	for _, together := range own {
		if len(together) > 1 {
			for _, i := range together {
				steps[i].Together = true
			}
		}
	}
	return steps
}

// unitRestart is how a kept unit restarts, if it does: with a unit it
// requires, on its own in its pool's turn, or on its own for its own
// changes.
func unitRestart(u Unit, changed bool, restarted map[string]bool) (Step, bool) {
	with := ""
	if i := slices.IndexFunc(u.Requires, func(r string) bool { return restarted[r] }); i >= 0 {
		with = u.Requires[i]
	}
	switch {
	case u.RestartGroup != "" && (changed || with != ""):
		// A unit of a pool does not follow the units it requires:
		// install.sh restarts those without it, so that the pool keeps
		// its other servers while this one restarts.
		return Step{Action: "restart", Subject: u.Name, Pool: u.RestartGroup, Stage: u.Stage}, true
	case with != "":
		// Units declare PartOf= the units they require: systemd restarts
		// them with those, and a second restart would only cost time.
		return Step{Action: "restart", Subject: u.Name, With: with, Stage: u.Stage}, true
	case changed:
		return Step{Action: "restart", Subject: u.Name, Stage: u.Stage}, true
	}
	return Step{}, false
}

// Count tallies steps by action.
func Count(steps []Step, action string) int {
	n := 0
	for _, s := range steps {
		if s.Action == action {
			n++
		}
	}
	return n
}
