package compile

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

const (
	liveKitUnit = "matrix-livekit-server"
	// liveKitPort serves LiveKit's HTTP API and the WebSocket signalling
	// clients open before media flows.
	liveKitPort       = 7880
	liveKitConfigFile = "/etc/livekit/config.yaml"
	liveKitKeysFile   = "/etc/livekit/keys.yaml"
	jwtServiceUnit    = "matrix-livekit-jwt-service"
	jwtServicePort    = 8080
	// The API key and secret LiveKit accepts and the JWT service signs
	// its tokens with.
	liveKitKeySecret    = "livekit-api-key"
	liveKitSecretSecret = "livekit-api-secret"
)

// addRTC adds MatrixRTC: the LiveKit server calls' media flows through,
// and the JWT service that turns a Matrix user's OpenID token into a
// LiveKit token. Synapse's settings, the well-known entry and Element's
// settings are added where those files are built (rtcSynapseConfig,
// rtcFoci, rtcElementConfig).
func addRTC(b *builder) {
	b.secret(liveKitKeySecret, "API key of the LiveKit server", liveKitUnit, jwtServiceUnit)
	b.secret(liveKitSecretSecret, "API secret of the LiveKit server", liveKitUnit, jwtServiceUnit)
	addLiveKit(b)
	addJWTService(b)
}

func addLiveKit(b *builder) {
	lk := b.cfg.RTC.LiveKit
	dir := b.dataPath("livekit-server")
	configDir := dir + "/config"
	b.dir(dir, 0o750)
	b.dir(configDir, 0o750)
	b.file(plan.File{Path: configDir + "/config.yaml", Format: plan.YAML, Value: liveKitConfig(b), Restarts: []string{liveKitUnit}})
	// LiveKit reads its keys from a file of "key: secret" lines, which it
	// refuses unless others cannot read it: the filled file is 0600.
	keys := plan.SecretPlaceholder(liveKitKeySecret) + ": " + plan.SecretPlaceholder(liveKitSecretSecret) + "\n"
	b.file(plan.File{Path: configDir + "/keys.yaml", Content: []byte(keys),
		Secrets: []string{liveKitKeySecret, liveKitSecretSecret}, Restarts: []string{liveKitUnit}})
	b.service(plan.Service{
		Unit:        liveKitUnit,
		Description: "LiveKit server (MatrixRTC media)",
		Image:       lk.Image,
		Command:     []string{"--config", liveKitConfigFile},
		Mounts: []plan.Mount{
			{Source: configDir + "/config.yaml", Target: liveKitConfigFile, ReadOnly: true},
			{Source: configDir + "/keys.yaml", Target: liveKitKeysFile, ReadOnly: true},
		},
		Tmpfs:    []string{"/tmp"},
		Networks: []string{b.cfg.Host.Networks.Proxy},
		// Media reaches LiveKit directly, not through the reverse proxy:
		// these ports are published on every address, whichever proxy
		// serves the signalling.
		Publish: liveKitMediaPorts(b),
		Listens: []plan.Listen{{Name: "http", Port: liveKitPort, HostPort: lk.HostPort}},
	})
	// The image is Alpine's, whose busybox has wget; LiveKit answers "/"
	// with 200 once its node is up.
	b.health(liveKitUnit, 60, "docker", "exec", liveKitUnit, "wget", "-q", "-O", "/dev/null",
		fmt.Sprintf("http://127.0.0.1:%d/", liveKitPort))
	b.route(plan.Route{Name: "livekit-server", Host: b.cfg.Hostnames.Homeserver,
		PathPrefix: reserved.LiveKitPath + "/", StripPrefix: true,
		Entrypoint: plan.EntrypointClient, Service: liveKitUnit, Port: liveKitPort,
		Settings: plan.RouteSettings{WebSocket: true}})
}

// liveKitMediaPorts are the ports media uses: ICE over TCP and over one
// UDP port, and with TURN on, its port and relay range.
func liveKitMediaPorts(b *builder) []plan.Publish {
	lk := b.cfg.RTC.LiveKit
	same := func(port int, proto string, option string) plan.Publish {
		return plan.Publish{HostPort: port, ContainerPort: port, Protocol: proto, Origin: plan.Origin(option)}
	}
	out := []plan.Publish{same(lk.TCPPort, "tcp", "rtc.livekit.tcp_port"), same(lk.UDPPort, "udp", "rtc.livekit.udp_port")}
	if t := lk.TURN; t.Enabled {
		out = append(out, same(t.UDPPort, "udp", "rtc.livekit.turn.udp_port"))
		for p := t.RelayMinPort; p <= t.RelayMaxPort; p++ {
			out = append(out, same(p, "udp", "rtc.livekit.turn.relay_min_port"))
		}
	}
	return out
}

