package pipeline

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// Hookshot's config.sample.yml keeps its optional sections commented out,
// one '#' at the start of every line of them: "#github:" opens a section,
// "#  auth:" and "#    id: 123" are its content (a '#' and two spaces
// before the indentation), and "#  # (Optional) …" are the comments inside
// it. Removing that one '#' from section lines and content lines turns the
// sample into the full example it documents, with every optional key and
// its type; the file's own comments ("# This is …": a '#' and one space)
// stay comments. TestHookshotSampleUncommented checks that this finds
// every optional section the README lists.
var commentedSampleLine = regexp.MustCompile(`(?m)^#([A-Za-z]+:|  )`)

func uncommentSample(data []byte) []byte {
	return commentedSampleLine.ReplaceAll(data, []byte("$1"))
}

func hookshotSample(t *testing.T, dir string) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "matrix-hookshot", "config.sample.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return parseYAMLNode(t, "matrix-hookshot/config.sample.yml (uncommented)", uncommentSample(data))
}

func TestHookshotSampleUncommented(t *testing.T) {
	example := hookshotSample(t, sharedBridges(t))
	// README.md §4: the sample's top-level keys, then its commented ones.
	for _, key := range []string{"bridge", "logging", "passFile", "listeners",
		"cache", "encryption", "permissions", "github", "gitlab", "jira", "generic", "figma", "feeds",
		"openProject", "bot", "serviceBots", "widgets", "metrics", "sentry", "connections", "messaging"} {
		if mappingValue(example, key) == nil {
			t.Errorf("%s is not in the uncommented sample", key)
		}
	}
	for _, p := range []string{"github.auth.id", "generic.urlPrefix", "gitlab.webhook.publicUrl", "feeds.enabled"} {
		if n := nodeAt(example, p); n == nil || n.Kind != yaml.ScalarNode || n.Value == "" {
			t.Errorf("%s has no value in the uncommented sample", p)
		}
	}
}

func init() { upstreamBridges["matrix-hookshot"] = upstreamBridge{check: checkHookshot} }

// checkHookshot holds a hookshot instance of the bridges example against
// upstream's samples: every key path of config.yml is one of the sample's,
// with the sample's type; the registration has the sample's keys and
// agrees with config.yml; and the files and URLs config.yml names are
// there: keys mounted, public URLs routed to the webhooks listener.
func checkHookshot(t *testing.T, b *consumerBundle, dir, name string, reg map[string]any) {
	t.Helper()
	cfg := b.res.Config
	ours := b.yamlFile(t, "matrix/"+name+"/config/config.yml")
	compareHookshotKeys(t, ours, hookshotSample(t, dir))
	value := func(p string) string {
		n := nodeAt(ours, p)
		if n == nil || n.Kind != yaml.ScalarNode || n.Value == "" {
			t.Errorf("%s is not set", p)
			return ""
		}
		return n.Value
	}
	s, ok := b.service("matrix-" + name)
	if !ok {
		t.Fatalf("no unit matrix-%s", name)
	}

	if value("bridge.domain") != cfg.Domain {
		t.Errorf("bridge.domain is not %s", cfg.Domain)
	}
	hsURL := value("bridge.url")
	if u, err := url.Parse(hsURL); err != nil || u.Hostname() != "matrix-synapse" {
		t.Errorf("bridge.url %q: not Synapse on the homeserver network", hsURL)
	} else if syn, ok := b.service(u.Hostname()); !ok || !sharesNetwork(syn, s) ||
		!slices.ContainsFunc(syn.Listens, func(l plan.Listen) bool { return fmt.Sprint(l.Port) == u.Port() && l.Name == "client" }) {
		t.Errorf("bridge.url %q: no client listener there that hookshot reaches", hsURL)
	}
	if value("bridge.bindAddress") != "0.0.0.0" {
		t.Errorf("bridge.bindAddress: hookshot must listen on the container's network")
	}
	b.checkHookshotRegistration(t, dir, name, reg, value("bridge.port"), nodeAt(ours, "github") != nil, nodeAt(ours, "gitlab") != nil)

	// The command reads the config and the registration where the unit
	// mounts them.
	for _, p := range map[string]string{"config.yml": "/data/config.yml", "registration.yaml": "/data/registration.yaml"} {
		if src, _, ok := hostSource(s, p); !ok || !slices.Contains(s.Command, p) || !b.existsOnHost(src) {
			t.Errorf("hookshot is not given %s: mounts %v, command %q", p, s.Mounts, s.Command)
		}
	}
	b.checkHookshotKey(t, s, "passFile", value("passFile"), plan.RSAKey)
	if nodeAt(ours, "github") != nil {
		b.checkHookshotKey(t, s, "github.auth.privateKeyFile", value("github.auth.privateKeyFile"), plan.ProvidedKey)
	}

	// What other services are told to call reaches the webhooks listener,
	// at the path hookshot serves it on.
	listener := hookshotListener(t, ours, "webhooks")
	public := map[string]string{value("generic.urlPrefix") + "/hook-id": "/webhook/hook-id"}
	if nodeAt(ours, "github") != nil {
		public[strings.TrimSuffix(value("generic.urlPrefix"), "webhook")+"github/webhook"] = "/github/webhook"
		public[value("github.oauth.redirect_uri")] = "/github/oauth"
	}
	if nodeAt(ours, "gitlab") != nil {
		public[value("gitlab.webhook.publicUrl")] = "/gitlab/webhook"
	}
	for raw, want := range public {
		b.checkHookshotURL(t, s, raw, want, listener)
	}
	if want := "https://" + cfg.Hostnames.Homeserver + "/hookshot/webhooks/webhook"; value("generic.urlPrefix") != want {
		t.Errorf("generic.urlPrefix = %q, want %q", value("generic.urlPrefix"), want)
	}
}

