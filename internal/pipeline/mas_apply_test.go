package pipeline

import (
	"slices"
	"strings"
	"testing"
)

// masApplyCases are changes of MAS's options over the quickstart with MAS
// on: matrixgen diff and install.sh must name exactly the units that read
// what changed.
var masApplyCases = []applyCase{
	{
		name:  "passwords off",
		extra: "  passwords: false\n",
		want: []string{
			"install DATA/matrix-authentication-service/config/config.yaml",
			"restart matrix-authentication-service",
		},
	},
	{
		name:  "image",
		extra: "  image: ghcr.io/element-hq/matrix-authentication-service:1.23.0\n",
		want: []string{
			"install /etc/systemd/system/matrix-authentication-service.service",
			"install DATA/bin/syn2mas.sh",
			"daemon-reload",
			"pull ghcr.io/element-hq/matrix-authentication-service:1.23.0",
			"restart matrix-authentication-service",
		},
	},
}

func TestApplyMASChanges(t *testing.T) {
	const on = "mas:\n  enabled: true\n"
	old := buildVariant(t, "quickstart", on)
	for _, c := range masApplyCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			next := buildVariant(t, "quickstart", on+c.extra)
			want := c.steps(old.host().DataDir)
			if got := decided(t, old, next); !slices.Equal(got, want) {
				t.Fatalf("matrixgen diff decides\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			h := newTestHost(t)
			old.provide(t, h)
			h.install(t, old.out).mustSucceed(t)
			r := h.install(t, next.out)
			r.mustSucceed(t)
			if got := r.printedSteps(); !slices.Equal(got, want) {
				t.Errorf("install.sh prints\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			checkCommands(t, r, want)
		})
	}
}

// Turning MAS on over a running server: MAS starts with its database, and
// Synapse, whose config and unit change, restarts after it. Traefik reads
// its new routes from the file it watches, without a restart.
func TestApplyMASEnabled(t *testing.T) {
	old := writeBundle(t, "quickstart", buildExample(t, "quickstart"))
	next := buildVariant(t, "quickstart", "mas:\n  enabled: true\n")
	steps := decided(t, old, next)
	for _, want := range []string{"start matrix-authentication-service", "restart matrix-synapse", "install /matrix/traefik/config/dynamic/matrixgen.yml"} {
		if !slices.Contains(steps, want) {
			t.Errorf("matrixgen diff does not say %q:\n%s", want, strings.Join(steps, "\n"))
		}
	}
	if slices.Contains(steps, "restart matrix-traefik") {
		t.Errorf("Traefik restarts for a change of its routes:\n%s", strings.Join(steps, "\n"))
	}
	if i, j := slices.Index(steps, "start matrix-authentication-service"), slices.Index(steps, "restart matrix-synapse"); i > j {
		t.Errorf("Synapse restarts before MAS starts:\n%s", strings.Join(steps, "\n"))
	}
}
