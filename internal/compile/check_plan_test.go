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

// TestCheckPlanReportsAtLaterOrigin: a claim made twice is reported at
// the option the later claim came from, and the message names the
// earlier one's, for every kind of claim.
func TestCheckPlanReportsAtLaterOrigin(t *testing.T) {
	hookshot := plan.Route{Name: "hookshot", Host: "matrix.example.org", PathPrefix: "/hookshot/webhooks",
		Entrypoint: plan.EntrypointClient, Upstream: "matrix-hookshot:9000", Origin: "bridges.hookshot"}
	second := hookshot
	second.Name, second.Upstream, second.Origin = "hookshot-two", "matrix-hookshot-two:9000", "bridges.hookshot-two"
	cases := []struct {
		name       string
		p          plan.Plan
		path, want string
	}{
		{"route", plan.Plan{Entrypoints: []plan.Entrypoint{{Name: plan.EntrypointClient, HostPort: 443}},
			Routes: []plan.Route{hookshot, second}},
			"bridges.hookshot-two", "route matrix.example.org:443/hookshot/webhooks is claimed by both hookshot (bridges.hookshot) and hookshot-two (bridges.hookshot-two)"},
		{"file", plan.Plan{Files: []plan.File{{Path: "/x", Origin: "element"}, {Path: "/x", Origin: "bots.a"}}},
			"bots.a", "file /x is claimed by both [] (element) and [] (bots.a)"},
		{"unit", plan.Plan{Services: []plan.Service{{Unit: "matrix-a", Origin: "bridges.a"}, {Unit: "matrix-a", Origin: "bots.a"}}},
			"bots.a", "unit matrix-a is claimed by both matrix-a (bridges.a) and matrix-a (bots.a)"},
		{"published port", plan.Plan{Services: []plan.Service{
			{Unit: "a", Publish: []plan.Publish{{HostAddress: "127.0.0.1", HostPort: 9000, Protocol: "tcp", Origin: "bridges.a.host_port"}}},
			{Unit: "b", Publish: []plan.Publish{{HostAddress: "127.0.0.1", HostPort: 9000, Protocol: "tcp", Origin: "bots.b.host_port"}}}}},
			"bots.b.host_port", "port 9000/tcp is taken already by a (bridges.a.host_port)"},
		{"every address and one", plan.Plan{Services: []plan.Service{
			{Unit: "a", HostBinds: []plan.Publish{{HostPort: 3478, Protocol: "tcp", Origin: "coturn.port"}}},
			{Unit: "b", Publish: []plan.Publish{{HostAddress: "::1", HostPort: 3478, Protocol: "tcp", Origin: "ketesa.host_port"}}}}},
			"ketesa.host_port", "port 3478/tcp is taken already by a (coturn.port)"},
		{"a range", plan.Plan{Services: []plan.Service{
			{Unit: "a", Publish: []plan.Publish{{HostPort: 443, Protocol: "udp", Origin: "traefik.http3"}}},
			{Unit: "b", HostBinds: []plan.Publish{{HostPort: 400, LastHostPort: 500, Protocol: "udp", Origin: "coturn.relay_min_port"}}}}},
			"coturn.relay_min_port", "port 400-500/udp is taken already by a (traefik.http3)"},
		{"a port in an earlier range", plan.Plan{Services: []plan.Service{
			{Unit: "a", HostBinds: []plan.Publish{{HostPort: 400, LastHostPort: 500, Protocol: "udp", Origin: "coturn.relay_min_port"}}},
			{Unit: "b", Publish: []plan.Publish{{HostAddress: "0.0.0.0", HostPort: 443, Protocol: "udp", Origin: "traefik.http3"}}}}},
			"traefik.http3", "port 443/udp is taken already by a (coturn.relay_min_port)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := checkPlan(&c.p)
			if len(got) != 1 || got[0].Path != c.path || got[0].Summary != c.want {
				t.Errorf("checkPlan = %v, want %s: %s", got, c.path, c.want)
			}
		})
	}
}

// TestCheckPlanPortsApart: ports that share no address, protocol or
// number are no conflict, nor is one service's port on both families.
func TestCheckPlanPortsApart(t *testing.T) {
	p := plan.Plan{Services: []plan.Service{
		{Unit: "a", Publish: []plan.Publish{
			{HostAddress: "127.0.0.1", HostPort: 80, Protocol: "tcp"}, {HostAddress: "::1", HostPort: 80, Protocol: "tcp"},
			{HostAddress: "0.0.0.0", HostPort: 443, Protocol: "tcp"}, {HostAddress: "::", HostPort: 443, Protocol: "tcp"},
		}},
		{Unit: "b", Publish: []plan.Publish{{HostAddress: "10.0.0.1", HostPort: 80, Protocol: "tcp"}, {HostPort: 443, Protocol: "udp"}}},
		{Unit: "c", HostBinds: []plan.Publish{{HostPort: 444, LastHostPort: 500, Protocol: "udp"}}},
	}}
	if got := checkPlan(&p); len(got) > 0 {
		t.Errorf("checkPlan = %v, want no problem", got)
	}
}