// compareHookshotKeys is compareKeys, except that GitLab instances are the
// operator's names: each is compared with the sample's one instance.
func compareHookshotKeys(t *testing.T, ours, example *yaml.Node) {
	t.Helper()
	if inst, sample := nodeAt(ours, "gitlab.instances"), nodeAt(example, "gitlab.instances"); inst != nil && sample != nil {
		for i := 1; i < len(inst.Content); i += 2 {
			compareKeys(t, inst.Content[i], sample.Content[1], "gitlab.instances."+inst.Content[i-1].Value)
		}
		inst.Content = sample.Content
	}
	compareKeys(t, ours, example, "")
}

// hookshotListener is the port of the listener serving resource.
func hookshotListener(t *testing.T, ours *yaml.Node, resource string) int {
	t.Helper()
	var cfg struct {
		Listeners []struct {
			Port      int      `yaml:"port"`
			Bind      string   `yaml:"bindAddress"`
			Resources []string `yaml:"resources"`
		} `yaml:"listeners"`
	}
	if err := ours.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	for _, l := range cfg.Listeners {
		if slices.Contains(l.Resources, resource) {
			if l.Bind != "0.0.0.0" {
				t.Errorf("the %s listener binds %q: not reachable from the proxy", resource, l.Bind)
			}
			return l.Port
		}
	}
	t.Fatalf("no listener serves %s: %+v", resource, cfg.Listeners)
	return 0
}

// checkHookshotURL follows a public URL through the route table to the
// listener, and to the path hookshot sees once the prefix is stripped.
func (b *consumerBundle) checkHookshotURL(t *testing.T, s plan.Service, raw, wantPath string, listener int) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" {
		t.Errorf("%q is not an https URL", raw)
		return
	}
	r, ep, ok := b.routeServing(plan.EntrypointClient, u.Hostname(), u.Path)
	if !ok || r.Service != s.Unit || r.Port != listener {
		t.Errorf("%s is not routed to %s:%d (%+v)", raw, s.Unit, listener, r)
		return
	}
	checkPublicPort(t, raw, "the URL", 443, ep)
	seen := u.Path
	if r.StripPrefix {
		seen = "/" + strings.TrimPrefix(u.Path, r.PathPrefix)
	}
	if seen != wantPath {
		t.Errorf("%s reaches hookshot as %s, which serves it at %s", raw, seen, wantPath)
	}
}

// checkHookshotKey: a key option names a file the container has, mounted
// read-only from a host secret of kind.
func (b *consumerBundle) checkHookshotKey(t *testing.T, s plan.Service, option, p string, kind plan.SecretKind) {
	t.Helper()
	src, m, ok := hostSource(s, p)
	if !ok || !m.ReadOnly {
		t.Errorf("%s %s: not mounted read-only (%v)", option, p, s.Mounts)
		return
	}
	i := slices.IndexFunc(b.res.Plan.Secrets, func(sec plan.Secret) bool { return secretHostPath(b.res.Plan.Host, sec) == src })
	if i < 0 || b.res.Plan.Secrets[i].Kind != kind || !slices.Contains(b.res.Plan.Secrets[i].Readers, s.Unit) {
		t.Errorf("%s %s: %s is no host secret of kind %d that %s reads", option, p, src, kind, s.Unit)
	}
}

