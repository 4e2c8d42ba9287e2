package config

// MAS is Matrix Authentication Service, to which Synapse delegates logins.
type MAS struct {
	Enabled bool   `json:"enabled"`
	Image   string `json:"image"`
	// Hostname is MAS's own hostname; "" serves it under Path on the
	// homeserver's hostname.
	Hostname       string         `json:"hostname,omitempty"`
	Path           string         `json:"path"`
	HostPort       int            `json:"host_port"`
	Passwords      bool           `json:"passwords"`
	UpstreamOAuth2 MASUpstream    `json:"upstream_oauth2"`
	Extra          map[string]any `json:"extra"`
}

// OwnHostname tells whether MAS has a hostname of its own.
func (m MAS) OwnHostname() bool { return m.Hostname != "" }

type MASUpstream struct {
	Providers []MASProvider `json:"providers"`
}

// MASProvider is an upstream OpenID Connect provider of MAS.
type MASProvider struct {
	Name                    string         `json:"name"`
	ID                      string         `json:"id"`
	SynapseIDPID            string         `json:"synapse_idp_id,omitempty"`
	HumanName               string         `json:"human_name,omitempty"`
	BrandName               string         `json:"brand_name,omitempty"`
	Issuer                  string         `json:"issuer,omitempty"`
	DiscoveryMode           string         `json:"discovery_mode"`
	ClientID                string         `json:"client_id"`
	TokenEndpointAuthMethod string         `json:"token_endpoint_auth_method"`
	Scope                   string         `json:"scope"`
	PKCEMethod              string         `json:"pkce_method"`
	FetchUserinfo           bool           `json:"fetch_userinfo"`
	AuthorizationEndpoint   string         `json:"authorization_endpoint,omitempty"`
	TokenEndpoint           string         `json:"token_endpoint,omitempty"`
	UserinfoEndpoint        string         `json:"userinfo_endpoint,omitempty"`
	JWKSURI                 string         `json:"jwks_uri,omitempty"`
	ClaimsImports           MASClaims      `json:"claims_imports"`
	Extra                   map[string]any `json:"extra"`
}

type MASClaims struct {
	Localpart   MASClaim `json:"localpart"`
	Displayname MASClaim `json:"displayname"`
	Email       MASClaim `json:"email"`
}

// MASClaim is how one claim of the provider becomes an attribute.
type MASClaim struct {
	Action     string `json:"action"`
	Template   string `json:"template,omitempty"`
	OnConflict string `json:"on_conflict,omitempty"`
}
