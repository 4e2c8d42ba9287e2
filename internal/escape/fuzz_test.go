package escape

import (
	"strings"
	"testing"
)

func addHostileSeeds(f *testing.F) {
	for _, h := range hostile {
		f.Add(h.s)
	}
}

func FuzzSystemdValue(f *testing.F) {
	addHostileSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		checkSystemdValue(t, s)
		if strings.Count(SystemdValue(s), "%") != 2*strings.Count(s, "%") {
			t.Fatalf("SystemdValue(%q) does not double every %%", s)
		}
	})
}

func FuzzSystemdArgv(f *testing.F) {
	for _, h := range hostile {
		f.Add(h.s, h.s)
	}
	f.Add("/usr/bin/docker", "run")
	f.Fuzz(func(t *testing.T, a, b string) {
		checkSystemdArgv(t, []string{"/bin/echo", a, b})
		if !validExecutable(a) {
			if !panics(func() { SystemdArgv([]string{a, b}) }) {
				t.Fatalf("SystemdArgv accepted executable %q", a)
			}
			return
		}
		checkSystemdArgv(t, []string{a, b})
	})
}

func FuzzShell(f *testing.F) {
	addHostileSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		out := Shell(s)
		checkShellForm(t, s, out)
		if hasNUL(s) {
			return // sh cannot carry NUL
		}
		if got := runSh(t, "printf '%s' "+out); got != s {
			t.Fatalf("sh printed %q for Shell(%q) = %q", got, s, out)
		}
	})
}

func FuzzEnvFileValue(f *testing.F) {
	for _, h := range hostile {
		f.Add("MATRIX_VALUE", h.s)
	}
	f.Add("9BAD", "v")
	f.Add("BAD KEY", "v")
	f.Fuzz(func(t *testing.T, key, value string) {
		checkEnvFileValue(t, key, value)
	})
}