// checkHookshotRegistration: the registration has every key of upstream's
// sample with the sample's type, points at bridge.port, carries the tokens
// as placeholders of the bridge's secrets, and claims the users hookshot
// creates.
func (b *consumerBundle) checkHookshotRegistration(t *testing.T, dir, name string, reg map[string]any, port string, github, gitlab bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "matrix-hookshot", "registration.sample.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var sample map[string]any
	if err := yaml.Unmarshal(data, &sample); err != nil {
		t.Fatal(err)
	}
	sampleKeys(t, sample, reg, "")

	u, err := url.Parse(fmt.Sprint(reg["url"]))
	s, _ := b.service("matrix-" + name)
	if err != nil || u.Hostname() != s.Unit || u.Port() != port ||
		!slices.ContainsFunc(s.Listens, func(l plan.Listen) bool { return fmt.Sprint(l.Port) == port }) {
		t.Errorf("registration url %v: not the bridge's container at bridge.port %s", reg["url"], port)
	}
	var raw map[string]any
	p := "matrix/" + name + "/config/registration.yaml"
	if err := yaml.Unmarshal(b.res.Tree[p].Data, &raw); err != nil {
		t.Fatal(err)
	}
	f, _ := b.planFile(p)
	for key, secret := range map[string]string{"as_token": name + "-as-token", "hs_token": name + "-hs-token"} {
		if raw[key] != plan.SecretPlaceholder(secret) || !slices.Contains(f.Secrets, secret) {
			t.Errorf("registration %s = %v: not the placeholder of %s, filled in on the host", key, raw[key], secret)
		}
	}
	br := b.res.Config.Bridges[name]
	if reg["sender_localpart"] != br.BotUsername {
		t.Errorf("sender_localpart %v is not bot_username %s", reg["sender_localpart"], br.BotUsername)
	}
	domain := b.res.Config.Domain
	users := []string{"@" + br.BotUsername + ":" + domain, "@" + br.UsernamePrefix + "hook:" + domain}
	if github {
		users = append(users, "@_github_octocat:"+domain)
	}
	if gitlab {
		users = append(users, "@_gitlab_alice:"+domain)
	}
	for _, user := range users {
		if !registrationClaims(t, reg, user) {
			t.Errorf("the registration does not claim %s exclusively", user)
		}
	}
	if github {
		ns, _ := reg["namespaces"].(map[string]any)
		aliases, _ := ns["aliases"].([]any)
		if len(aliases) != 1 || !regexp.MustCompile(fmt.Sprint(aliases[0].(map[string]any)["regex"])).MatchString("#github_matrix-org_matrix-hookshot:"+domain) {
			t.Errorf("the registration does not claim GitHub's repository aliases: %v", aliases)
		}
	}
}

// sampleKeys: every key of the sample is in ours, with the same kind of
// value (lists of mappings: every item against the sample's first).
func sampleKeys(t *testing.T, sample, ours map[string]any, at string) {
	t.Helper()
	for key, want := range sample {
		path := joinKey(at, key)
		got, ok := ours[key]
		if !ok {
			t.Errorf("registration: %s is missing (upstream's sample has it)", path)
			continue
		}
		if reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("registration: %s is %T, the sample's is %T", path, got, want)
			continue
		}
		switch w := want.(type) {
		case map[string]any:
			sampleKeys(t, w, got.(map[string]any), path)
		case []any:
			if len(w) == 0 {
				continue
			}
			first, isMap := w[0].(map[string]any)
			for i, item := range got.([]any) {
				if m, ok := item.(map[string]any); ok && isMap {
					sampleKeys(t, first, m, fmt.Sprintf("%s[%d]", path, i))
				}
			}
		}
	}
}

