package compile

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/validate"
)

const hookshotBridge = `bridges:
  hookshot:
    type: matrix-hookshot
`

const hookshotEverything = hookshotBridge + `    github:
      app_id: 42
      oauth: true
    gitlab:
      instances: [gitlab.com, git.example.net]
`

func hookshotConfig(t *testing.T, p *plan.Plan) obj {
	t.Helper()
	f, ok := planFile(p, "/matrix/hookshot/config/config.yml")
	if !ok {
		t.Fatal("no config.yml")
	}
	return f.Value.(obj)
}

func hookshotRegistration(t *testing.T, p *plan.Plan) obj {
	t.Helper()
	f, ok := planFile(p, "/matrix/hookshot/config/registration.yaml")
	if !ok {
		t.Fatal("no registration.yaml")
	}
	return f.Value.(obj)
}

// userRegexes are the registration's user namespaces, all of which must be
// exclusive.
func userRegexes(t *testing.T, reg obj) []string {
	t.Helper()
	var out []string
	for _, u := range reg["namespaces"].(obj)["users"].([]any) {
		ns := u.(obj)
		if ns["exclusive"] != true {
			t.Errorf("namespace %v is not exclusive", ns)
		}
		out = append(out, ns["regex"].(string))
	}
	return out
}

// The webhooks listener is public under /hookshot/webhooks/ on the
// homeserver's hostname, without the prefix, as MDAD serves it; every URL
// config.yml gives out is under it.
func TestHookshotRoute(t *testing.T) {
	p := compileYAML(t, bridgesBase+hookshotEverything)
	i := slices.IndexFunc(p.Routes, func(r plan.Route) bool { return r.Service == "matrix-hookshot" })
	if i < 0 {
		t.Fatal("no route to hookshot")
	}
	r := p.Routes[i]
	want := plan.Route{Name: "matrix-hookshot-webhooks", Host: "matrix.example.org", PathPrefix: "/hookshot/webhooks/",
		Entrypoint: plan.EntrypointClient, Service: "matrix-hookshot", Port: hookshotWebhooksPort, StripPrefix: true}
	if r.Name != want.Name || r.Host != want.Host || r.PathPrefix != want.PathPrefix || r.Entrypoint != want.Entrypoint ||
		r.Service != want.Service || r.Port != want.Port || !r.StripPrefix {
		t.Errorf("route %+v, want %+v", r, want)
	}
	if n := slices.IndexFunc(p.Routes[i+1:], func(r plan.Route) bool { return r.Service == "matrix-hookshot" }); n >= 0 {
		t.Errorf("a second route to hookshot: %+v (widgets and metrics stay off)", p.Routes[i+1+n])
	}
	cfg := hookshotConfig(t, p)
	public := "https://matrix.example.org/hookshot/webhooks/"
	for what, got := range map[string]any{
		"generic.urlPrefix":         cfg["generic"].(obj)["urlPrefix"],
		"gitlab.webhook.publicUrl":  cfg["gitlab"].(obj)["webhook"].(obj)["publicUrl"],
		"github.oauth.redirect_uri": cfg["github"].(obj)["oauth"].(obj)["redirect_uri"],
	} {
		if s, _ := got.(string); !strings.HasPrefix(s, public) {
			t.Errorf("%s = %v: not under %s", what, got, public)
		}
	}
	if got := cfg["generic"].(obj)["urlPrefix"]; got != public+"webhook" {
		t.Errorf("generic.urlPrefix = %v", got)
	}
	listeners := cfg["listeners"].([]any)
	if len(listeners) != 1 || listeners[0].(obj)["port"] != hookshotWebhooksPort {
		t.Errorf("listeners %v: want the webhooks listener alone", listeners)
	}
}

// With the operator's webserver, the webhooks listener is published on
// the bind address at host_port, and nothing else of hookshot is.
func TestHookshotOwnWebserver(t *testing.T) {
	p := compileYAML(t, "domain: example.org\nreverse_proxy:\n  type: nginx\n"+hookshotBridge+"    host_port: 9400\n")
	s, _ := planService(p, "matrix-hookshot")
	want := []plan.Publish{{HostAddress: "127.0.0.1", HostPort: 9400, ContainerPort: hookshotWebhooksPort, Protocol: "tcp", Origin: "bridges.hookshot.host_port"}}
	if !slices.Equal(s.Publish, want) {
		t.Errorf("publish %+v, want %+v", s.Publish, want)
	}
}

