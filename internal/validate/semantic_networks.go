package validate

import (
	"net/netip"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// networkRole is one Docker network of host.networks, with the option
// paths of its addresses.
type networkRole struct {
	role string // "homeserver" or "proxy"
	name string
	addr config.NetworkAddress
}

func (r networkRole) path(field string) string {
	return "host.networks.addresses." + r.role + "." + field
}

// Subnet sizes that leave room for the gateway and the containers, and
// that Docker accepts.
const (
	maxIPv4SubnetBits = 28
	maxIPv6SubnetBits = 120
)

// networkAddresses checks the subnets install.sh creates the Docker
// networks with: each a usable network with its gateway inside, and no
// two overlapping, which Docker would refuse on the host, late and far
// from the line that caused it.
func networkAddresses(c *config.Config, ix *index) diag.List {
	n := c.Host.Networks
	roles := []networkRole{{"homeserver", n.Homeserver, n.Addresses.Homeserver}}
	// The proxy network exists only for Traefik, and is the homeserver's
	// when both have one name.
	if c.ReverseProxy.Type == "traefik" && n.Proxy != n.Homeserver {
		roles = append(roles, networkRole{"proxy", n.Proxy, n.Addresses.Proxy})
	}
	var out diag.List
	type family struct {
		subnet, gateway string
		v6              bool
	}
	families := []family{{"subnet", "gateway", false}}
	if n.IPv6 {
		families = append(families, family{"ipv6_subnet", "ipv6_gateway", true})
	}
	subnets := map[string][]netip.Prefix{}
	for _, r := range roles {
		for _, f := range families {
			subnet, gateway := r.addr.Subnet, r.addr.Gateway
			if f.v6 {
				subnet, gateway = r.addr.IPv6Subnet, r.addr.IPv6Gateway
			}
			p, problems := usableSubnet(ix, r.path(f.subnet), subnet, f.v6)
			out = append(out, problems...)
			if p.IsValid() {
				out = append(out, gatewayInside(ix, r.path(f.gateway), gateway, p, r.path(f.subnet))...)
			}
			// An invalid prefix keeps the place of a refused subnet, so
			// that the overlap check below skips it.
			subnets[f.subnet] = append(subnets[f.subnet], p)
		}
	}
	if len(roles) == 2 {
		for _, f := range families {
			a, b := subnets[f.subnet][0], subnets[f.subnet][1]
			if a.IsValid() && b.IsValid() && a.Overlaps(b) {
				// Point at the subnet the user wrote; both may be.
				at, other := roles[1], roles[0]
				if _, set := ix.nodes[at.path(f.subnet)]; !set {
					at, other = other, at
				}
				out = append(out, problem(ix, at.path(f.subnet), "%s overlaps %s (%s): Docker networks %s and %s need subnets of their own",
					subnetOf(at, f.v6), other.path(f.subnet), subnetOf(other, f.v6), at.name, other.name)...)
			}
		}
	}
	return out
}

func subnetOf(r networkRole, v6 bool) string {
	if v6 {
		return r.addr.IPv6Subnet
	}
	return r.addr.Subnet
}

// usableSubnet parses a subnet and refuses one Docker cannot give
// containers addresses from. The schema checks the shape only.
func usableSubnet(ix *index, path, value string, v6 bool) (netip.Prefix, diag.List) {
	p, err := netip.ParsePrefix(value)
	family, maxBits := "IPv4", maxIPv4SubnetBits
	if v6 {
		family, maxBits = "IPv6", maxIPv6SubnetBits
	}
	switch {
	case err != nil || p.Addr().Is6() != v6 || p.Addr().Is4In6():
		return netip.Prefix{}, problem(ix, path, "%s is not an %s network", value, family)
	case p.Masked() != p:
		return netip.Prefix{}, problem(ix, path, "%s has bits set after its prefix; the network is %s", value, p.Masked())
	case p.Bits() > maxBits:
		return netip.Prefix{}, problem(ix, path, "%s is too small for a Docker network: at most /%d, to leave room for the gateway and the containers", value, maxBits)
	case !p.Addr().IsPrivate() && !p.Addr().IsGlobalUnicast():
		return netip.Prefix{}, problem(ix, path, "%s is a loopback, link-local, multicast or reserved network; choose a private one (10.0.0.0/8, %s)", value, privateHint(v6))
	}
	return p, nil
}

func privateHint(v6 bool) string {
	if v6 {
		return "or a unique local fd00::/8 network"
	}
	return "172.16.0.0/12 or 192.168.0.0/16"
}

// gatewayInside refuses a gateway outside its subnet, or one of the
// subnet's addresses that no host can have.
func gatewayInside(ix *index, path, value string, subnet netip.Prefix, subnetOption string) diag.List {
	a, err := netip.ParseAddr(value)
	switch {
	case err != nil || a.Is6() != subnet.Addr().Is6() || a.Is4In6():
		return problem(ix, path, "%s is not an address of the %s network's family", value, subnet)
	case !subnet.Contains(a):
		return problem(ix, path, "gateway %s is outside its subnet %s (%s)", value, subnet, subnetOption)
	case a == subnet.Addr():
		return problem(ix, path, "gateway %s is the subnet's own network address; the first usable one is %s", value, subnet.Addr().Next())
	case a.Is4() && a == lastAddress(subnet):
		return problem(ix, path, "gateway %s is the subnet's broadcast address", value)
	}
	return nil
}

func lastAddress(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= uint32(1)<<host - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
