package pipeline

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// networkCreate is one "docker network create" command line, parsed as
// Docker reads its flags.
type networkCreate struct {
	name     string
	ipv6     bool
	subnets  []netip.Prefix
	gateways []netip.Addr
}

func parseNetworkCreate(t *testing.T, line string) networkCreate {
	t.Helper()
	args := strings.Fields(line)
	if len(args) < 4 || args[0] != "docker" || args[1] != "network" || args[2] != "create" {
		t.Fatalf("not a docker network create command: %q", line)
	}
	var c networkCreate
	for i := 3; i < len(args); i++ {
		a := args[i]
		flag, value, hasValue := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "-") {
			if c.name != "" {
				t.Fatalf("%q: two network names, %s and %s", line, c.name, a)
			}
			c.name = a
			continue
		}
		if !hasValue && (flag == "--subnet" || flag == "--gateway" || flag == "--driver") {
			i++
			if i == len(args) {
				t.Fatalf("%q: %s without a value", line, flag)
			}
			value = args[i]
		}
		switch flag {
		case "--ipv6":
			c.ipv6 = true
		case "--driver":
			if value != "bridge" {
				t.Errorf("%q: driver %s, want bridge", line, value)
			}
		case "--subnet":
			p, err := netip.ParsePrefix(value)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			c.subnets = append(c.subnets, p)
		case "--gateway":
			a, err := netip.ParseAddr(value)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			c.gateways = append(c.gateways, a)
		default:
			t.Fatalf("%q: unexpected flag %s", line, a)
		}
	}
	return c
}

// checkAgainst holds a parsed command to the plan's addresses: every subnet
// with its gateway inside, IPv6 exactly when the plan has it.
func (c networkCreate) checkAgainst(t *testing.T, want plan.Subnets) {
	t.Helper()
	wantSubnets := []string{want.IPv4}
	wantGateways := []string{want.Gateway4}
	if want.IPv6 != "" {
		wantSubnets = append(wantSubnets, want.IPv6)
		wantGateways = append(wantGateways, want.Gateway6)
	}
	var subnets, gateways []string
	for _, p := range c.subnets {
		subnets = append(subnets, p.String())
	}
	for _, g := range c.gateways {
		gateways = append(gateways, g.String())
	}
	if !slices.Equal(subnets, wantSubnets) || !slices.Equal(gateways, wantGateways) {
		t.Errorf("network %s: subnets %q gateways %q, want %q %q", c.name, subnets, gateways, wantSubnets, wantGateways)
	}
	if c.ipv6 != (want.IPv6 != "") {
		t.Errorf("network %s: --ipv6 is %v, want %v", c.name, c.ipv6, want.IPv6 != "")
	}
	for _, g := range c.gateways {
		if !slices.ContainsFunc(c.subnets, func(p netip.Prefix) bool { return p.Contains(g) }) {
			t.Errorf("network %s: gateway %s is in none of its subnets %q", c.name, g, subnets)
		}
	}
}

// TestNetworkCreateArgv: install.sh creates every network with the subnets
// and gateways the config decided, dual-stack with host.networks.ipv6, and
// says so in --dry-run as it does when it runs.
func TestNetworkCreateArgv(t *testing.T) {
	for _, tc := range []struct{ name, extra string }{
		{"ipv4", ""},
		{"ipv6", "host:\n  networks:\n    ipv6: true\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := buildVariant(t, "quickstart", tc.extra)
			if len(b.res.Plan.Networks) != 2 {
				t.Fatalf("networks %q, want the homeserver's and the proxy's", b.res.Plan.Networks)
			}
			h := newTestHost(t)
			b.provide(t, h)
			dry := h.install(t, b.out, "--dry-run")
			dry.mustSucceed(t)
			var planned []string
			for _, line := range strings.Split(dry.stdout, "\n") {
				if c, ok := strings.CutPrefix(line, "would run: docker network create "); ok {
					planned = append(planned, "docker network create "+c)
				}
			}
			r := h.install(t, b.out, "--no-start")
			r.mustSucceed(t)
			var ran []string
			for _, c := range r.commands {
				if strings.HasPrefix(c, "docker network create ") {
					ran = append(ran, c)
				}
			}
			if !slices.Equal(planned, ran) {
				t.Errorf("--dry-run said it would run\n%q\nthe install ran\n%q", planned, ran)
			}
			created := map[string]bool{}
			for _, line := range ran {
				c := parseNetworkCreate(t, line)
				want, ok := b.res.Plan.Subnets[c.name]
				if !ok {
					t.Errorf("%q creates a network the plan does not have", line)
					continue
				}
				c.checkAgainst(t, want)
				created[c.name] = true
			}
			for _, n := range b.res.Plan.Networks {
				if !created[n] {
					t.Errorf("network %s is not created: %q", n, ran)
				}
			}
			// A second run finds them as it made them and creates nothing.
			again := h.install(t, b.out, "--no-start")
			again.mustSucceed(t)
			if i := again.index("docker network create"); i >= 0 {
				t.Errorf("a second run created a network again: %s", again.commands[i])
			}
		})
	}
}

