package config

// RTC is MatrixRTC: the LiveKit server calls run through, and the JWT
// service that admits users to it.
type RTC struct {
	Enabled     bool           `json:"enabled"`
	LiveKit     LiveKit        `json:"livekit"`
	JWTService  JWTService     `json:"jwt_service"`
	ElementCall ElementCallWeb `json:"element_call"`
}

type LiveKit struct {
	Image    string      `json:"image"`
	TCPPort  int         `json:"tcp_port"`
	UDPPort  int         `json:"udp_port"`
	NodeIP   string      `json:"node_ip,omitempty"`
	HostPort int         `json:"host_port"`
	TURN     LiveKitTURN `json:"turn"`
}

type LiveKitTURN struct {
	Enabled      bool `json:"enabled"`
	UDPPort      int  `json:"udp_port"`
	RelayMinPort int  `json:"relay_min_port"`
	RelayMaxPort int  `json:"relay_max_port"`
}

type JWTService struct {
	Image                 string   `json:"image"`
	FullAccessHomeservers []string `json:"full_access_homeservers"`
	HostPort              int      `json:"host_port"`
}

// ElementCallWeb is what Element Web's config.json says about Element Call.
type ElementCallWeb struct {
	UseExclusively   bool `json:"use_exclusively"`
	ParticipantLimit int  `json:"participant_limit"`
}