// TestHookshotPasskey follows the new kind of secret through install.sh:
// made once with openssl as a 4096-bit RSA key only the matrix user reads,
// kept on the next run, taken over from where MDAD kept it, refused when
// it is not a key, and asked for by name when openssl is missing.
func TestHookshotPasskey(t *testing.T) {
	consumers.Require(t, "openssl", "openssl")
	b := writeBundle(t, bridgesExample, buildExample(t, bridgesExample))
	keys := b.secretsOf(plan.RSAKey)
	if len(keys) != 1 || keys[0].Name != "hookshot-passkey" {
		t.Fatalf("RSA keys of the bridges example: %+v, want hookshot-passkey", keys)
	}
	key := keys[0]
	path := b.secretPath(key)

	t.Run("made once", func(t *testing.T) {
		h := newTestHost(t)
		b.provide(t, h)
		r := h.install(t, b.out, "--no-start")
		r.mustSucceed(t)
		if !strings.Contains(r.stdout, "created secret "+key.Name+"\n") {
			t.Errorf("install.sh does not say it made %s\n%s", key.Name, r)
		}
		made, err := os.ReadFile(h.at(path))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkRSAKey(string(made), 4096); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if info, err := os.Stat(h.at(path)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", path, info.Mode().Perm(), err)
		}
		if i := r.index("chown " + b.host().User + ":" + b.host().Group + " " + h.at(path) + ".new"); i < 0 {
			t.Errorf("the key is not given to the matrix user:\n%s", strings.Join(r.commands, "\n"))
		}
		again := h.install(t, b.out, "--no-start")
		again.mustSucceed(t)
		if kept, err := os.ReadFile(h.at(path)); err != nil || string(kept) != string(made) {
			t.Errorf("a second run replaced the key (%v)", err)
		}
		if strings.Contains(again.stdout, "created secret "+key.Name) {
			t.Errorf("a second run made the key again\n%s", again)
		}
	})

	t.Run("taken over from MDAD", func(t *testing.T) {
		if key.ImportFrom != "/matrix/hookshot/passkey.pem" {
			t.Fatalf("ImportFrom = %q, want MDAD's /matrix/hookshot/passkey.pem", key.ImportFrom)
		}
		h := newTestHost(t)
		b.provide(t, h)
		old := pemStandIn("mdad-passkey")
		writeSecret(t, h.at(key.ImportFrom), old)
		r := h.install(t, b.out, "--no-start")
		r.mustSucceed(t)
		if got, err := os.ReadFile(h.at(path)); err != nil || string(got) != old {
			t.Errorf("%s = %q (%v), want MDAD's key", path, got, err)
		}
		if !strings.Contains(r.stdout, "importing "+key.Name+" from "+key.ImportFrom) {
			t.Errorf("install.sh does not say it took the key over\n%s", r)
		}
	})

	t.Run("not a key", func(t *testing.T) {
		h := newTestHost(t)
		b.provide(t, h)
		writeSecret(t, h.at(path), "NotAKey\n")
		h.install(t, b.out, "--no-start").mustFail(t, path, "not a private key in PEM format")
	})

	t.Run("no openssl", func(t *testing.T) {
		h := newTestHost(t)
		if err := os.Remove(filepath.Join(h.tools, "openssl")); err != nil {
			t.Fatal(err)
		}
		b.provide(t, h)
		h.install(t, b.out, "--no-start").mustFail(t, "secret "+key.Name, "needs openssl", path)
		if _, err := os.Stat(h.at(path)); err == nil {
			t.Errorf("%s was left behind without a key in it", path)
		}
	})
}

// pemStandIn is a file install.sh takes for a PEM private key; its body
// is not a key, which install.sh does not look into.
func pemStandIn(name string) string {
	return "-----BEGIN PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString([]byte("stand-in for "+name)) + "\n-----END PRIVATE KEY-----\n"
}

// checkRSAKey parses a key as hookshot does (PKCS#8 or PKCS#1 PEM) and
// checks its size.
func checkRSAKey(data string, bits int) error {
	block, rest := pem.Decode([]byte(data))
	if block == nil || strings.TrimSpace(string(rest)) != "" {
		return fmt.Errorf("not one PEM block: %q", data)
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return fmt.Errorf("a %s block, not a private key", block.Type)
	}
	if err != nil {
		return err
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return fmt.Errorf("a %T, not an RSA key", key)
	}
	if got := rk.N.BitLen(); got != bits {
		return fmt.Errorf("%d bits, want %d", got, bits)
	}
	return rk.Validate()
}
