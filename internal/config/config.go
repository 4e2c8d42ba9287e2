// Package config is the validated, typed form of matrix.yaml, with every
// default applied. Only internal/validate makes one; later stages trust it.
package config

// Config mirrors #Config in schema/. Field tags are the option names.
type Config struct {
	Version   int       `json:"version"`
	Domain    string    `json:"domain"`
	Hostnames Hostnames `json:"hostnames"`
	Host      Host      `json:"host"`
	Synapse   Synapse   `json:"synapse"`

	Homeserver   Homeserver      `json:"homeserver"`
	Dendrite     OtherHomeserver `json:"dendrite"`
	Continuwuity OtherHomeserver `json:"continuwuity"`
	Tuwunel      OtherHomeserver `json:"tuwunel"`

	Postgres  Postgres  `json:"postgres"`
	Traefik   Traefik   `json:"traefik"`
	Element   Element   `json:"element"`
	WellKnown WellKnown `json:"well_known"`
	Mailer    Mailer    `json:"mailer"`
	Coturn    Coturn    `json:"coturn"`
	Valkey    Valkey    `json:"valkey"`
	Bridges   Bridges   `json:"bridges"`
	Bots      Bots      `json:"bots"`
	Ketesa    Ketesa    `json:"ketesa"`
	MAS       MAS       `json:"mas"`
	RTC       RTC       `json:"rtc"`

	Kubernetes Kubernetes `json:"kubernetes"`

	Monitoring  Monitoring  `json:"monitoring"`
	Backup      Backup      `json:"backup"`
	Maintenance Maintenance `json:"maintenance"`

	ReverseProxy ReverseProxy `json:"reverse_proxy"`
}

type ReverseProxy struct {
	Type        string   `json:"type"`
	BindAddress string   `json:"bind_address"`
	TLS         ProxyTLS `json:"tls"`
	AdminAPI    AdminAPI `json:"admin_api"`
}

type ProxyTLS struct {
	Mode           string   `json:"mode"`
	CertificateDir string   `json:"certificate_dir"`
	TrustedProxies []string `json:"trusted_proxies"`
}

type AdminAPI struct {
	Enabled bool     `json:"enabled"`
	Allow   []string `json:"allow"`
}

type Hostnames struct {
	Homeserver string `json:"homeserver"`
	Element    string `json:"element"`
}

type Host struct {
	DataDir  string   `json:"data_dir"`
	User     string   `json:"user"`
	Group    string   `json:"group"`
	UID      *int     `json:"uid,omitempty"`
	GID      *int     `json:"gid,omitempty"`
	Networks Networks `json:"networks"`

	InstallDocker bool `json:"install_docker"`
}

type Networks struct {
	Homeserver string           `json:"homeserver"`
	Proxy      string           `json:"proxy"`
	IPv6       bool             `json:"ipv6"`
	Addresses  NetworkAddresses `json:"addresses"`
}

// NetworkAddresses holds each network's addresses, by the role of the
// network (the fields of Networks that name them).
type NetworkAddresses struct {
	Homeserver NetworkAddress `json:"homeserver"`
	Proxy      NetworkAddress `json:"proxy"`
}

type NetworkAddress struct {
	Subnet      string `json:"subnet"`
	Gateway     string `json:"gateway"`
	IPv6Subnet  string `json:"ipv6_subnet"`
	IPv6Gateway string `json:"ipv6_gateway"`
}

type Synapse struct {
	Image              string           `json:"image"`
	URLPreviews        Toggle           `json:"url_previews"`
	LimitRemoteRooms   LimitRemoteRooms `json:"limit_remote_rooms"`
	AdminContact       string           `json:"admin_contact"`
	Metrics            Metrics          `json:"metrics"`
	LogLevel           string           `json:"log_level"`
	SigningKeyImport   string           `json:"signing_key_import,omitempty"`
	Workers            Workers          `json:"workers"`
	SSO                SSO              `json:"sso"`
	MediaRetention     MediaRetention   `json:"media_retention"`
	ForgetRoomsOnLeave bool             `json:"forget_rooms_on_leave"`
	Extra              map[string]any   `json:"extra"`
}

type SSO struct {
	OIDCProviders []OIDCProvider `json:"oidc_providers"`
}

