package compile

import (
	"fmt"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	// masUnit and masDatabase are MDAD's names, so that an MDAD host
	// switches in place.
	masUnit     = "matrix-authentication-service"
	masDatabase = "matrix_authentication_service"
	// masWebPort serves the public: login pages, OAuth 2.0 and the Matrix
	// compatibility layer. masInternalPort serves Synapse (token
	// introspection and discovery) and health checks, without the public
	// path prefix.
	masWebPort      = 8080
	masInternalPort = 8081
	masConfigTarget = "/config.yaml"
	// masSynapseSecret authenticates MAS and Synapse to each other.
	masSynapseSecret = "mas-synapse-secret"
	masEncryptionKey = "mas-encryption-key"
	masRSAKey        = "mas-signing-key-rsa"
	masECKey         = "mas-signing-key-ec"
	// masRSABits is MDAD's size for the RSA signing key.
	masRSABits = 2048
	// masCompatPriority puts the compatibility layer's routes above every
	// worker route (workers.go's tiers end below 5000): a client_reader
	// that took /login would otherwise answer it with Synapse's legacy
	// login, which is off.
	masCompatPriority = 10000
)

// masCompatPaths are the client API endpoints MAS takes over from
// Synapse: legacy password and SSO logins, logouts and token refreshes of
// clients that do not speak OAuth 2.0 themselves.
const masCompatPaths = `^/_matrix/client/(api/v1|r0|v3|unstable)/(login|logout|refresh)(/|$)`

// addMAS runs Matrix Authentication Service. Every secret it holds is
// read from a file of its own, so its config.yaml holds none.
func addMAS(b *builder) {
	m := b.cfg.MAS
	db := b.database(masUnit, masDatabase, false)
	dir := b.dataPath("matrix-authentication-service")
	configDir := dir + "/config"
	b.dir(dir, 0o750)
	b.dir(configDir, 0o750)
	b.dir(dir+"/data", 0o750)
	secrets := masSecrets(b, db)
	b.file(plan.File{
		Path: configDir + "/config.yaml", Format: plan.YAML,
		Value: masConfig(b, db), Restarts: []string{masUnit},
	})
	mounts := []plan.Mount{{Source: configDir + "/config.yaml", Target: masConfigTarget, ReadOnly: true}}
	for _, s := range secrets {
		mounts = append(mounts, b.secretFileMount(s))
	}
	var requires []string
	if db.Unit != "" {
		requires = append(requires, db.Unit)
	}
	b.service(plan.Service{
		Unit:        masUnit,
		Description: "Matrix Authentication Service",
		Image:       m.Image,
		Command:     []string{"server", "--config=" + masConfigTarget},
		Mounts:      mounts,
		Tmpfs:       []string{"/tmp"},
		Networks:    []string{b.cfg.Host.Networks.Homeserver, b.cfg.Host.Networks.Proxy},
		Listens: []plan.Listen{
			{Name: "http", Port: masWebPort, HostPort: m.HostPort},
			{Name: "internal", Port: masInternalPort},
		},
		Requires: requires,
	})
	b.plan.AuthService = &plan.AuthService{
		Unit: masUnit, Image: m.Image, Network: b.cfg.Host.Networks.Homeserver,
		Mounts: mounts, ConfigFile: masConfigTarget, DataDir: dir + "/data",
	}
	for _, r := range masRoutes(b.cfg) {
		b.route(r)
	}
}

// masSecrets declares MAS's secrets and returns the names of those its
// container reads. The signing keys are made once and imported from
// MDAD's key directory on a host it set up.
func masSecrets(b *builder, db dbConn) []string {
	mdadKeys := b.dataPath("matrix-authentication-service", "data", "keys")
	declare := func(name, description string, kind plan.SecretKind, length int, importFrom string) {
		b.secret(name, description, masUnit)
		s := b.secretEntry(name)
		s.Kind, s.Length, s.ImportFrom = kind, length, importFrom
	}
	declare(masEncryptionKey, "key MAS encrypts cookies and stored tokens with (64 hex digits)", plan.HexKey, 64, "")
	declare(masRSAKey, "MAS's RSA key for signing ID tokens", plan.RSAKey, masRSABits, mdadKeys+"/rsa-2048.priv.pem")
	declare(masECKey, "MAS's P-256 key for signing ID tokens", plan.ECKey, 0, mdadKeys+"/ecdsa-p256.priv.pem")
	b.secret(masSynapseSecret, "shared secret of MAS and Synapse", masUnit, synapseUnit)
	names := []string{masEncryptionKey, masRSAKey, masECKey, masSynapseSecret, string(db.Password)}
	for _, p := range b.cfg.MAS.UpstreamOAuth2.Providers {
		if masNeedsClientSecret(p) {
			names = append(names, string(b.providedSecret(masProviderSecret(p),
				"client secret the OpenID Connect provider "+p.Name+" issued to MAS", masUnit)))
		}
	}
	return names
}

