package mdad

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Matrix Authentication Service: the playbook's
// matrix-authentication-service role (matrix_authentication_service_*)
// becomes the mas section. matrixgen keeps the role's unit, directory and
// database, so the host switches in place; its secrets are the playbook's
// (derived, from vars.yml, or its key files).

var _ = registerAddonKind(&addonKind{
	what: "Matrix Authentication Service", section: "mas", unit: "matrix-authentication-service",
	prefixes:  []string{"matrix_authentication_service_"},
	refusal:   func(*addonRun) string { return "" },
	translate: (*addonRun).mas,
	left:      (*addonRun).masLeft,
	noOption:  "matrixgen has no option for it; a setting of MAS's config.yaml can go into mas.extra",
	secretVars: []string{
		"matrix_authentication_service_config_upstream_oauth2_providers",
	},
})

const (
	// masDefaultPath is where the playbook serves MAS on the homeserver's
	// hostname (its group variables), as matrixgen does.
	masDefaultPath = "/auth"
	// The playbook's salts for the secrets it derives for MAS.
	masDatabaseSalt = "mas.db"
	masSynapseSalt  = "mas.hs.secret"
	masKeysDir      = "/matrix/matrix-authentication-service/data/keys"
)

func (a *addonRun) mas() {
	a.set("enabled", boolNode(true), a.enabled)
	a.image("ghcr.io/element-hq/matrix-authentication-service")
	a.masPlace()
	if v, on, ok := a.takeBool("config_passwords_enabled"); ok {
		a.set("passwords", boolNode(on), v)
	}
	if v, n, ok := a.take("config_upstream_oauth2_providers"); ok {
		a.masProviders(v, n)
	}
	if v, on, ok := a.takeBool("migration_in_progress"); ok {
		if on {
			a.t.readVar(v, "the accounts are still Synapse's: move them with bin/syn2mas.sh of the bundle, which runs install.sh itself (docs/mas.md)")
		} else {
			a.t.readVar(v, "the accounts are in MAS already, as install.sh expects")
		}
	}
	a.masSecrets()
	a.extra(nil, "configuration_extension_yaml", nil)
	a.t.notes = append(a.t.notes, "mas: password registration in MAS follows homeserver.registration (mode open or token), as Synapse's own did; matrix_authentication_service_config_account_* are not read")
}

// masPlace: on the homeserver's hostname MAS is served under a path (the
// playbook's /auth unless set); on a hostname of its own, at the root.
func (a *addonRun) masPlace() {
	hs := a.t.homeserver()
	host, hostVar := hs, (*variable)(nil)
	if v, s, ok := a.takeText("hostname"); ok {
		host, hostVar = s, v
	}
	path, pathVar := masDefaultPath, (*variable)(nil)
	if v, s, ok := a.takeText("path_prefix"); ok {
		path, pathVar = s, v
	}
	var from []*variable
	for _, v := range []*variable{pathVar, hostVar} {
		if v != nil {
			from = append(from, v)
		}
	}
	switch {
	case host == hs && path != "/" && webPath.MatchString(path):
		if pathVar != nil && path != masDefaultPath {
			a.set("path", strNode(path), from...)
		} else {
			for _, v := range from {
				a.t.readVar(v, "MAS under /auth on the homeserver's hostname, as matrixgen serves it")
			}
		}
	case host != hs && path == "/":
		a.set("hostname", strNode(host), from...)
	default:
		a.reportPlace(hostVar, pathVar, fmt.Sprintf("matrixgen serves MAS at the root of a hostname of its own (mas.hostname) or under a path on the homeserver's (mas.path), not under %s on %s: its issuer becomes https://%s%s/, and every client logs in again", path, host, hs, masDefaultPath))
	}
}

// masSecrets: the database password and the secret shared with Synapse
// (the playbook derives both), the encryption key (vars.yml must give
// it), and the signing keys, which install.sh takes over from the
// playbook's key files.
func (a *addonRun) masSecrets() {
	external := a.t.postgresExternal()
	list := []secretPlan{
		{name: "matrix_authentication_service-db-password", suffix: "config_database_password", salt: masDatabaseSalt, provided: external},
		{name: "mas-synapse-secret", suffix: "config_matrix_secret", salt: masSynapseSalt},
		{name: "mas-encryption-key", suffix: "config_secrets_encryption",
			newWhat: "it encrypts what MAS keeps of its upstream providers and its cookies, so everyone logs in again"},
	}
	for _, s := range list {
		if v, n, ok := a.take(s.suffix); ok {
			a.t.takeSecret(v, n, s.name)
		}
		a.t.addRoleSecret(s)
	}
	for _, k := range []struct{ name, file string }{
		{"mas-signing-key-rsa", "rsa-2048.priv.pem"}, {"mas-signing-key-ec", "ecdsa-p256.priv.pem"},
	} {
		a.t.addRoleSecret(secretPlan{name: k.name, importFrom: masKeysDir + "/" + k.file, importWhat: "the playbook's key"})
	}
}

// masProviderTyped are the provider keys the config has under MAS's own
// names; the others go to the provider's extra.
var masProviderTyped = []string{
	"id", "synapse_idp_id", "human_name", "brand_name", "issuer", "discovery_mode", "client_id",
	"token_endpoint_auth_method", "scope", "pkce_method", "fetch_userinfo", "authorization_endpoint",
	"token_endpoint", "userinfo_endpoint", "jwks_uri",
}

