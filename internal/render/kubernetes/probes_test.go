package kubernetes

import (
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// A check becomes the kubelet's own request only when it is a plain GET
// of a port the service serves; anything else stays the command.
func TestProbeHandler(t *testing.T) {
	s := plan.Service{Unit: "matrix-synapse", Listens: []plan.Listen{{Name: "client", Port: 8008}, {Name: "federation", Port: 8048}}}
	check := func(args ...string) plan.HealthCheck {
		return plan.HealthCheck{Unit: s.Unit, Command: append([]string{"docker", "exec", s.Unit}, args...), Timeout: 300}
	}
	for _, c := range []struct {
		args     []string
		httpPath string // "" for a command
		port     string
	}{
		{[]string{"curl", "-fsS", "-o", "/dev/null", "http://localhost:8008/health"}, "/health", "client"},
		{[]string{"wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8048/health?x=1"}, "/health?x=1", "federation"},
		// A port the service does not serve may listen on loopback only.
		{[]string{"curl", "-fsS", "-o", "/dev/null", "http://localhost:9000/health"}, "", ""},
		// A header, another host, HTTPS: the command.
		{[]string{"curl", "-fsS", "-H", "Host: x", "-o", "/dev/null", "http://localhost:8008/health"}, "", ""},
		{[]string{"curl", "-fsS", "-o", "/dev/null", "http://matrix-synapse:8008/health"}, "", ""},
		{[]string{"curl", "-fsS", "-o", "/dev/null", "https://localhost:8008/health"}, "", ""},
		{[]string{"pg_isready", "-h", "127.0.0.1"}, "", ""},
	} {
		h, err := probeHandler(s, check(c.args...))
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		switch {
		case c.httpPath != "":
			if h.HTTPGet == nil || h.HTTPGet.Path != c.httpPath || h.HTTPGet.Port.StrVal != c.port {
				t.Errorf("%q: %+v, want a GET of %s on port %s", c.args, h, c.httpPath, c.port)
			}
		case h.Exec == nil || !slices.Equal(h.Exec.Command, c.args):
			t.Errorf("%q: %+v, want the command", c.args, h)
		}
	}
	// A check that runs on the host itself has no place in a pod.
	if _, err := probeHandler(s, plan.HealthCheck{Unit: s.Unit, Command: []string{"systemctl", "is-active", "x"}}); err == nil || !strings.Contains(err.Error(), s.Unit) {
		t.Errorf("a host command: %v, want an error naming the unit", err)
	}
}