type OIDCProvider struct {
	IDPID                 string                 `json:"idp_id"`
	IDPName               string                 `json:"idp_name,omitempty"`
	IDPIcon               string                 `json:"idp_icon,omitempty"`
	IDPBrand              string                 `json:"idp_brand,omitempty"`
	Issuer                string                 `json:"issuer"`
	Discover              bool                   `json:"discover"`
	ClientID              string                 `json:"client_id"`
	ClientAuthMethod      string                 `json:"client_auth_method"`
	PKCEMethod            string                 `json:"pkce_method"`
	Scopes                []string               `json:"scopes"`
	AuthorizationEndpoint string                 `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string                 `json:"token_endpoint,omitempty"`
	UserinfoEndpoint      string                 `json:"userinfo_endpoint,omitempty"`
	JWKSURI               string                 `json:"jwks_uri,omitempty"`
	UserProfileMethod     string                 `json:"user_profile_method"`
	AllowExistingUsers    bool                   `json:"allow_existing_users"`
	EnableRegistration    bool                   `json:"enable_registration"`
	BackchannelLogout     bool                   `json:"backchannel_logout_enabled"`
	AttributeRequirements []AttributeRequirement `json:"attribute_requirements"`
	UserMapping           OIDCUserMapping        `json:"user_mapping"`
	Extra                 map[string]any         `json:"extra"`
}

type AttributeRequirement struct {
	Attribute string  `json:"attribute"`
	Value     *string `json:"value,omitempty"`
}

type OIDCUserMapping struct {
	LocalpartTemplate   string `json:"localpart_template,omitempty"`
	DisplayNameTemplate string `json:"display_name_template,omitempty"`
	EmailTemplate       string `json:"email_template,omitempty"`
	SubjectTemplate     string `json:"subject_template,omitempty"`
	ConfirmLocalpart    *bool  `json:"confirm_localpart,omitempty"`
}

// TURN is a TURN server run outside the bundle.
type TURN struct {
	URIs         []string `json:"uris"`
	AllowGuests  bool     `json:"allow_guests"`
	UserLifetime string   `json:"user_lifetime"`
}

type Registration struct {
	Mode            string   `json:"mode"`
	Require3PID     []string `json:"require_3pid"`
	AllowUnverified bool     `json:"allow_unverified"`
}

type Federation struct {
	Enabled bool `json:"enabled"`
	Port    int  `json:"port"`
}

type Toggle struct {
	Enabled bool `json:"enabled"`
}

type LimitRemoteRooms struct {
	Enabled       bool    `json:"enabled"`
	Complexity    float64 `json:"complexity"`
	AdminsCanJoin bool    `json:"admins_can_join"`
}

type Metrics struct {
	Enabled bool `json:"enabled"`
	Port    int  `json:"port"`
}

type Postgres struct {
	Mode     string           `json:"mode"`
	Bundled  BundledPostgres  `json:"bundled"`
	External ExternalPostgres `json:"external"`
}

type BundledPostgres struct {
	Major          int            `json:"major"`
	MemoryMB       int            `json:"memory_mb"`
	Superuser      string         `json:"superuser"`
	MaxConnections int            `json:"max_connections"`
	Extra          map[string]any `json:"extra"`
}

type ExternalPostgres struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Database string `json:"database"`
	User     string `json:"user"`
	SSLMode  string `json:"sslmode"`
}

type Traefik struct {
	Image        string         `json:"image"`
	ACMEEmail    string         `json:"acme_email"`
	ACMEStaging  bool           `json:"acme_staging"`
	RedirectHTTP bool           `json:"redirect_http"`
	HTTP3        bool           `json:"http3"`
	BehindProxy  BehindProxy    `json:"behind_proxy"`
	Extra        map[string]any `json:"extra"`
}

type BehindProxy struct {
	Enabled    bool     `json:"enabled"`
	Port       int      `json:"port"`
	TrustedIPs []string `json:"trusted_ips"`
}

type Element struct {
	Enabled      bool           `json:"enabled"`
	Image        string         `json:"image"`
	Brand        string         `json:"brand"`
	DefaultTheme string         `json:"default_theme"`
	Extra        map[string]any `json:"extra"`
}

type WellKnown struct {
	Server          bool           `json:"server"`
	Client          bool           `json:"client"`
	ServeBaseDomain bool           `json:"serve_base_domain"`
	Support         Support        `json:"support"`
	ClientExtra     map[string]any `json:"client_extra"`
}

type Support struct {
	Page     string           `json:"page,omitempty"`
	Contacts []SupportContact `json:"contacts"`
}

type SupportContact struct {
	Role         string `json:"role"`
	MatrixID     string `json:"matrix_id,omitempty"`
	EmailAddress string `json:"email_address,omitempty"`
}

type Mailer struct {
	Enabled    bool       `json:"enabled"`
	Image      string     `json:"image"`
	Sender     string     `json:"sender"`
	SenderName string     `json:"sender_name"`
	Smarthost  *Smarthost `json:"smarthost,omitempty"`
}

type Smarthost struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	User string `json:"user,omitempty"`
}

type Coturn struct {
	Enabled      bool   `json:"enabled"`
	Image        string `json:"image"`
	ExternalIP   string `json:"external_ip,omitempty"`
	Hostname     string `json:"hostname"`
	Port         int    `json:"port"`
	RelayMinPort int    `json:"relay_min_port"`
	RelayMaxPort int    `json:"relay_max_port"`
}

type Valkey struct {
	Image string `json:"image"`
}