// The registration claims the bot and the users hookshot creates: the
// generic webhooks' prefix always, GitHub's and GitLab's with them, and
// GitHub's repository aliases; Synapse reaches hookshot at bridge.port.
func TestHookshotRegistration(t *testing.T) {
	t.Run("webhooks and feeds", func(t *testing.T) {
		p := compileYAML(t, bridgesBase+hookshotBridge)
		reg := hookshotRegistration(t, p)
		cfg := hookshotConfig(t, p)
		if reg["id"] != "hookshot" || reg["sender_localpart"] != "hookshot" || reg["url"] != "http://matrix-hookshot:9993" {
			t.Errorf("id %v, sender %v, url %v", reg["id"], reg["sender_localpart"], reg["url"])
		}
		if port := cfg["bridge"].(obj)["port"]; port != hookshotAppservicePort {
			t.Errorf("bridge.port %v, the registration's url names %d", port, hookshotAppservicePort)
		}
		want := []string{`^@hookshot:example\.org$`, `^@_webhooks_.*:example\.org$`}
		if got := userRegexes(t, reg); !slices.Equal(got, want) {
			t.Errorf("users %q, want %q", got, want)
		}
		if got := cfg["generic"].(obj)["userIdPrefix"]; got != "_webhooks_" {
			t.Errorf("generic.userIdPrefix %v: not the prefix the registration claims", got)
		}
		if aliases := reg["namespaces"].(obj)["aliases"].([]any); len(aliases) != 0 {
			t.Errorf("aliases %v without GitHub", aliases)
		}
		for _, token := range []string{"as_token", "hs_token"} {
			if _, ok := reg[token].(plan.SecretRef); !ok {
				t.Errorf("%s %v is not a host secret", token, reg[token])
			}
		}
	})
	t.Run("GitHub and GitLab", func(t *testing.T) {
		reg := hookshotRegistration(t, compileYAML(t, bridgesBase+hookshotEverything))
		want := []string{`^@hookshot:example\.org$`, `^@_webhooks_.*:example\.org$`, `^@_github_.*:example\.org$`, `^@_gitlab_.*:example\.org$`}
		if got := userRegexes(t, reg); !slices.Equal(got, want) {
			t.Errorf("users %q, want %q", got, want)
		}
		aliases := reg["namespaces"].(obj)["aliases"].([]any)
		if len(aliases) != 1 || !regexp.MustCompile(aliases[0].(obj)["regex"].(string)).MatchString("#github_matrix-org_matrix-hookshot:example.org") {
			t.Errorf("aliases %v: want GitHub's repository rooms", aliases)
		}
	})
	t.Run("extra", func(t *testing.T) {
		// Users config.yml makes hookshot create, whoever set them.
		reg := hookshotRegistration(t, compileYAML(t, bridgesBase+hookshotEverything+`    extra:
      github:
        userIdPrefix: gh_
      serviceBots:
        - localpart: feeds
          prefix: "!feeds"
          service: feeds
`))
		got := userRegexes(t, reg)
		for _, want := range []string{`^@gh_.*:example\.org$`, `^@feeds:example\.org$`} {
			if !slices.Contains(got, want) {
				t.Errorf("users %q lack %q", got, want)
			}
		}
		if slices.Contains(got, `^@_github_.*:example\.org$`) {
			t.Errorf("users %q claim the default GitHub prefix extra replaced", got)
		}
	})
}

