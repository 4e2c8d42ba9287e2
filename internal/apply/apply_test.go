package apply

import (
	"slices"
	"strings"
	"testing"
)

func bundle(t *testing.T, manifest, files, units string) Bundle {
	t.Helper()
	b, err := Parse([]byte(manifest), []byte(files), []byte(units))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lines(steps []Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.String())
	}
	return out
}

func TestDecide(t *testing.T) {
	old := bundle(t,
		"aa 0644 etc/systemd/system/db.service db\nbb 0644 etc/systemd/system/app.service app\ncc 0600 data/app.conf app\ndd 0755 install.sh -\n",
		"0644 root /etc/systemd/system/db.service -\n0644 root /etc/systemd/system/app.service -\n0600 matrix /data/app.conf secret\n",
		"db img/db:1 -\napp img/app:1 db\n")
	for _, c := range []struct {
		name  string
		next  Bundle
		steps []string
	}{
		{"same", old, nil},
		{"only the bundle's own script", bundle(t,
			"aa 0644 etc/systemd/system/db.service db\nbb 0644 etc/systemd/system/app.service app\ncc 0600 data/app.conf app\nee 0755 install.sh -\n",
			"0644 root /etc/systemd/system/db.service -\n0644 root /etc/systemd/system/app.service -\n0600 matrix /data/app.conf secret\n",
			"db img/db:1 -\napp img/app:1 db\n"), nil},
		{"config", bundle(t,
			"aa 0644 etc/systemd/system/db.service db\nbb 0644 etc/systemd/system/app.service app\nc2 0600 data/app.conf app\n",
			"0644 root /etc/systemd/system/db.service -\n0644 root /etc/systemd/system/app.service -\n0600 matrix /data/app.conf secret\n",
			"db img/db:1 -\napp img/app:1 db\n"),
			[]string{"install /data/app.conf", "restart app"}},
		{"mode", bundle(t,
			"aa 0644 etc/systemd/system/db.service db\nbb 0644 etc/systemd/system/app.service app\ncc 0640 data/app.conf app\n",
			"0644 root /etc/systemd/system/db.service -\n0644 root /etc/systemd/system/app.service -\n0640 matrix /data/app.conf secret\n",
			"db img/db:1 -\napp img/app:1 db\n"),
			[]string{"install /data/app.conf", "restart app"}},
		{"database image", bundle(t,
			"a2 0644 etc/systemd/system/db.service db\nbb 0644 etc/systemd/system/app.service app\ncc 0600 data/app.conf app\n",
			"0644 root /etc/systemd/system/db.service -\n0644 root /etc/systemd/system/app.service -\n0600 matrix /data/app.conf secret\n",
			"db img/db:2 -\napp img/app:1 db\n"),
			[]string{"install /etc/systemd/system/db.service", "daemon-reload", "pull img/db:2", "restart db", "restart app with db"}},
		{"app removed", bundle(t,
			"aa 0644 etc/systemd/system/db.service db\n",
			"0644 root /etc/systemd/system/db.service -\n",
			"db img/db:1 -\n"),
			[]string{"remove /etc/systemd/system/app.service", "remove /data/app.conf", "daemon-reload", "stop app"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := lines(Decide(old, c.next, nil)); !slices.Equal(got, c.steps) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.steps, "\n"))
			}
		})
	}
	fresh := lines(Decide(Bundle{}, old, nil))
	want := []string{"install /etc/systemd/system/db.service", "install /etc/systemd/system/app.service", "install /data/app.conf",
		"daemon-reload", "pull img/db:1", "pull img/app:1", "start db", "start app"}
	if !slices.Equal(fresh, want) {
		t.Errorf("fresh host: %q, want %q", fresh, want)
	}
	missing := lines(Decide(old, old, func(p string) bool { return p == "/data/app.conf" }))
	if !slices.Equal(missing, []string{"install /data/app.conf", "restart app"}) {
		t.Errorf("missing file: %q", missing)
	}
}

func TestParseRefusesBadRows(t *testing.T) {
	if _, err := Parse([]byte("aa 0644 x\n"), nil, nil); err == nil || !strings.Contains(err.Error(), "MANIFEST line 1") {
		t.Errorf("a three-column MANIFEST line: %v", err)
	}
	if _, err := Parse(nil, nil, []byte("app img\n")); err == nil || !strings.Contains(err.Error(), "UNITS line 1") {
		t.Errorf("a two-column UNITS line: %v", err)
	}
}

