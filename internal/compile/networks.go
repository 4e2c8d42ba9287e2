package compile

import "github.com/matrixgen/matrixgen/internal/plan"

// otherFamily is the address of the other IP family that means the same
// as a published port's address: loopback for loopback, every address for
// every address. Other addresses belong to one interface and have none.
var otherFamily = map[string]string{
	"127.0.0.1": "::1",
	"::1":       "127.0.0.1",
	"0.0.0.0":   "::",
	"::":        "0.0.0.0",
}

// publishBothFamilies publishes, with host.networks.ipv6, every port that
// a container publishes on one family's loopback or wildcard address on
// the other family's too, so that a client of either family reaches it.
// A port published on every address ("") is on both already.
func (b *builder) publishBothFamilies() {
	if !b.cfg.Host.Networks.IPv6 {
		return
	}
	for i := range b.plan.Services {
		s := &b.plan.Services[i]
		var out []plan.Publish
		for _, pub := range s.Publish {
			out = append(out, pub)
			if other, ok := otherFamily[pub.HostAddress]; ok {
				twin := pub
				twin.HostAddress = other
				out = append(out, twin)
			}
		}
		s.Publish = out
	}
}