// secretEntry is a declared secret, for the fields secret() leaves at
// their defaults.
func (b *builder) secretEntry(name string) *plan.Secret {
	for i := range b.plan.Secrets {
		if b.plan.Secrets[i].Name == name {
			return &b.plan.Secrets[i]
		}
	}
	panic("secret " + name + " was never declared")
}

func masProviderSecret(p config.MASProvider) string {
	return "mas-upstream-" + p.Name + "-client-secret"
}

func masNeedsClientSecret(p config.MASProvider) bool { return p.TokenEndpointAuthMethod != "none" }

// masPublicBase is MAS's public URL, ending in "/": its issuer and the
// base of its pages.
func masPublicBase(c *config.Config) string {
	if c.MAS.OwnHostname() {
		return "https://" + c.MAS.Hostname + "/"
	}
	return "https://" + c.Hostnames.Homeserver + c.MAS.Path + "/"
}

// masRoutes are MAS's own pages, at the root of its hostname or under its
// path (MAS serves the prefix itself, so nothing is stripped), and the
// compatibility layer on the homeserver's hostname. Its discovery
// document lives under the same base as its pages: clients find it
// through Synapse's auth_metadata endpoint, so the homeserver's
// /.well-known/openid-configuration stays unclaimed.
func masRoutes(c *config.Config) []plan.Route {
	own := plan.Route{Name: "mas", Entrypoint: plan.EntrypointClient, Service: masUnit, Port: masWebPort}
	if c.MAS.OwnHostname() {
		own.Host, own.PathPrefix = c.MAS.Hostname, "/"
	} else {
		own.Host, own.PathPrefix = c.Hostnames.Homeserver, c.MAS.Path+"/"
	}
	// The settings of the client API route it refines, as the workers'
	// routes have them: a webserver that nests regex routes in prefix
	// locations (Apache) applies one set to both.
	compat := plan.Route{
		Name: "mas-compat", Host: c.Hostnames.Homeserver, PathRegex: masCompatPaths,
		Entrypoint: plan.EntrypointClient, Service: masUnit, Port: masWebPort, Priority: masCompatPriority,
		Settings: plan.RouteSettings{MaxBodyBytes: int64(c.Homeserver.MaxUploadSizeMB) << 20},
	}
	return []plan.Route{own, compat}
}

// masConfig is MAS's config.yaml before extra.
func masConfig(b *builder, db dbConn) obj {
	c := b.cfg
	m := c.MAS
	web := obj{
		"name": "web",
		"resources": []any{
			obj{"name": "discovery"}, obj{"name": "human"}, obj{"name": "oauth"},
			obj{"name": "compat"}, obj{"name": "graphql"}, obj{"name": "assets"},
		},
		"binds": []any{obj{"address": fmt.Sprintf("[::]:%d", masWebPort)}},
	}
	if !m.OwnHostname() {
		web["prefix"] = m.Path
	}
	internal := obj{
		"name":      "internal",
		"resources": []any{obj{"name": "health"}, obj{"name": "discovery"}, obj{"name": "oauth"}},
		"binds":     []any{obj{"address": fmt.Sprintf("[::]:%d", masInternalPort)}},
	}
	database := obj{
		"host": db.Host, "port": db.Port, "username": db.User, "database": db.Database,
		"password_file": secretMount(string(db.Password)), "ssl_mode": db.SSLMode,
	}
	cfg := obj{
		"http": obj{
			"public_base": masPublicBase(c),
			"listeners":   []any{web, internal},
		},
		"database": database,
		"secrets": obj{
			"encryption_file": secretMount(masEncryptionKey),
			"keys": []any{
				obj{"kid": "default-rsa", "key_file": secretMount(masRSAKey)},
				obj{"kid": "default-ecdsa-p256", "key_file": secretMount(masECKey)},
			},
		},
		"matrix": obj{
			"kind":        "synapse",
			"homeserver":  c.Domain,
			"endpoint":    synapseMainProcessURL + "/",
			"secret_file": secretMount(masSynapseSecret),
		},
		"passwords": obj{
			"enabled": m.Passwords,
			// Version 1 checks the bcrypt hashes syn2mas brings from
			// Synapse (which normalises Unicode first); new hashes use
			// the highest version.
			"schemes": []any{
				obj{"version": 1, "algorithm": "bcrypt", "unicode_normalization": true},
				obj{"version": 2, "algorithm": "argon2id"},
			},
		},
		"account": masAccount(c),
		"email":   masEmail(c),
	}
	if providers := masProviders(m.UpstreamOAuth2.Providers); len(providers) > 0 {
		cfg["upstream_oauth2"] = obj{"providers": providers}
	}
	return deepMerge(cfg, m.Extra)
}