// The key hookshot encrypts tokens with is an RSA key made on the host,
// taken over from MDAD's directory, mounted and never filled into a file;
// so is the GitHub App's key, which the operator provides. The webhook
// secrets are made on the host and filled into config.yml.
func TestHookshotSecrets(t *testing.T) {
	p := compileYAML(t, bridgesBase+hookshotEverything)
	secrets := map[string]plan.Secret{}
	for _, s := range p.Secrets {
		if strings.HasPrefix(s.Name, "hookshot-") {
			secrets[s.Name] = s
		}
	}
	want := map[string]plan.SecretKind{
		"hookshot-as-token": plan.RandomToken, "hookshot-hs-token": plan.RandomToken,
		"hookshot-passkey": plan.RSAKey, "hookshot-github-private-key": plan.ProvidedKey,
		"hookshot-github-webhook-secret": plan.RandomToken, "hookshot-gitlab-webhook-secret": plan.RandomToken,
		"hookshot-github-client-id": plan.Provided, "hookshot-github-client-secret": plan.Provided,
	}
	if len(secrets) != len(want) {
		t.Errorf("secrets %v, want %v", secrets, want)
	}
	for name, kind := range want {
		if s, ok := secrets[name]; !ok || s.Kind != kind || !slices.Contains(s.Readers, "matrix-hookshot") {
			t.Errorf("secret %s: %+v, want kind %d read by matrix-hookshot", name, s, kind)
		}
	}
	if s := secrets["hookshot-passkey"]; s.Length != 4096 || s.ImportFrom != "/matrix/hookshot/passkey.pem" {
		t.Errorf("passkey %+v: want 4096 bits, from MDAD's /matrix/hookshot/passkey.pem", s)
	}
	if s := secrets["hookshot-github-private-key"]; s.ImportFrom != "/matrix/hookshot/private-key.pem" {
		t.Errorf("GitHub key %+v: want it from MDAD's /matrix/hookshot/private-key.pem", s)
	}

	s, _ := planService(p, "matrix-hookshot")
	cfg := hookshotConfig(t, p)
	github := cfg["github"].(obj)
	for option, secret := range map[string]string{
		"passFile": cfg["passFile"].(string), "github.auth.privateKeyFile": github["auth"].(obj)["privateKeyFile"].(string),
	} {
		m := plan.Mount{Source: "/matrix/secrets/" + secretName(secret), Target: secret, ReadOnly: true}
		if !slices.Contains(s.Mounts, m) || !strings.HasPrefix(secret, "/run/secrets/hookshot-") {
			t.Errorf("%s %s: no mount %+v in %+v", option, secret, m, s.Mounts)
		}
	}
	f, _ := planFile(p, "/matrix/hookshot/config/config.yml")
	filled := []string{"hookshot-github-client-id", "hookshot-github-client-secret", "hookshot-github-webhook-secret", "hookshot-gitlab-webhook-secret"}
	if !slices.Equal(f.Secrets, filled) || f.Mode != 0o600 {
		t.Errorf("config.yml fills %q (mode %04o), want %q (0600)", f.Secrets, f.Mode, filled)
	}
	for what, got := range map[string]any{
		"github.webhook.secret":      github["webhook"].(obj)["secret"],
		"github.oauth.client_secret": github["oauth"].(obj)["client_secret"],
		"gitlab.webhook.secret":      cfg["gitlab"].(obj)["webhook"].(obj)["secret"],
	} {
		if _, ok := got.(plan.SecretRef); !ok {
			t.Errorf("%s = %v: not a placeholder", what, got)
		}
	}

	t.Run("no GitHub logins", func(t *testing.T) {
		p := compileYAML(t, bridgesBase+hookshotBridge+"    github:\n      app_id: 42\n")
		if _, ok := hookshotConfig(t, p)["github"].(obj)["oauth"]; ok {
			t.Error("github.oauth without oauth: true")
		}
		for _, s := range p.Secrets {
			if strings.HasPrefix(s.Name, "hookshot-github-client") {
				t.Errorf("secret %s without oauth: true", s.Name)
			}
		}
	})
}

func secretName(mount string) string { return strings.TrimPrefix(mount, "/run/secrets/") }

// Validation: one hookshot per server (its public path), one service at
// least, and extra keeps its hands off what wires hookshot to Synapse.
func TestHookshotValidation(t *testing.T) {
	for name, tc := range map[string]struct{ src, path, want string }{
		"two": {hookshotBridge + "  hookshot-two:\n    type: matrix-hookshot\n    appservice_id: hookshottwo\n    bot_username: hookshottwo\n    username_prefix: _hooks2_\n    host_port: 9001\n",
			"bridges.hookshot-two.type", "serves /hookshot/webhooks already"},
		"no service": {hookshotBridge + "    webhooks: false\n    feeds: false\n",
			"bridges.hookshot.webhooks", "hookshot refuses to start without a service"},
		"wiring": {hookshotBridge + "    extra:\n      bridge:\n        url: http://elsewhere:8008\n",
			"bridges.hookshot.extra.bridge.url", "matrixgen writes bridge.url itself"},
		"prefix": {hookshotBridge + "    extra:\n      generic:\n        userIdPrefix: hooks_\n",
			"bridges.hookshot.extra.generic.userIdPrefix", "set username_prefix instead"},
	} {
		t.Run(name, func(t *testing.T) {
			_, problems := validate.Load("test.yaml", []byte(bridgesBase+tc.src))
			if !slices.ContainsFunc(problems, func(d diag.Diagnostic) bool { return d.Path == tc.path && strings.Contains(d.Summary, tc.want) }) {
				t.Errorf("want %s: %q, have %v", tc.path, tc.want, problems)
			}
		})
	}
	// A service turned on through extra is one.
	compileYAML(t, bridgesBase+hookshotBridge+"    webhooks: false\n    feeds: false\n    extra:\n      jira:\n        webhook:\n          secret: x\n")
}