func TestDecidePool(t *testing.T) {
	const (
		units    = "aa 0644 etc/systemd/system/db.service db\nbb 0644 etc/systemd/system/app.service app\n"
		files    = "0644 root /etc/systemd/system/db.service -\n0644 root /etc/systemd/system/app.service -\n0644 root /data/app.conf -\n0644 root /data/w.conf -\n"
		workerOf = " 0644 data/w.conf w0,w1\n"
	)
	// Two workers serve one pool; a third follows app as units always did.
	// The old table has no restart group column, as an older matrixgen
	// wrote it.
	old := bundle(t, units+"cc 0644 data/app.conf app,w0,w1,w2\ndd"+workerOf, files,
		"db img/db:1 -\napp img/app:1 db\nw0 img/app:1 db,app\nw1 img/app:1 db,app\nw2 img/app:1 db,app\n")
	table := "db img/db:1 - -\napp img/app:1 db -\nw0 img/app:1 db,app web\nw1 img/app:1 db,app web\nw2 img/app:1 db,app -\n"
	for _, c := range []struct {
		name, manifest string
		steps          []string
	}{
		{"worker only", units + "cc 0644 data/app.conf app,w0,w1,w2\nd2" + workerOf,
			[]string{"install /data/w.conf", "restart w0 (one at a time: web pool)", "restart w1 (one at a time: web pool)"}},
		{"shared file", units + "c2 0644 data/app.conf app,w0,w1,w2\ndd" + workerOf,
			[]string{"install /data/app.conf", "restart app", "restart w0 (one at a time: web pool)",
				"restart w1 (one at a time: web pool)", "restart w2 with app"}},
		{"database", "a2 0644 etc/systemd/system/db.service db\nbb 0644 etc/systemd/system/app.service app\ncc 0644 data/app.conf app,w0,w1,w2\ndd" + workerOf,
			[]string{"install /etc/systemd/system/db.service", "daemon-reload", "restart db", "restart app with db",
				"restart w0 (one at a time: web pool)", "restart w1 (one at a time: web pool)", "restart w2 with db"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := lines(Decide(old, bundle(t, c.manifest, files, table), nil)); !slices.Equal(got, c.steps) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.steps, "\n"))
			}
		})
	}
}

func TestDecideStages(t *testing.T) {
	const (
		manifest = "aa 0644 data/db.conf db\nbb 0644 data/app.conf app\ncc 0644 data/w.conf w0,w1,w2\n"
		files    = "0644 root /data/db.conf -\n0644 root /data/app.conf -\n0644 root /data/w.conf -\n"
		units    = "db img/db:1 - - 0\napp img/app:1 db - 1\nw0 img/app:1 db,app - 2\nw1 img/app:1 db,app - 2\nw2 img/app:1 db,app web 2\n"
	)
	old := bundle(t, manifest, files, units)
	for i, u := range old.Units {
		if want := []int{0, 1, 2, 2, 2}[i]; u.Stage != want {
			t.Errorf("%s: stage %d, want %d", u.Name, u.Stage, want)
		}
	}
	for _, c := range []struct {
		name, manifest string
		steps          []string
	}{
		// The workers outside the pool restart in one call; the one in
		// the pool in its turn.
		{"workers", strings.Replace(manifest, "cc ", "c2 ", 1),
			[]string{"install /data/w.conf", "restart w0 (together: stage 2)", "restart w1 (together: stage 2)",
				"restart w2 (one at a time: web pool)"}},
		// Alone in its stage, a restart says nothing more.
		{"app", strings.Replace(manifest, "bb ", "b2 ", 1), []string{"install /data/app.conf", "restart app",
			"restart w0 with app", "restart w1 with app", "restart w2 (one at a time: web pool)"}},
		// Units that follow another restart with it, not together.
		{"db", strings.Replace(manifest, "aa ", "a2 ", 1),
			[]string{"install /data/db.conf", "restart db", "restart app with db", "restart w0 with db", "restart w1 with db",
				"restart w2 (one at a time: web pool)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := lines(Decide(old, bundle(t, c.manifest, files, units), nil)); !slices.Equal(got, c.steps) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.steps, "\n"))
			}
		})
	}
	// A table an older matrixgen wrote has no stages: its units started
	// one by one.
	older := bundle(t, manifest, files, "db img/db:1 -\napp img/app:1 db\nw0 img/app:1 db,app -\n")
	for i, u := range older.Units {
		if u.Stage != i {
			t.Errorf("%s of an older table: stage %d, want %d", u.Name, u.Stage, i)
		}
	}
	if _, err := Parse(nil, nil, []byte("db img/db:1 - - first\n")); err == nil || !strings.Contains(err.Error(), "UNITS line 1") {
		t.Errorf("a stage that is not a number: %v", err)
	}
}
