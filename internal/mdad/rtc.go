package mdad

import "go.yaml.in/yaml/v3"

// The playbook's MatrixRTC stack: matrix_rtc_enabled turns on its LiveKit
// server (the livekit_server_* variables of the MASH role) and its JWT
// service (matrix_livekit_jwt_service_*), which become the rtc section.
// Calls in Element Web use the Element Call it embeds; the playbook's
// self-hosted Element Call app (matrix_element_call_*) has no equivalent.
var rtcRows = []row{
	{name: "matrix_rtc_enabled", option: "rtc.enabled", conv: boolean},
	{name: "matrix_element_call_enabled", fn: elementCallEnabled},
	{name: "matrix_element_call_*", why: whyElementCallApp},
	{name: "livekit_server_config_rtc_tcp_port", option: "rtc.livekit.tcp_port", conv: integer, when: rtcOn},
	{name: "livekit_server_config_rtc_udp_port", option: "rtc.livekit.udp_port", conv: integer, when: rtcOn},
	{name: "livekit_server_config_rtc_node_ip", fn: liveKitNodeIP, when: rtcOn},
	{name: "livekit_server_config_turn_enabled", option: "rtc.livekit.turn.enabled", conv: boolean, when: rtcOn},
	{name: "livekit_server_config_turn_udp_port", option: "rtc.livekit.turn.udp_port", conv: integer, when: rtcOn},
	{name: "livekit_server_config_turn_relay_range_start", option: "rtc.livekit.turn.relay_min_port", conv: integer, when: rtcOn},
	{name: "livekit_server_config_turn_relay_range_end", option: "rtc.livekit.turn.relay_max_port", conv: integer, when: rtcOn},
	{name: "livekit_server_config_turn_external_tls", why: "matrixgen runs LiveKit's TURN over UDP only; clients that need TURN over TLS fall back to ICE over TCP (rtc.livekit.tcp_port)"},
	{name: "matrix_livekit_jwt_service_environment_variable_livekit_full_access_homeservers_list_custom", fn: fullAccessHomeservers, when: rtcOn},
	{name: "matrix_livekit_jwt_service_environment_variable_livekit_key", why: whyLiveKitKeys},
	{name: "matrix_livekit_jwt_service_environment_variable_livekit_secret", why: whyLiveKitKeys},
	{name: "matrix_client_element_element_call_use_exclusively", option: "rtc.element_call.use_exclusively", conv: boolean, when: rtcOn},
	{name: "matrix_client_element_element_call_participant_limit", option: "rtc.element_call.participant_limit", conv: integer, when: rtcOn},
}

const (
	whyElementCallApp = "matrixgen does not serve the Element Call web app; Element Web and Element X call through the Element Call they embed, which rtc.enabled serves"
	whyLiveKitKeys    = "only LiveKit and the JWT service share the API key and secret; install.sh makes new ones (livekit-api-key, livekit-api-secret)"
)

func (t *translator) rtcEnabled() bool {
	rtc, _ := t.flag("matrix_rtc_enabled")
	call, _ := t.flag("matrix_element_call_enabled")
	return rtc || call
}

func rtcOn(t *translator) string {
	if t.rtcEnabled() {
		return ""
	}
	return "MatrixRTC is off (matrix_rtc_enabled)"
}

// elementCallEnabled: in the playbook the Element Call app brings the
// whole MatrixRTC stack with it, so it turns calls on here.
func elementCallEnabled(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case !on:
		t.readVar(v, "the Element Call app is off; calls follow matrix_rtc_enabled")
	case t.isSet("matrix_rtc_enabled"):
		t.notTranslated(v, "rtc.enabled comes from matrix_rtc_enabled; "+whyElementCallApp)
	default:
		t.set(v, "rtc.enabled", boolNode(true))
		t.notes = append(t.notes, "rtc.enabled: true (matrix_element_call_enabled brings the MatrixRTC stack; "+whyElementCallApp+")")
	}
}

// liveKitNodeIP: the role's default is "", LiveKit finding the address
// itself, which is what leaving rtc.livekit.node_ip unset does.
func liveKitNodeIP(t *translator, v *variable, n *yaml.Node) {
	s, err := scalarText(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case s == "":
		t.readVar(v, "empty: LiveKit finds the host's public address itself, as without rtc.livekit.node_ip")
	default:
		t.set(v, "rtc.livekit.node_ip", strNode(s))
	}
}

// fullAccessHomeservers: the playbook lets the users of matrix_domain
// open calls, and those of the servers the custom list adds.
func fullAccessHomeservers(t *translator, v *variable, n *yaml.Node) {
	extra, err := stringList(n)
	if err != nil {
		t.notTranslated(v, err.Error())
		return
	}
	list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	if d, ok := t.out.get("domain"); ok {
		list.Content = append(list.Content, strNode(d.Value))
	}
	list.Content = append(list.Content, extra.Content...)
	t.set(v, "rtc.jwt_service.full_access_homeservers", list)
}

// rtcDefaults: with the playbook's own Traefik, its LiveKit runs TURN
// (over UDP, and over TLS through Traefik) unless vars.yml turns it off.
func (t *translator) rtcDefaults() {
	if !t.rtcEnabled() {
		return
	}
	if t.ourTraefik() && !t.isSet("livekit_server_config_turn_enabled") {
		t.setDefault("rtc.livekit.turn.enabled", boolNode(true), "not in vars.yml: behind its own Traefik the playbook runs LiveKit's TURN; matrixgen runs it over UDP")
	}
}
