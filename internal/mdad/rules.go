package mdad

import (
	"fmt"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The functions of the rows that take a decision.

func genericSecretKey(t *translator, v *variable, n *yaml.Node) {
	if _, err := scalarText(n); err != nil {
		t.readVar(v, "empty, so no secret can be derived from it")
		return
	}
	t.readVar(v, "the secrets the playbook derives from it (written with --secrets-dir)")
}

func reverseProxyType(t *translator, v *variable, n *yaml.Node) {
	s, _ := scalarText(n)
	switch s {
	case "playbook-managed-traefik":
		t.set(v, "reverse_proxy.type", strNode("traefik"))
	case "other-traefik-container":
		t.notTranslated(v, "matrixgen runs a Traefik of its own and does not join one you run: put it behind yours (traefik.behind_proxy), or let your webserver serve the routes (reverse_proxy.type nginx, caddy or apache)")
	case "none":
		t.notTranslated(v, "for your own webserver, set reverse_proxy.type to nginx, caddy or apache and include the configuration the bundle writes under proxy/ (matrixgen routes lists every route); until then matrixgen runs Traefik on ports 80 and 443")
	default:
		t.notTranslated(v, fmt.Sprintf("%q is not a value matrixgen knows", s))
	}
}

func sslEnabled(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case on:
		t.readVar(v, "matrixgen serves https:// URLs")
	default:
		t.notTranslated(v, "matrixgen always publishes https:// URLs; when TLS ends in a proxy in front of Traefik, that is traefik.behind_proxy")
	}
}

func webSecureEnabled(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case on:
		t.readVar(v, "matrixgen's Traefik serves HTTPS itself")
	case !t.ourTraefik():
		t.notTranslated(v, "it concerns the playbook's own Traefik, which this vars.yml does not use")
	default:
		t.set(v, "traefik.behind_proxy.enabled", boolNode(true))
	}
}

// bindPort handles the host ports the playbook publishes Traefik's plain
// HTTP entrypoints on when another proxy is in front. matrixgen takes both
// client and federation traffic on one port, so the first variable sets it
// and the second is reported with what to change in the proxy in front.
func bindPort(t *translator, v *variable, n *yaml.Node) {
	s, err := scalarText(n)
	if err != nil {
		t.notTranslated(v, "no port given")
		return
	}
	addr, port, err := splitBind(s)
	if err != nil {
		t.notTranslated(v, err.Error())
		return
	}
	if p, ok := t.out.get("traefik.behind_proxy.port"); ok {
		t.notTranslated(v, fmt.Sprintf("matrixgen's Traefik takes client and federation traffic on one port, traefik.behind_proxy.port (%s here): send your proxy's federation traffic there too", p.Value))
		return
	}
	if t.set(v, "traefik.behind_proxy.port", intNode(port)) {
		t.out.set("reverse_proxy.bind_address", strNode(addr), v.name, fmt.Sprintf("%s, line %d", v.name, v.line))
	}
}

// splitBind reads Docker's publish syntax: "ADDRESS:PORT" or "PORT".
func splitBind(s string) (addr string, port int, err error) {
	host, p := "0.0.0.0", s
	if strings.Contains(s, ":") {
		if host, p, err = net.SplitHostPort(s); err != nil {
			return "", 0, fmt.Errorf("%q is not ADDRESS:PORT", s)
		}
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no valid port", s)
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%q: %s is not an IP address", s, host)
	}
	return host, port, nil
}

func registration(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	if err != nil {
		t.notTranslated(v, err.Error())
		return
	}
	mode := "closed"
	if on {
		mode = "open"
		if token, _ := t.flag("matrix_synapse_registration_requires_token"); token {
			mode = "token"
		}
	}
	t.set(v, "homeserver.registration.mode", strNode(mode))
}

