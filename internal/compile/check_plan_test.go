package compile

import (
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// TestCheckPlanRefusesInvalidHostnames: a host name with an underscore
// resolves in Docker and is refused by Twisted, so the plan stops it.
func TestCheckPlanRefusesInvalidHostnames(t *testing.T) {
	cases := []struct {
		name string
		p    plan.Plan
		want string
	}{
		{"service address", plan.Plan{Services: []plan.Service{{Unit: "a_b", Address: "a_b"}}}, `"a_b"`},
		{"upstream", plan.Plan{Routes: []plan.Route{{Name: "r", Upstream: "w_1:8008"}}}, `"w_1"`},
		{"pool member", plan.Plan{Routes: []plan.Route{{Name: "r", Upstream: "w-0:8008",
			Backends: []plan.Backend{{Upstream: "w-0:8008"}, {Upstream: "W.x:8008"}}}}}, `"W.x"`},
		{"two containers, one name", plan.Plan{Services: []plan.Service{{Unit: "a_b", Address: "a-b"}, {Unit: "a-b", Address: "a-b"}}}, "address a-b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := checkPlan(&c.p)
			if len(got) != 1 || !strings.Contains(got[0].Summary, c.want) {
				t.Errorf("checkPlan = %v, want one problem naming %s", got, c.want)
			}
		})
	}
	ok := plan.Plan{
		Services: []plan.Service{{Unit: "matrix-synapse-worker-stream-writer-device_lists-0", Address: containerHostname("matrix-synapse-worker-stream-writer-device_lists-0")}},
		Routes: []plan.Route{{Name: "r", Upstream: "127.0.0.1:8008"}, {Name: "s", PathPrefix: "/s", Upstream: "[::1]:8008"},
			{Name: "t", PathPrefix: "/t", Upstream: "matrix-synapse-worker-stream-writer-device-lists-0:8008"}},
	}
	if got := checkPlan(&ok); len(got) > 0 {
		t.Errorf("checkPlan refuses valid names and addresses: %v", got)
	}
}
