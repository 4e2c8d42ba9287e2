package compile

import (
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// oidcSecret is the host secret that holds a provider's client secret.
func oidcSecret(p config.OIDCProvider) string { return "synapse-oidc-" + p.IDPID + "-client-secret" }

// needsClientSecret: a public client ("none") proves nothing to the provider.
func needsClientSecret(p config.OIDCProvider) bool { return p.ClientAuthMethod != "none" }

// synapseSSOSecrets declares the client secrets of the OIDC providers. The
// provider issued them, so the operator puts them in place; Synapse reads
// each from its file (client_secret_path, Synapse 1.91 and later).
func synapseSSOSecrets(b *builder) []string {
	var names []string
	for _, p := range b.cfg.Synapse.SSO.OIDCProviders {
		if !needsClientSecret(p) {
			continue
		}
		name := oidcSecret(p)
		b.providedSecret(name, "client secret the OpenID Connect provider "+p.IDPID+" issued to Synapse", synapseUnit)
		names = append(names, name)
	}
	return names
}

// oidcProviders is homeserver.yaml's oidc_providers, in the config's order
// (the order clients offer the providers in).
func oidcProviders(providers []config.OIDCProvider) []any {
	out := make([]any, 0, len(providers))
	for _, p := range providers {
		e := obj{
			"idp_id":                     p.IDPID,
			"issuer":                     p.Issuer,
			"discover":                   p.Discover,
			"client_id":                  p.ClientID,
			"client_auth_method":         p.ClientAuthMethod,
			"pkce_method":                p.PKCEMethod,
			"scopes":                     plan.AnyList(p.Scopes),
			"user_profile_method":        p.UserProfileMethod,
			"allow_existing_users":       p.AllowExistingUsers,
			"enable_registration":        p.EnableRegistration,
			"backchannel_logout_enabled": p.BackchannelLogout,
		}
		if needsClientSecret(p) {
			e["client_secret_path"] = secretMount(oidcSecret(p))
		}
		for k, v := range map[string]string{
			"idp_name": p.IDPName, "idp_icon": p.IDPIcon, "idp_brand": p.IDPBrand,
			"authorization_endpoint": p.AuthorizationEndpoint, "token_endpoint": p.TokenEndpoint,
			"userinfo_endpoint": p.UserinfoEndpoint, "jwks_uri": p.JWKSURI,
		} {
			if v != "" {
				e[k] = v
			}
		}
		if len(p.AttributeRequirements) > 0 {
			var reqs []any
			for _, r := range p.AttributeRequirements {
				req := obj{"attribute": r.Attribute}
				if r.Value != nil {
					req["value"] = *r.Value
				}
				reqs = append(reqs, req)
			}
			e["attribute_requirements"] = reqs
		}
		if m := userMappingConfig(p.UserMapping); len(m) > 0 {
			e["user_mapping_provider"] = obj{"config": m}
		}
		out = append(out, deepMerge(e, p.Extra))
	}
	return out
}

func userMappingConfig(m config.OIDCUserMapping) obj {
	out := obj{}
	for k, v := range map[string]string{
		"localpart_template": m.LocalpartTemplate, "display_name_template": m.DisplayNameTemplate,
		"email_template": m.EmailTemplate, "subject_template": m.SubjectTemplate,
	} {
		if v != "" {
			out[k] = v
		}
	}
	if m.ConfirmLocalpart != nil {
		out["confirm_localpart"] = *m.ConfirmLocalpart
	}
	return out
}