// TestNetworkOtherSubnet: a network that exists with other addresses is
// left alone, containers are attached to it; install.sh says what it found
// and what the config wants, and stops before it changes anything, in
// --dry-run too.
func TestNetworkOtherSubnet(t *testing.T) {
	b := buildVariant(t, "quickstart", "")
	h := newTestHost(t)
	b.provide(t, h)
	name := b.res.Plan.Networks[0]
	if err := os.WriteFile(filepath.Join(h.state, "network-"+name), []byte("172.18.0.0/16 172.18.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, h.root)
	for _, args := range [][]string{{"--dry-run"}, {}} {
		r := h.install(t, b.out, args...)
		r.mustFail(t, "network "+name, "172.18.0.0/16", b.res.Plan.Subnets[name].IPv4, "host.networks.addresses.")
		for _, c := range r.commands {
			if strings.HasPrefix(c, "docker network rm") || strings.HasPrefix(c, "docker network create "+name) ||
				strings.HasPrefix(c, "systemctl ") || strings.HasPrefix(c, "docker pull") {
				t.Errorf("install.sh ran %q before stopping", c)
			}
		}
	}
	if after := snapshot(t, h.root); !maps.Equal(after, before) {
		t.Errorf("install.sh changed the host before it stopped")
	}
}

// TestPublishBothFamilies: with host.networks.ipv6, a port published on
// loopback is published on IPv6's loopback too, in the form the docker CLI
// takes; without it, on IPv4's only.
func TestPublishBothFamilies(t *testing.T) {
	for _, ipv6 := range []bool{false, true} {
		t.Run(fmt.Sprint("ipv6=", ipv6), func(t *testing.T) {
			t.Parallel()
			extra := fmt.Sprintf("reverse_proxy:\n  type: nginx\nhost:\n  networks:\n    ipv6: %v\n", ipv6)
			b := consumerBundleOf(t, buildVariant(t, "quickstart", extra).res)
			published := 0
			for _, s := range b.res.Plan.Services {
				args, _ := b.createArgs(t, path.Join(unitTreeDir, s.Unit+".service"))
				for _, pub := range s.Publish {
					if pub.HostAddress != "127.0.0.1" {
						continue
					}
					published++
					v4 := fmt.Sprintf("--publish=127.0.0.1:%d:%d/%s", pub.HostPort, pub.ContainerPort, pub.Protocol)
					v6 := fmt.Sprintf("--publish=[::1]:%d:%d/%s", pub.HostPort, pub.ContainerPort, pub.Protocol)
					if !slices.Contains(args, v4) {
						t.Errorf("%s does not publish %s", s.Unit, v4)
					}
					if slices.Contains(args, v6) != ipv6 {
						t.Errorf("%s: %s published: %v, want %v", s.Unit, v6, !ipv6, ipv6)
					}
				}
			}
			if published == 0 {
				t.Fatal("no port is published on loopback")
			}
			t.Run("docker-create", b.checkDockerCreate)
		})
	}
}