func registrationToken(t *translator, v *variable, n *yaml.Node) {
	token, err := toBool(n)
	enabled, _ := t.flag("matrix_synapse_enable_registration")
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case enabled:
		t.readVar(v, "part of homeserver.registration.mode")
	case token:
		t.notTranslated(v, "it has no effect while registration is off (matrix_synapse_enable_registration)")
	default:
		t.readVar(v, "registration is off")
	}
}

func workersEnabled(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case !on:
		t.readVar(v, "Synapse runs as one process, as with synapse.workers.preset: none")
	default:
		t.readVar(v, "workers come from synapse.workers")
	}
}

func relayUse(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case !on:
		t.readVar(v, "mail is delivered directly, as without mailer.smarthost")
	case !t.isSet("exim_relay_relay_host_name") && !t.isSet("matrix_mailer_relay_host_name"):
		t.notTranslated(v, "no relay host is set (exim_relay_relay_host_name)")
	default:
		t.readVar(v, "mail goes through mailer.smarthost")
	}
}

func relayAuth(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case on:
		t.readVar(v, "the login is mailer.smarthost.user, its password the secret mailer-smarthost-password")
	default:
		t.readVar(v, "the relay takes no login")
	}
}

func emailEnabled(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	mailerOn := t.mailerEnabled()
	_, mailerSet := t.flag("exim_relay_enabled", "matrix_mailer_enabled")
	switch {
	case err != nil:
		t.notTranslated(v, err.Error())
	case on && mailerOn:
		t.readVar(v, "Synapse sends mail through matrixgen's relay")
	case on:
		t.notTranslated(v, "the mail relay is off (exim_relay_enabled), and matrixgen's Synapse sends mail only through it")
	case !mailerOn:
		t.readVar(v, "the mail relay is off too")
	case mailerSet:
		t.notTranslated(v, "matrixgen gives Synapse e-mail whenever the mail relay runs (mailer.enabled)")
	default:
		// Synapse is the only sender in a bundle, so no mail for
		// Synapse means no relay.
		t.set(v, "mailer.enabled", boolNode(false))
	}
}

func notifFrom(t *translator, v *variable, n *yaml.Node) {
	s, err := scalarText(n)
	if err != nil {
		t.notTranslated(v, "empty")
		return
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		t.notTranslated(v, fmt.Sprintf("%q is not NAME <ADDRESS>", s))
		return
	}
	if sender, ok := t.out.get("mailer.sender"); ok && sender.Value != a.Address {
		t.notTranslated(v, fmt.Sprintf("its address differs from mailer.sender (%s); matrixgen sends from one address", t.describe(t.out.originOf("mailer.sender"))))
		return
	}
	if a.Name == "" {
		if !t.out.has("mailer.sender") {
			t.set(v, "mailer.sender", strNode(a.Address))
		} else {
			t.readVar(v, "the same address as mailer.sender")
		}
		return
	}
	if t.set(v, "mailer.sender_name", strNode(a.Name)) && !t.out.has("mailer.sender") {
		t.out.set("mailer.sender", strNode(a.Address), v.name, fmt.Sprintf("%s, line %d", v.name, v.line))
	}
}

// extensionYAML carries the Synapse configuration extension into
// synapse.extra.
func extensionYAML(t *translator, v *variable, raw *yaml.Node) {
	to := oidcTarget("synapse.extra")
	extra := t.extension(v, raw, to)
	if extra != nil {
		extra = t.takeOIDCProviders(v, extra, to.taken, "oidc_providers")
	}
	if extra != nil {
		t.set(v, "synapse.extra", extra)
	}
}

// extensionTarget is the option a playbook's configuration extension goes
// to, and the program that reads it.
type extensionTarget struct {
	option, program string
	// refuse, if set, says why a key (a dotted path in the extension)
	// cannot be carried over.
	refuse func(path string) string
	// secret, if set, decides about a secret at a path of the extension:
	// take its value into taken (the bundle hands it over from the host),
	// or say why it is left out; neither keeps the generic reason.
	secret func(path string) (take bool, why string)
	taken  map[string]takenSecret
}

// takenSecret is a secret's value found in an extension, and its line.
type takenSecret struct {
	value string
	line  int
}