// masAccount lets users register with a password as
// homeserver.registration lets them register with Synapse.
func masAccount(c *config.Config) obj {
	r := c.Homeserver.Registration
	email := false
	for _, t := range r.Require3PID {
		email = email || t == "email"
	}
	return obj{
		"password_registration_enabled":        c.MAS.Passwords && r.Mode != "closed",
		"password_registration_token_required": r.Mode == "token",
		"password_registration_email_required": email,
	}
}

// masEmail sends through the bundled relay, as Synapse does; without it,
// MAS drops its mail.
func masEmail(c *config.Config) obj {
	if !c.Mailer.Enabled {
		return obj{"transport": "blackhole"}
	}
	// The address alone: MAS's schema holds these to plain addresses.
	from := c.Mailer.Sender
	return obj{
		"transport": "smtp", "mode": "plain", "hostname": mailerUnit, "port": mailerPort,
		"from": from, "reply_to": from,
	}
}

// masProviders is upstream_oauth2.providers, in the config's order (the
// order of the login page's buttons).
func masProviders(providers []config.MASProvider) []any {
	out := make([]any, 0, len(providers))
	for _, p := range providers {
		e := obj{
			"id":                         p.ID,
			"client_id":                  p.ClientID,
			"token_endpoint_auth_method": p.TokenEndpointAuthMethod,
			"discovery_mode":             p.DiscoveryMode,
			"pkce_method":                p.PKCEMethod,
			"scope":                      p.Scope,
			"fetch_userinfo":             p.FetchUserinfo,
			"claims_imports": obj{
				"localpart":   masClaim(p.ClaimsImports.Localpart),
				"displayname": masClaim(p.ClaimsImports.Displayname),
				"email":       masClaim(p.ClaimsImports.Email),
			},
		}
		if masNeedsClientSecret(p) {
			e["client_secret_file"] = secretMount(masProviderSecret(p))
		}
		for k, v := range map[string]string{
			"synapse_idp_id": p.SynapseIDPID, "human_name": p.HumanName, "brand_name": p.BrandName,
			"issuer": p.Issuer, "authorization_endpoint": p.AuthorizationEndpoint,
			"token_endpoint": p.TokenEndpoint, "userinfo_endpoint": p.UserinfoEndpoint, "jwks_uri": p.JWKSURI,
		} {
			if v != "" {
				e[k] = v
			}
		}
		out = append(out, deepMerge(e, p.Extra))
	}
	return out
}

func masClaim(c config.MASClaim) obj {
	out := obj{"action": c.Action}
	if c.Template != "" {
		out["template"] = c.Template
	}
	if c.OnConflict != "" {
		out["on_conflict"] = c.OnConflict
	}
	return out
}

// masSynapseConfig is what homeserver.yaml needs with MAS: the
// delegation, and off what Synapse refuses beside it (its own password
// logins and registration, 3PID changes, which MAS owns).
func masSynapseConfig() obj {
	return obj{
		"matrix_authentication_service": obj{
			"enabled":     true,
			"endpoint":    fmt.Sprintf("http://%s:%d/", masUnit, masInternalPort),
			"secret_path": secretMount(masSynapseSecret),
		},
		"password_config":             obj{"enabled": false},
		"enable_registration":         false,
		"enable_3pid_changes":         false,
		"registration_requires_token": false,
	}
}

// synapseMainProcessURL is the main Synapse process's client listener, which
// MAS calls. MAS works with Synapse only, and its component runs before
// Synapse's, so the plan does not name the homeserver yet.
var synapseMainProcessURL = fmt.Sprintf("http://%s:%d", synapseUnit, synapseClientPort)
