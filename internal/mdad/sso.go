package mdad

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Single sign-on: OpenID Connect providers, from the Synapse extension or
// the playbook's own matrix_synapse_oidc_providers, become
// synapse.sso.oidc_providers; each client secret becomes the host secret
// the bundle hands Synapse (synapse-oidc-<idp_id>-client-secret).

// oidcSecretPath matches a provider's client secret in an extension, with
// or without the oidc_providers key above the list.
var oidcSecretPath = regexp.MustCompile(`^(oidc_providers\.)?([0-9]+)\.(client_secret|client_secret_path)$`)

// oidcSecretPlaceholder stands for a provider's secret in a reason given
// before the provider's id is known.
const oidcSecretPlaceholder = "synapse-oidc-<idp_id>-client-secret"

// oidcTarget is an extension target whose providers' client secrets are
// taken, not reported.
func oidcTarget(option string) extensionTarget {
	return extensionTarget{option: option, program: "Synapse", taken: map[string]takenSecret{},
		secret: func(path string) (bool, string) {
			m := oidcSecretPath.FindStringSubmatch(path)
			switch {
			case m == nil:
				return false, ""
			case m[3] == "client_secret_path":
				return false, "the file it names is on the playbook's host: put the client secret itself into /matrix/secrets/" + oidcSecretPlaceholder + ", which the bundle hands to Synapse"
			}
			return true, ""
		}}
}

// oidcTyped are the provider options the config has under Synapse's names.
var oidcTyped = []string{
	"idp_id", "idp_name", "idp_icon", "idp_brand", "issuer", "discover", "client_id", "client_auth_method",
	"pkce_method", "scopes", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
	"user_profile_method", "allow_existing_users", "enable_registration", "backchannel_logout_enabled",
}

// oidcMapping are the options of Synapse's default mapping provider the
// config has under user_mapping.
var oidcMapping = []string{"localpart_template", "display_name_template", "email_template", "subject_template", "confirm_localpart"}

// takeOIDCProviders moves the providers at key of an extension (cleaned of
// secrets) into synapse.sso.oidc_providers, with the client secrets taken
// from it, and returns what is left of the extension (nil for nothing).
func (t *translator) takeOIDCProviders(v *variable, extra *yaml.Node, taken map[string]takenSecret, key string) *yaml.Node {
	at, ok := lookup(extra, key)
	if !ok || extra.Content[at+1].Kind != yaml.SequenceNode {
		return extra
	}
	if t.setOIDCProviders(v, extra.Content[at+1], taken, key+".") {
		extra.Content = slices.Delete(extra.Content, at, at+2)
	}
	if len(extra.Content) == 0 {
		return nil
	}
	return extra
}

// setOIDCProviders sets synapse.sso.oidc_providers from a list of
// Synapse's provider entries; prefix is the list's path in taken.
func (t *translator) setOIDCProviders(v *variable, list *yaml.Node, taken map[string]takenSecret, prefix string) bool {
	out := &yaml.Node{Kind: yaml.SequenceNode}
	type secretAt struct {
		name string
		s    takenSecret
	}
	var secrets []secretAt
	var needed []string
	for i, entry := range list.Content {
		if entry.Kind != yaml.MappingNode {
			continue
		}
		p := oidcProvider(entry)
		if _, ok := lookup(p, "idp_id"); !ok {
			// Synapse's id for a provider without one; users keep their links.
			p.Content = append([]*yaml.Node{strNode("idp_id"), strNode("oidc")}, p.Content...)
			t.notes = append(t.notes, fmt.Sprintf("synapse.sso.oidc_providers.%d.idp_id: oidc (not in %s: Synapse's id for a provider without one, under which its users are linked)", i, v.name))
		}
		idAt, _ := lookup(p, "idp_id")
		name := "synapse-oidc-" + p.Content[idAt+1].Value + "-client-secret"
		t.nameSecretFile(v.name+"."+prefix+strconv.Itoa(i)+".client_secret_path", name)
		if s, ok := taken[prefix+strconv.Itoa(i)+".client_secret"]; ok {
			secrets = append(secrets, secretAt{name, s})
		} else if method, ok := lookup(p, "client_auth_method"); !ok || p.Content[method+1].Value != "none" {
			needed = append(needed, name)
		}
		out.Content = append(out.Content, p)
	}
	if len(out.Content) == 0 || !t.set(v, "synapse.sso.oidc_providers", out) {
		return false
	}
	for _, s := range secrets {
		if prev, ok := t.secretBy[s.name]; ok {
			t.notTranslated(v, fmt.Sprintf("the secret %s already comes from %s (line %d)", s.name, prev.name, prev.line))
			continue
		}
		t.secrets[s.name] = Secret{Name: s.name, Value: s.s.value, Source: fmt.Sprintf("from the client_secret in %s (line %d)", v.name, s.s.line)}
		t.secretBy[s.name] = v
		t.secretOrder = append(t.secretOrder, s.name)
	}
	for _, name := range needed {
		t.secretOrder = append(t.secretOrder, name)
		t.roleSecrets = append(t.roleSecrets, secretPlan{name: name, provided: true})
	}
	return true
}

