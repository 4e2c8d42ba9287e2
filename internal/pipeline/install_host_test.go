package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests give the shims behaviours of a real host that install.sh
// once got wrong: the postgres image's temporary initialisation server,
// images loaded without a registry, systemctl's answers about units it
// does not know.

// TestInstallWaitsForFinalPostgres: the postgres image first runs a server
// on its Unix socket only, for initialisation, then shuts it down and
// starts the real one. Databases created on the first die with it.
func TestInstallWaitsForFinalPostgres(t *testing.T) {
	b := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	h := newTestHost(t)
	h.shim(t, "docker", `if [ "$1" = exec ] && [ -e "$state/pg-initialising" ]; then
	case " $* " in
	# Refused over TCP: the temporary server listens on no address. The
	# final server is up by the next attempt.
	*" pg_isready "*"-h "*) rm -f "$state/pg-initialising"; exit 2 ;;
	*" pg_isready "*) exit 0 ;;
	*" psql "*) : >"$state/init-server-used"; exit 2 ;;
	esac
fi
`+shimBodies["docker"])
	if err := os.WriteFile(filepath.Join(h.state, "pg-initialising"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b.provide(t, h)
	r := h.install(t, b.out)
	if _, err := os.Stat(filepath.Join(h.state, "init-server-used")); err == nil {
		t.Errorf("databases were created on the temporary initialisation server:\n%s", r)
	}
	r.mustSucceed(t)
}

// preload puts images on the host as docker load would.
func (h *testHost) preload(t *testing.T, images ...string) {
	t.Helper()
	for _, image := range images {
		name := "image-" + strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(image)
		if err := os.WriteFile(filepath.Join(h.state, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInstallPullsOnlyMissingImages(t *testing.T) {
	b := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	var images []string
	for _, s := range b.res.Plan.Services {
		if !slices.Contains(images, s.Image) {
			images = append(images, s.Image)
		}
	}
	missing := images[len(images)-1]
	h := newTestHost(t)
	h.preload(t, images[:len(images)-1]...)
	b.provide(t, h)

	dry := h.install(t, b.out, "--dry-run")
	dry.mustSucceed(t)
	if got := strings.Count(dry.stdout, "would run: docker pull"); got != 1 || !strings.Contains(dry.stdout, "would run: docker pull --quiet "+missing+"\n") {
		t.Errorf("--dry-run: want only %s pulled\n%s", missing, dry)
	}
	r := h.install(t, b.out)
	r.mustSucceed(t)
	if got := r.ran("docker pull"); !slices.Equal(got, []string{missing}) {
		t.Errorf("pulled %q, want only the missing %s:\n%s", got, missing, strings.Join(r.commands, "\n"))
	}
	if !strings.Contains(r.stdout, images[0]+" is on the host already") {
		t.Errorf("install.sh does not say why %s is not pulled:\n%s", images[0], r)
	}

	// An upgrade to a tag loaded by hand pulls nothing either.
	const newTag = "docker.io/vectorim/element-web:v1.99.0"
	next := buildVariant(t, "quickstart", "element:\n  image: "+newTag+"\n")
	h.preload(t, newTag)
	up := h.install(t, next.out)
	up.mustSucceed(t)
	if i := up.index("docker pull"); i >= 0 {
		t.Errorf("the upgrade pulled %q although the image is on the host", up.commands[i])
	}
	if !slices.Contains(up.ran("systemctl restart"), "matrix-client-element") {
		t.Errorf("the upgrade did not restart element on its new image:\n%s", strings.Join(up.commands, "\n"))
	}
}

// TestInstallEnablesOnlyDisabledUnits: asked about several units,
// systemctl is-enabled prints nothing for a unit whose file it has not
// seen, so a new unit would shift the answers of the ones after it
// (Element, enabled again, is followed by the mail relay); show answers
// for it with an empty state. The shim answers both as systemd does.
func TestInstallEnablesOnlyDisabledUnits(t *testing.T) {
	old := buildVariant(t, "quickstart", "element:\n  enabled: false\n")
	next := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	h := newTestHost(t)
	h.shim(t, "systemctl", `if [ "$1" = is-enabled ]; then
	shift
	rc=0
	for u in "$@"; do
		if [ -e "$state/enabled-$u" ]; then
			echo enabled
		else
			printf 'Failed to get unit file state for %s: No such file or directory\n' "$u" >&2
			rc=1
		fi
	done
	exit "$rc"
fi
# show answers for a unit it does not know too, with an empty state.
case "$1 $*" in
"show "*--property=UnitFileState*)
	for u in "$@"; do
		case $u in show | --*) continue ;; esac
		echo "Id=$u"
		if [ -e "$state/enabled-$u" ]; then echo UnitFileState=enabled; else echo UnitFileState=; fi
		echo
	done
	exit 0
	;;
esac
`+shimBodies["systemctl"])
	old.provide(t, h)
	h.install(t, old.out).mustSucceed(t)

	// Its unit file is new: the daemon-reload after it makes the link
	// known, so enable does not reload too.
	const want = "systemctl enable --no-reload matrix-client-element.service"
	dry := h.install(t, next.out, "--dry-run")
	dry.mustSucceed(t)
	var enables []string
	for line := range strings.Lines(dry.stdout) {
		if c, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "would run: systemctl enable"); ok {
			enables = append(enables, "systemctl enable"+c)
		}
	}
	if !slices.Equal(enables, []string{want}) {
		t.Errorf("--dry-run would run %q, want only %q:\n%s", enables, want, dry)
	}
	r := h.install(t, next.out)
	r.mustSucceed(t)
	if i := r.index("systemctl enable"); i < 0 || r.commands[i] != want {
		t.Errorf("want %q:\n%s", want, strings.Join(r.commands, "\n"))
	}
}
