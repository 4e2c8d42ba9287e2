package validate

import (
	"strings"
	"testing"
)

// TestRTCRules: each way MatrixRTC cannot work on a server is refused at
// the option that does it, at the line the user wrote.
func TestRTCRules(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, at, says string
		line                 int // of the offending option in minimal+yaml
	}{
		{"no federation", "homeserver: {federation: {enabled: false}}\nrtc:\n  enabled: true\n",
			"rtc.enabled", "needs homeserver.federation.enabled", 6},
		{"empty relay range", "rtc:\n  enabled: true\n  livekit:\n    turn: {enabled: true, relay_min_port: 30010, relay_max_port: 30000}\n",
			"rtc.livekit.turn.relay_min_port", "relay range is empty", 7},
		{"relay range over the UDP port", "rtc:\n  enabled: true\n  livekit:\n    udp_port: 30005\n    turn: {enabled: true}\n",
			"rtc.livekit.turn.relay_min_port", "rtc.livekit.udp_port", 8},
		{"LiveKit's host port on Element's", "reverse_proxy: {type: nginx}\nrtc:\n  enabled: true\n  livekit:\n    host_port: 8765\n",
			"rtc.livekit.host_port", "already published for Element", 8},
		{"both host ports alike", "reverse_proxy: {type: caddy}\nrtc:\n  enabled: true\n  jwt_service:\n    host_port: 7880\n",
			"rtc.jwt_service.host_port", "already published for rtc.livekit.host_port", 8},
		{"Ketesa's path", "ketesa: {enabled: true, path: /livekit-server}\nrtc:\n  enabled: true\n",
			"ketesa.path", "the LiveKit server (rtc)", 4},
		{"a bot named after the JWT service", "bots:\n  livekit-jwt-service: {type: maubot}\nrtc:\n  enabled: true\n",
			"bots.livekit-jwt-service", "unit matrix-livekit-jwt-service", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := Load("matrix.yaml", []byte(minimal+tc.yaml))
			if len(problems) != 1 {
				t.Fatalf("want one problem, got:\n%s", printed(problems))
			}
			p := problems[0]
			if p.Path != tc.at || !strings.Contains(p.Summary, tc.says) || p.Subject.Start.Line != tc.line {
				t.Errorf("got %s: %s (line %d), want %s: …%s… at line %d", p.Path, p.Summary, p.Subject.Start.Line, tc.at, tc.says, tc.line)
			}
		})
	}
}

// TestRTCAccepted: the defaults fit every proxy, with coturn beside them,
// and rtc off checks nothing.
func TestRTCAccepted(t *testing.T) {
	for _, src := range []string{
		"rtc: {enabled: true}\n",
		"rtc: {enabled: true, livekit: {turn: {enabled: true}, node_ip: 203.0.113.7}}\ncoturn: {enabled: true}\n",
		"reverse_proxy: {type: nginx}\nrtc: {enabled: true}\nketesa: {enabled: true}\n",
		"homeserver: {federation: {enabled: false}}\nrtc: {enabled: false, livekit: {udp_port: 443}}\n",
		"rtc: {enabled: true, jwt_service: {full_access_homeservers: [example.org, example.net]}}\n",
	} {
		mustLoad(t, minimal+src)
	}
}