// liveKitConfig is LiveKit's config.yaml. LiveKit reads it strictly: a key
// it does not know stops it at start.
func liveKitConfig(b *builder) obj {
	lk := b.cfg.RTC.LiveKit
	rtc := obj{"tcp_port": lk.TCPPort, "udp_port": lk.UDPPort}
	if lk.NodeIP != "" {
		rtc["node_ip"] = lk.NodeIP
	} else {
		rtc["use_external_ip"] = true
	}
	cfg := obj{
		"port":     liveKitPort,
		"rtc":      rtc,
		"key_file": liveKitKeysFile,
		// Only the JWT service opens rooms, and only for users of
		// rtc.jwt_service.full_access_homeservers; with auto_create on,
		// any token holder's join would open one.
		"room":    obj{"auto_create": false},
		"logging": obj{"level": "info"},
	}
	if t := lk.TURN; t.Enabled {
		cfg["turn"] = obj{
			"enabled":           true,
			"udp_port":          t.UDPPort,
			"relay_range_start": t.RelayMinPort,
			"relay_range_end":   t.RelayMaxPort,
		}
	}
	return cfg
}

func addJWTService(b *builder) {
	c := b.cfg
	b.service(plan.Service{
		Unit:        jwtServiceUnit,
		Description: "LiveKit JWT service (MatrixRTC authorisation)",
		Image:       c.RTC.JWTService.Image,
		Env:         jwtServiceEnv(b),
		Mounts:      []plan.Mount{b.secretFileMount(liveKitKeySecret), b.secretFileMount(liveKitSecretSecret)},
		Networks:    []string{c.Host.Networks.Proxy},
		// No Wants on LiveKit: the service reaches it only when a client
		// asks for a token, through its public URL.
		Listens: []plan.Listen{{Name: "http", Port: jwtServicePort, HostPort: c.RTC.JWTService.HostPort}},
	})
	b.route(plan.Route{Name: "livekit-jwt-service", Host: c.Hostnames.Homeserver,
		PathPrefix: reserved.JWTServicePath + "/", StripPrefix: true,
		// The service answers CORS itself; a second set of headers
		// from the proxy would make browsers refuse the answer.
		Entrypoint: plan.EntrypointClient, Service: jwtServiceUnit, Port: jwtServicePort})
}

// jwtServiceEnv configures lk-jwt-service, which reads only its
// environment. The key and secret it reads from their files.
func jwtServiceEnv(b *builder) []plan.EnvVar {
	c := b.cfg
	return []plan.EnvVar{
		{Name: "LIVEKIT_URL", Value: liveKitPublicURL(b)},
		{Name: "LIVEKIT_KEY_FROM_FILE", Value: secretMount(liveKitKeySecret)},
		{Name: "LIVEKIT_SECRET_FROM_FILE", Value: secretMount(liveKitSecretSecret)},
		{Name: "LIVEKIT_JWT_BIND", Value: fmt.Sprintf(":%d", jwtServicePort)},
		{Name: "LIVEKIT_FULL_ACCESS_HOMESERVERS", Value: strings.Join(c.RTC.JWTService.FullAccessHomeservers, ",")},
		// Where this server's client API is, without a well-known lookup
		// of the domain, which may be another website.
		{Name: "LIVEKIT_CS_API_URL_OVERRIDES", Value: c.Domain + "=https://" + c.Hostnames.Homeserver},
	}
}

// liveKitPublicURL is where clients open LiveKit's signalling WebSocket;
// the JWT service hands it to them with each token.
func liveKitPublicURL(b *builder) string {
	return "wss://" + b.cfg.Hostnames.Homeserver + reserved.LiveKitPath
}

// jwtServicePublicURL is the JWT service's base URL, as clients find it
// in the well-known file and Synapse's transports.
func jwtServicePublicURL(b *builder) string {
	return "https://" + b.cfg.Hostnames.Homeserver + reserved.JWTServicePath
}

// rtcFoci is the MatrixRTC entry of /.well-known/matrix/client (MSC4143).
func rtcFoci(b *builder) []any {
	return []any{obj{"type": "livekit", "livekit_service_url": jwtServicePublicURL(b)}}
}

// rtcSynapseConfig is what Synapse needs for MatrixRTC: MSC4143's
// transports endpoint listing the JWT service, state_after in sync
// (MSC4222), sticky events (MSC4354), delayed events (MSC4140, on while a
// maximum delay is set), and rate limits that let clients send encryption
// keys and restart delayed events as often as calls do. The room summary API (MSC3266), which Element Call asks
// before joining a room over federation, needs no flag: Synapse serves
// it since v1.153, where it became stable.
func rtcSynapseConfig(b *builder) obj {
	return obj{
		"experimental_features": obj{
			"msc4143_enabled": true,
			"msc4222_enabled": true,
			"msc4354_enabled": true,
		},
		"matrix_rtc":               obj{"transports": rtcFoci(b)},
		"max_event_delay_duration": "24h",
		// Key sharing for encrypted calls comes in bursts.
		"rc_message": obj{"per_second": 0.5, "burst_count": 30},
		// A call restarts its delayed leave event every few seconds.
		"rc_delayed_event_mgmt": obj{"per_second": 1, "burst_count": 20},
	}
}

// rtcElementConfig turns on calls through Element Call, embedded in
// Element Web, and the features that use it.
func rtcElementConfig(b *builder) obj {
	ec := b.cfg.RTC.ElementCall
	return obj{
		"element_call": obj{
			"use_exclusively":   ec.UseExclusively,
			"participant_limit": ec.ParticipantLimit,
			"brand":             "Element Call",
		},
		"features": obj{
			"feature_group_calls":              true,
			"feature_video_rooms":              true,
			"feature_element_call_video_rooms": true,
		},
	}
}
