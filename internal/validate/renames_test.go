package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenamedOptionWarns: an option under its old name still works, with
// a warning at the old name's key that names both names.
func TestRenamedOptionWarns(t *testing.T) {
	src := minimal + "synapse:\n  presence: false\n  max_upload_size_mb: 300\n  registration:\n    mode: open\n    allow_unverified: true\n"
	cfg, source, problems := LoadSource("matrix.yaml", []byte(src))
	if len(problems) > 0 {
		t.Fatalf("the old names are refused:\n%s", printed(problems))
	}
	if got := cfg.Homeserver.MaxUploadSizeMB; got != 300 {
		t.Errorf("homeserver.max_upload_size_mb = %d, want the 300 given as synapse.max_upload_size_mb", got)
	}
	if r := cfg.Homeserver.Registration; r.Mode != "open" || !r.AllowUnverified {
		t.Errorf("homeserver.registration = %+v, want what synapse.registration gave", r)
	}
	if cfg.Synapse.Presence {
		t.Error("synapse.presence, beside the renamed options, was lost")
	}
	want := "matrix.yaml:6:3: synapse.max_upload_size_mb: warning: option renamed (synapse.max_upload_size_mb → homeserver.max_upload_size_mb); the old name still works; write the new one\n" +
		"matrix.yaml:7:3: synapse.registration: warning: option renamed (synapse.registration → homeserver.registration); the old name still works; write the new one\n"
	if got := printed(source.Warnings()); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
}

// TestRenamedOptionProblemsAtOldName: a problem with the value given under
// the old name points at the user's line, and the warning comes with it.
func TestRenamedOptionProblemsAtOldName(t *testing.T) {
	src := minimal + "synapse:\n  registration:\n    mode: sometimes\n"
	_, problems := Load("matrix.yaml", []byte(src))
	got := printed(problems)
	for _, want := range []string{
		"matrix.yaml:6:11: homeserver.registration.mode: invalid value",
		"matrix.yaml:5:3: synapse.registration: warning: option renamed (synapse.registration → homeserver.registration)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

// TestRenamedOptionGivenTwice: both names at once is an error at the old
// one, whatever the values, as they could disagree.
func TestRenamedOptionGivenTwice(t *testing.T) {
	src := minimal + "homeserver:\n  max_upload_size_mb: 100\nsynapse:\n  max_upload_size_mb: 100\n"
	cfg, problems := Load("matrix.yaml", []byte(src))
	if cfg != nil {
		t.Fatal("Load accepted an option given under both names")
	}
	want := "matrix.yaml:7:3: synapse.max_upload_size_mb: given twice: synapse.max_upload_size_mb is the old name of homeserver.max_upload_size_mb, which is set too; keep homeserver.max_upload_size_mb only\n"
	if got := printed(problems); got != want {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

// TestRenamedOptionCannotMove: when something other than a mapping stands
// where the new name goes, the old name is refused with its successor.
func TestRenamedOptionCannotMove(t *testing.T) {
	src := minimal + "homeserver: dendrite\nsynapse:\n  max_upload_size_mb: 100\n"
	_, problems := Load("matrix.yaml", []byte(src))
	want := "matrix.yaml:6:3: synapse.max_upload_size_mb: option renamed; it is now homeserver.max_upload_size_mb"
	if got := printed(problems); !strings.Contains(got, want) {
		t.Errorf("problems lack %q:\n%s", want, got)
	}
}

// TestExamplesUseCurrentNames: the examples are what users copy.
func TestExamplesUseCurrentNames(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples not found: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, source, problems := LoadSource(f, data)
		if len(problems) > 0 {
			t.Fatalf("%s:\n%s", f, printed(problems))
		}
		if w := source.Warnings(); len(w) > 0 {
			t.Errorf("%s uses old option names:\n%s", f, printed(w))
		}
	}
}