var masProviderName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}[a-z0-9]$`)

// masProviders translates MAS's own provider list. Each gets a name for
// its secret file: the Synapse provider it replaces, its brand, or its
// place in the list.
func (a *addonRun) masProviders(v *variable, list *yaml.Node) {
	if list.Kind != yaml.SequenceNode {
		a.t.notTranslated(v, "not a list of providers")
		return
	}
	out := &yaml.Node{Kind: yaml.SequenceNode}
	type secretAt struct{ name, value string }
	var secrets []secretAt
	var needed []string
	for i, entry := range list.Content {
		if entry.Kind != yaml.MappingNode {
			a.t.notTranslated(v, fmt.Sprintf("entry %d is not a provider", i))
			continue
		}
		p, extra := &yaml.Node{Kind: yaml.MappingNode}, &yaml.Node{Kind: yaml.MappingNode}
		var secret string
		method := "client_secret_basic"
		for j := 0; j+1 < len(entry.Content); j += 2 {
			k, val := entry.Content[j], entry.Content[j+1]
			switch {
			case k.Value == "client_secret":
				secret = val.Value
			case k.Value == "token_endpoint_auth_method":
				method = val.Value
				p.Content = append(p.Content, k, plainCopy(val))
			case k.Value == "claims_imports":
				p.Content = append(p.Content, k, masClaims(val, extra))
			case slices.Contains(masProviderTyped, k.Value):
				p.Content = append(p.Content, k, plainCopy(val))
			default:
				extra.Content = append(extra.Content, k, plainCopy(val))
			}
		}
		name := masProviderNameOf(entry, i)
		p.Content = append([]*yaml.Node{strNode("name"), strNode(name)}, p.Content...)
		if len(extra.Content) > 0 {
			p.Content = append(p.Content, strNode("extra"), extra)
		}
		file := "mas-upstream-" + name + "-client-secret"
		switch {
		case secret != "":
			secrets = append(secrets, secretAt{file, secret})
		case method != "none":
			needed = append(needed, file)
		}
		out.Content = append(out.Content, p)
	}
	if len(out.Content) == 0 || !a.t.set(v, "mas.upstream_oauth2.providers", out) {
		return
	}
	a.handled[v] = true
	for _, s := range secrets {
		a.t.storeSecret(v, s.value, s.name)
		a.t.secretOrder = append(a.t.secretOrder, s.name)
	}
	for _, name := range needed {
		a.t.addRoleSecret(secretPlan{name: name, provided: true})
	}
}

// masClaims keeps the claims the config types (localpart, displayname,
// email: action, template, on_conflict) and puts the rest in extra.
func masClaims(n, extra *yaml.Node) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode}
	rest := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !slices.Contains([]string{"localpart", "displayname", "email"}, k.Value) || val.Kind != yaml.MappingNode {
			rest.Content = append(rest.Content, k, plainCopy(val))
			continue
		}
		claim, claimRest := &yaml.Node{Kind: yaml.MappingNode}, &yaml.Node{Kind: yaml.MappingNode}
		for j := 0; j+1 < len(val.Content); j += 2 {
			ck, cv := val.Content[j], val.Content[j+1]
			if ck.Value == "action" || ck.Value == "template" || ck.Value == "on_conflict" && k.Value == "localpart" {
				claim.Content = append(claim.Content, ck, plainCopy(cv))
			} else {
				claimRest.Content = append(claimRest.Content, ck, plainCopy(cv))
			}
		}
		out.Content = append(out.Content, k, claim)
		if len(claimRest.Content) > 0 {
			rest.Content = append(rest.Content, k, claimRest)
		}
	}
	if len(rest.Content) > 0 {
		extra.Content = append(extra.Content, strNode("claims_imports"), rest)
	}
	return out
}

func masProviderNameOf(entry *yaml.Node, i int) string {
	for _, key := range []string{"synapse_idp_id", "brand_name", "human_name"} {
		at, ok := lookup(entry, key)
		if !ok {
			continue
		}
		name := strings.TrimPrefix(strings.ToLower(entry.Content[at+1].Value), "oidc-")
		name = strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(name, "-"), "-")
		if masProviderName.MatchString(name) {
			return name
		}
	}
	return "provider-" + strconv.Itoa(i)
}

func (a *addonRun) masLeft(v *variable, suffix string) bool {
	switch {
	case strings.HasPrefix(suffix, "key_management_"):
		a.t.notTranslated(v, "matrixgen's MAS signs with an RSA and a P-256 key, install.sh's secrets mas-signing-key-rsa and mas-signing-key-ec (taken over from "+masKeysDir+")")
	case strings.HasPrefix(suffix, "config_database_"):
		a.t.notTranslated(v, "matrixgen connects MAS to its database through postgres (bundled or external), as every service")
	case strings.HasPrefix(suffix, "config_email_"):
		a.t.notTranslated(v, "matrixgen's MAS sends mail through the mailer section's relay, as Synapse does")
	case strings.HasPrefix(suffix, "syn2mas_"):
		a.t.notTranslated(v, "bin/syn2mas.sh of the bundle runs syn2mas with the bundle's own settings")
	case suffix == "base_path" || suffix == "config_path" || suffix == "data_path":
		a.t.notTranslated(v, "matrixgen keeps MAS in /matrix/matrix-authentication-service (config/ and data/), the playbook's default")
	default:
		return false
	}
	return true
}