// extension reads a configuration extension (Synapse's, a bridge's) for
// an extra option. The playbook templates the text and then parses it, so
// the Jinja matrixgen understands is evaluated in the text first; what is
// left of Jinja, and every secret, is reported key by key. It returns the
// mapping to carry over, or nil when nothing is left of it.
func (t *translator) extension(v *variable, raw *yaml.Node, to extensionTarget) *yaml.Node {
	src := raw
	if src.Kind == yaml.AliasNode {
		src = src.Alias
	}
	x := &extension{t: t, v: v, to: to}
	var doc *yaml.Node
	switch {
	case src.Kind == yaml.MappingNode:
		// Already structured: each value is resolved on its own.
		doc = src
		x.perValue = true
	case src.Kind == yaml.ScalarNode && (src.Tag == "!!str" || src.Tag == "!unsafe"):
		text := src.Value
		if src.Tag == "!!str" {
			if hasStatement(text) {
				t.notTranslated(v, "it uses Jinja statements ({% %}), which matrixgen does not evaluate; write the result into "+to.option)
				return nil
			}
			text, x.left = t.r.expand(text, extensionMark)
			for _, l := range x.left {
				if l.text == "" {
					t.notTranslated(v, l.err.Error())
					return nil
				}
			}
		}
		var parsed yaml.Node
		if err := yaml.Unmarshal([]byte(text), &parsed); err != nil {
			t.notTranslated(v, fmt.Sprintf("once its Jinja is evaluated it is not valid YAML (%v)", err))
			return nil
		}
		if len(parsed.Content) == 0 {
			t.readVar(v, "empty")
			return nil
		}
		doc = parsed.Content[0]
		// A block scalar's text starts on the line after the key.
		x.base = src.Line - 1
		if src.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			x.base = src.Line
		}
	case src.Kind == yaml.ScalarNode && src.Tag == "!!null":
		t.readVar(v, "empty")
		return nil
	default:
		t.notTranslated(v, "expected YAML text, or a mapping")
		return nil
	}
	if doc.Kind != yaml.MappingNode {
		t.notTranslated(v, "expected a mapping of "+to.program+" options")
		return nil
	}
	if len(doc.Content) == 0 {
		t.readVar(v, "empty")
		return nil
	}
	extra := x.clean(doc, "", false)
	t.outcome[v] = true // its parts are reported one by one
	if len(extra.Content) == 0 {
		return nil
	}
	return extra
}

// extensionMark stands in for a piece of Jinja in the extension's text
// until its YAML is parsed, so that the piece is reported with the key it
// is in.
func extensionMark(i int, _ string) string { return fmt.Sprintf("MATRIXGEN-UNEVALUATED-%d-", i) }

var extensionMarks = regexp.MustCompile(`MATRIXGEN-UNEVALUATED-([0-9]+)-`)

type extension struct {
	t    *translator
	v    *variable
	to   extensionTarget
	left []unevaluated
	base int // added to a line of the parsed text to give its line in vars.yml
	// perValue: the extension is a mapping, not text; its values are
	// resolved one by one.
	perValue bool
}

func (x *extension) whySecret() string {
	return "a secret: matrixgen keeps secrets out of matrix.yaml and the bundle, and has no way yet to hand this one to " + x.to.program + " from /matrix/secrets"
}

// secretValue is the value of a secret in the extension, with its Jinja
// evaluated; false when some of it cannot be.
func (x *extension) secretValue(c *yaml.Node) (string, bool) {
	if _, err := x.unevaluatedIn(c.Value); err != nil {
		return "", false
	}
	if !x.perValue || !hasJinja(c.Value) {
		return c.Value, true
	}
	r, err := x.t.r.node(c)
	if err != nil {
		return "", false
	}
	s, err := scalarText(r)
	return s, err == nil
}

