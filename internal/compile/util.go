package compile

import (
	"net"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

// cidrRange writes an IPv4 CIDR block as the first-last range coturn's
// denied-peer-ip option takes.
func cidrRange(cidr string) string {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		panic(err) // our own constant
	}
	first := n.IP.To4()
	last := make(net.IP, 4)
	for i := range first {
		last[i] = first[i] | ^n.Mask[i]
	}
	return first.String() + "-" + last.String()
}