// nameSecretFile puts the secret's name into the report of a provider's
// client_secret_path, which was written before the provider's id was known.
func (t *translator) nameSecretFile(reported, secret string) {
	for i, u := range t.untranslated {
		if u.Name == reported {
			t.untranslated[i].Reason = strings.Replace(u.Reason, oidcSecretPlaceholder, secret, 1)
		}
	}
}

// oidcProvider turns one of Synapse's provider entries into the config's:
// the options it has go where they are, the default mapping provider's
// templates under user_mapping, everything else into extra.
func oidcProvider(entry *yaml.Node) *yaml.Node {
	p := &yaml.Node{Kind: yaml.MappingNode}
	extra := &yaml.Node{Kind: yaml.MappingNode}
	add := func(m *yaml.Node, k, v *yaml.Node) { m.Content = append(m.Content, k, v) }
	for i := 0; i+1 < len(entry.Content); i += 2 {
		k, val := entry.Content[i], entry.Content[i+1]
		switch {
		case slices.Contains(oidcTyped, k.Value):
			add(p, k, val)
		case k.Value == "attribute_requirements" && plainRequirements(val):
			add(p, k, val)
		case k.Value == "user_mapping_provider":
			mapping, rest := splitMapping(val)
			if len(mapping.Content) > 0 {
				add(p, strNode("user_mapping"), mapping)
			}
			if rest != nil {
				add(extra, k, rest)
			}
		default:
			add(extra, k, val)
		}
	}
	if len(extra.Content) > 0 {
		add(p, strNode("extra"), extra)
	}
	return p
}

// plainRequirements: each requirement is an attribute and at most one
// value, as the config's attribute_requirements has them.
func plainRequirements(n *yaml.Node) bool {
	if n.Kind != yaml.SequenceNode {
		return false
	}
	for _, r := range n.Content {
		if r.Kind != yaml.MappingNode {
			return false
		}
		for i := 0; i+1 < len(r.Content); i += 2 {
			if k := r.Content[i].Value; k != "attribute" && k != "value" {
				return false
			}
		}
	}
	return true
}

// splitMapping takes the default mapping provider's templates out of a
// user_mapping_provider; the rest (another module, other settings) stays
// for extra, nil when nothing is left.
func splitMapping(n *yaml.Node) (mapping, rest *yaml.Node) {
	mapping = &yaml.Node{Kind: yaml.MappingNode}
	if n.Kind != yaml.MappingNode {
		return mapping, n
	}
	if _, custom := lookup(n, "module"); custom {
		return mapping, n
	}
	at, ok := lookup(n, "config")
	if !ok || n.Content[at+1].Kind != yaml.MappingNode {
		return mapping, n
	}
	config := n.Content[at+1]
	left := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(config.Content); i += 2 {
		if slices.Contains(oidcMapping, config.Content[i].Value) {
			mapping.Content = append(mapping.Content, config.Content[i], config.Content[i+1])
		} else {
			left.Content = append(left.Content, config.Content[i], config.Content[i+1])
		}
	}
	restN := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if i == at {
			if len(left.Content) > 0 {
				restN.Content = append(restN.Content, n.Content[i], left)
			}
			continue
		}
		restN.Content = append(restN.Content, n.Content[i], n.Content[i+1])
	}
	if len(restN.Content) == 0 {
		return mapping, nil
	}
	return mapping, restN
}

// oidcEnabled handles the playbook's switch for its own provider list.
func oidcEnabled(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case on:
		t.readVar(v, "the providers of matrix_synapse_oidc_providers become synapse.sso.oidc_providers")
	default:
		t.readVar(v, "single sign-on through the playbook's own list is off")
	}
}

// oidcProvidersVar translates the playbook's own provider list, as the
// extension's: secrets taken, Jinja evaluated value by value.
func oidcProvidersVar(t *translator, v *variable, raw *yaml.Node) {
	if on, _ := t.flag("matrix_synapse_oidc_enabled"); !on {
		t.readVar(v, "matrix_synapse_oidc_enabled is not true, so the playbook gives Synapse none of them")
		return
	}
	src := raw
	if src.Kind == yaml.AliasNode {
		src = src.Alias
	}
	if src.Kind != yaml.SequenceNode {
		t.notTranslated(v, "expected a list of providers as written in vars.yml (a value made by Jinja is not evaluated)")
		return
	}
	if len(src.Content) == 0 {
		t.readVar(v, "empty")
		return
	}
	to := oidcTarget("synapse.sso.oidc_providers")
	x := &extension{t: t, v: v, to: to, perValue: true}
	cleaned := x.clean(src, "", false)
	t.outcome[v] = true // its parts are reported one by one
	t.setOIDCProviders(v, cleaned, to.taken, "")
}