// unevaluatedIn returns s as written in vars.yml, and why it cannot be
// used when it holds Jinja that was not evaluated.
func (x *extension) unevaluatedIn(s string) (written string, err error) {
	restored := extensionMarks.ReplaceAllStringFunc(s, func(m string) string {
		i, _ := strconv.Atoi(extensionMarks.FindStringSubmatch(m)[1])
		if err == nil {
			err = x.left[i].err
		}
		return x.left[i].text
	})
	return restored, err
}

// clean copies the extension without comments, and leaves out (and
// reports) secrets and the values it cannot evaluate.
func (x *extension) clean(n *yaml.Node, path string, underSecret bool) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	out := *n
	out.HeadComment, out.LineComment, out.FootComment, out.Anchor = "", "", "", ""
	out.Content = nil
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch n.Kind {
	case yaml.MappingNode:
		// As in the playbook (PyYAML), the last of repeated keys counts.
		lastAt := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			lastAt[n.Content[i].Value] = i
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, c := n.Content[i], n.Content[i+1]
			if j := lastAt[k.Value]; j != i {
				x.t.notTranslatedPart(x.v, x.base+k.Line, join(k.Value), c, underSecret || isSecretName(k.Value),
					fmt.Sprintf("set again on line %d, and the later value counts", x.base+n.Content[j].Line))
				continue
			}
			if written, err := x.unevaluatedIn(k.Value); err != nil || (x.perValue && hasJinja(k.Value)) {
				x.t.notTranslatedPart(x.v, x.base+k.Line, join(written), c, underSecret || isSecretName(written), "a key made by Jinja, which matrixgen does not evaluate")
				continue
			}
			if x.to.refuse != nil {
				if why := x.to.refuse(join(k.Value)); why != "" {
					x.t.notTranslatedPart(x.v, x.base+k.Line, join(k.Value), c, underSecret || isSecretName(k.Value), why)
					continue
				}
			}
			if kept := x.keep(k.Value, c, join(k.Value), underSecret); kept != nil {
				kk := *k
				kk.HeadComment, kk.LineComment, kk.FootComment = "", "", ""
				out.Content = append(out.Content, &kk, kept)
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if kept := x.keep("", c, join(strconv.Itoa(i)), underSecret); kept != nil {
				out.Content = append(out.Content, kept)
			}
		}
	}
	return &out
}

// keep returns the cleaned value, or nil when it is left out.
func (x *extension) keep(key string, c *yaml.Node, path string, underSecret bool) *yaml.Node {
	if c.Kind == yaml.AliasNode {
		c = c.Alias
	}
	if c.Kind != yaml.ScalarNode {
		cleaned := x.clean(c, path, underSecret || isSecretName(key))
		if len(cleaned.Content) == 0 && len(c.Content) > 0 {
			return nil // all of it was left out, and reported
		}
		return cleaned
	}
	line := x.base + c.Line
	// Below a secret-looking key (a bridge's double_puppet.secrets, its
	// login_shared_secret_map), every text is a secret too, whatever its key.
	secret := isSecretName(key) && c.Tag != "!!null" && c.Tag != "!!bool"
	if (secret || underSecret && c.Tag == "!!str") && c.Value != "" {
		why := x.whySecret()
		if x.to.secret != nil {
			take, reason := x.to.secret(path)
			if value, ok := x.secretValue(c); take && ok {
				x.to.taken[path] = takenSecret{value, line}
				return nil
			}
			if reason != "" {
				why = reason
			}
		}
		x.t.notTranslatedPart(x.v, line, path, c, true, why)
		return nil
	}
	cc := *c
	cc.HeadComment, cc.LineComment, cc.FootComment = "", "", ""
	if written, err := x.unevaluatedIn(c.Value); err != nil {
		cc.Value = written
		x.t.notTranslatedPart(x.v, line, path, &cc, false, err.Error())
		return nil
	}
	if x.perValue && hasJinja(c.Value) && c.Tag == "!!str" {
		r, err := x.t.r.node(c)
		if err != nil {
			x.t.notTranslatedPart(x.v, line, path, &cc, false, err.Error())
			return nil
		}
		return r
	}
	return &cc
}
