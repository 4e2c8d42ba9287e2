package validate

import (
	"fmt"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

// rtcChecks check MatrixRTC against the rest of the config, when rtc is on.
var rtcChecks = onlyWhen(func(c *config.Config) bool { return c.RTC.Enabled },
	rtcNeedsFederation,
	rtcTURNRelayRange,
	rtcMediaPortsFree,
	rtcHostPortsFree,
)

// rtcNeedsFederation: the JWT service learns who a user is by asking the
// user's homeserver, through its federation API, about the OpenID token
// the client hands over.
func rtcNeedsFederation(c *config.Config, ix *index) diag.List {
	if c.Homeserver.Federation.Enabled {
		return nil
	}
	return problem(ix, "rtc.enabled", "MatrixRTC needs homeserver.federation.enabled: the LiveKit JWT service checks users' OpenID tokens through Synapse's federation API")
}

func rtcTURNRelayRange(c *config.Config, ix *index) diag.List {
	t := c.RTC.LiveKit.TURN
	if t.Enabled && t.RelayMinPort > t.RelayMaxPort {
		return problem(ix, "rtc.livekit.turn.relay_min_port", "the relay range is empty: %d is above relay_max_port %d", t.RelayMinPort, t.RelayMaxPort)
	}
	return nil
}

// portUse is a host port LiveKit's media takes, or another part of the
// bundle publishes on every address.
type portUse struct {
	first, last int
	proto       string
	path, what  string
}

func (p portUse) overlaps(q portUse) bool {
	return p.proto == q.proto && p.first <= q.last && q.first <= p.last
}

func (p portUse) String() string {
	if p.first == p.last {
		return fmt.Sprintf("%d/%s", p.first, p.proto)
	}
	return fmt.Sprintf("%d-%d/%s", p.first, p.last, p.proto)
}

// rtcMediaPortsFree: LiveKit's media ports are published on every
// address, where two of them cannot share a port. A clash with another
// service's published port (Traefik's, coturn's) is found on the plan,
// which knows the ports compile decides.
func rtcMediaPortsFree(c *config.Config, ix *index) diag.List {
	lk := c.RTC.LiveKit
	ours := []portUse{
		{lk.TCPPort, lk.TCPPort, "tcp", "rtc.livekit.tcp_port", "rtc.livekit.tcp_port"},
		{lk.UDPPort, lk.UDPPort, "udp", "rtc.livekit.udp_port", "rtc.livekit.udp_port"},
	}
	if t := lk.TURN; t.Enabled {
		ours = append(ours,
			portUse{t.UDPPort, t.UDPPort, "udp", "rtc.livekit.turn.udp_port", "rtc.livekit.turn.udp_port"},
			portUse{t.RelayMinPort, t.RelayMaxPort, "udp", "rtc.livekit.turn.relay_min_port", "LiveKit's TURN relay range"})
	}
	var out diag.List
	for i, p := range ours {
		for _, q := range ours[:i] {
			if p.overlaps(q) {
				out = append(out, problem(ix, p.path, "port %s is already used by %s (%s)", p, q.what, q)...)
				break
			}
		}
	}
	return out
}

// rtcHostPortsFree: with the operator's own webserver the LiveKit server
// and the JWT service publish their HTTP ports on the bind address, as
// every other service does, where two cannot share one.
func rtcHostPortsFree(c *config.Config, ix *index) diag.List {
	if c.ReverseProxy.Type == "traefik" {
		return nil
	}
	taken := reserved.FixedHostPorts()
	if c.Ketesa.Enabled {
		taken[c.Ketesa.HostPort] = "Ketesa (ketesa.host_port)"
	}
	for _, e := range bridgesAndBots(c) {
		if e.hostPort != 0 && taken[e.hostPort] == "" {
			taken[e.hostPort] = e.path
		}
	}
	var out diag.List
	for _, p := range []struct {
		path string
		port int
	}{
		{"rtc.livekit.host_port", c.RTC.LiveKit.HostPort},
		{"rtc.jwt_service.host_port", c.RTC.JWTService.HostPort},
	} {
		switch {
		case reserved.IsWorkerPort(p.port):
			out = append(out, problem(ix, p.path, "port %d is in %s, where Synapse's workers publish theirs; choose another", p.port, reserved.WorkerRange())...)
		case taken[p.port] != "":
			out = append(out, problem(ix, p.path, "port %d is already published for %s; choose another", p.port, taken[p.port])...)
		default:
			taken[p.port] = p.path
		}
	}
	return out
}
