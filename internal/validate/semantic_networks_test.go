package validate

import (
	"slices"
	"testing"
)

// The networks' addresses are decided in the config: defaults clear of
// Docker's own pools, a gateway that follows its subnet, and Traefik
// behind a terminator trusting the gateways it sees the terminator from.
func TestNetworkAddressDefaults(t *testing.T) {
	c := mustLoad(t, minimal)
	a := c.Host.Networks.Addresses
	for _, tc := range []struct{ option, got, want string }{
		{"host.networks.addresses.homeserver.subnet", a.Homeserver.Subnet, "10.231.1.0/24"},
		{"host.networks.addresses.homeserver.gateway", a.Homeserver.Gateway, "10.231.1.1"},
		{"host.networks.addresses.proxy.subnet", a.Proxy.Subnet, "10.231.2.0/24"},
		{"host.networks.addresses.proxy.gateway", a.Proxy.Gateway, "10.231.2.1"},
		{"host.networks.addresses.homeserver.ipv6_gateway", a.Homeserver.IPv6Gateway, "fd6d:6174:7269:7801::1"},
		{"host.networks.addresses.proxy.ipv6_gateway", a.Proxy.IPv6Gateway, "fd6d:6174:7269:7802::1"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.option, tc.got, tc.want)
		}
	}
	if c.Host.Networks.IPv6 {
		t.Error("host.networks.ipv6 is on by default")
	}
	want := []string{"127.0.0.1/32", "::1/128", "10.231.2.1/32", "10.231.1.1/32"}
	if got := c.Traefik.BehindProxy.TrustedIPs; !slices.Equal(got, want) {
		t.Errorf("traefik.behind_proxy.trusted_ips = %q, want %q", got, want)
	}

	c = mustLoad(t, minimal+"host:\n  networks:\n    ipv6: true\n    addresses:\n      proxy:\n        subnet: 10.9.0.0/16\n        ipv6_subnet: fd00:9::/64\n")
	if got := c.Host.Networks.Addresses.Proxy.Gateway; got != "10.9.0.1" {
		t.Errorf("gateway of subnet 10.9.0.0/16 = %q, want 10.9.0.1", got)
	}
	want = []string{"127.0.0.1/32", "::1/128", "10.9.0.1/32", "10.231.1.1/32", "fd00:9::1/128", "fd6d:6174:7269:7801::1/128"}
	if got := c.Traefik.BehindProxy.TrustedIPs; !slices.Equal(got, want) {
		t.Errorf("traefik.behind_proxy.trusted_ips with IPv6 = %q, want %q", got, want)
	}

	// The schema's defaults never clash with each other, whatever proxy.
	for _, proxy := range []string{"traefik", "nginx"} {
		mustLoad(t, minimal+"host:\n  networks:\n    ipv6: true\nreverse_proxy:\n  type: "+proxy+"\n")
	}
}

// One name for both networks is one network: its addresses are the
// homeserver's, and the proxy's cannot overlap with them.
func TestNetworkAddressesOneNetwork(t *testing.T) {
	mustLoad(t, minimal+"host:\n  networks:\n    proxy: matrix\n    addresses:\n      proxy:\n        subnet: 10.231.1.0/24\n")
}
