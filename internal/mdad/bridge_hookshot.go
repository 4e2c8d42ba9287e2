package mdad

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/reserved"
)

// matrix-hookshot: the playbook's hookshot role (matrix_bridge_hookshot_*,
// matrix_hookshot_* before the rename) becomes bridges.hookshot, so that
// the unit (matrix-hookshot), the directory (/matrix/hookshot) and the
// key its stored tokens are encrypted with (passkey.pem there) stay.

var _ = registerBridgeKind(&bridgeKind{
	// The playbook's appservice ID has a '-', which matrixgen's IDs
	// do not take: names() keeps matrixgen's and says so.
	name: "hookshot", typ: "matrix-hookshot", role: "hookshot",
	id: "matrix-hookshot", bot: "hookshot", userPrefix: "_webhooks_", ourID: "hookshot",
	ourBotName: "hookshot", ourPrefix: "_webhooks_",
	salts:  bridgeSalts{as: "hookshot.as.tok", hs: "hookshot.hs.tok"},
	image:  "ghcr.io/matrix-org/matrix-hookshot",
	botVar: "bot_localpart", logVar: "logging_level", prefixVar: "generic_userIdPrefix",
	// The GitHub App's client ID is no secret to GitHub, but the
	// bundle keeps it with the app's other credentials.
	secretVars: []string{"github_oauth_client_id", "github_oauth_client_secret",
		"github_webhook_secret", "gitlab_webhook_secret", "github_private_key"},

	options: func(b *bridgeRun) {
		b.hookshot()
		b.logLevel()
	},
	extra:   (*bridgeRun).hookshotExtraVars,
	secrets: (*bridgeRun).hookshotSecrets,
	left:    (*bridgeRun).hookshotLeft,
	noOption: func(b *bridgeRun) string {
		return fmt.Sprintf("matrixgen has no option for it; a setting of hookshot's config can go into bridges.%s.extra (the playbook's config is /matrix/%s/config.yml on the server)", b.k.name, b.k.name)
	},
})

// hookshotServices are the services the translation turns on.
type hookshotServices struct {
	webhooks, feeds, github, oauth, gitlab bool
}

// hs are the bridge's services as the translation has turned them on so
// far, kept in the run for the steps after hookshot().
func (b *bridgeRun) hs() *hookshotServices {
	if b.own == nil {
		b.own = &hookshotServices{}
	}
	return b.own.(*hookshotServices)
}

// hookshotPublicPath is where both the playbook and matrixgen serve
// hookshot's webhooks on the homeserver's hostname.
const hookshotPublicPath = reserved.HookshotWebhooks

// hookshotKeyFile is the file the playbook keeps the GitHub App's key in
// by default, and the one the bundle takes the key over from.
const hookshotKeyFile = "private-key.pem"

// hookshot translates its services. The playbook's defaults differ from
// matrixgen's in two: GitLab is on (for gitlab.com), and widgets are.
func (b *bridgeRun) hookshot() {
	b.hs().webhooks = b.hookshotSwitch("generic_enabled", "webhooks")
	b.hs().feeds = b.hookshotSwitch("feeds_enabled", "feeds")
	b.hookshotGitHub()
	b.hookshotGitLab()
	b.hookshotEncryption()
	b.hookshotWidgets()
}

// hookshotSwitch sets an option that is on, in the playbook and in
// matrixgen, unless a variable turns it off; it tells whether it is on.
func (b *bridgeRun) hookshotSwitch(suffix, option string) bool {
	v, on, ok := b.takeBool(suffix)
	if !ok {
		return true
	}
	b.set(option, boolNode(on), v)
	return on
}

func (b *bridgeRun) hookshotGitHub() {
	v, on, ok := b.takeBool("github_enabled")
	if !ok || !on {
		if ok {
			b.t.readVar(v, "GitHub is off, as without bridges."+b.k.name+".github")
		}
		return
	}
	idVar, n, ok := b.take("github_auth_id")
	var appID *yaml.Node
	var err error
	if ok {
		appID, err = integer(n)
		if err != nil {
			b.t.notTranslated(idVar, err.Error())
		}
	}
	if appID == nil {
		b.t.notTranslated(v, fmt.Sprintf("GitHub is on, and vars.yml gives no App ID that matrixgen can read (%sgithub_auth_id): set bridges.%s.github.app_id", b.prefix, b.k.name))
		return
	}
	b.set("github.app_id", appID, idVar, v)
	b.hs().github = true
	if ov, oauth, ok := b.takeBool("github_oauth_enabled"); ok {
		b.set("github.oauth", boolNode(oauth), ov)
		b.hs().oauth = oauth
	}
	if b.hs().oauth {
		b.t.notes = append(b.t.notes, fmt.Sprintf("bridges.%s.github.oauth: GitHub sends users back to https://%s%s/github/oauth, where the playbook had %s/oauth: add the new URL to the GitHub App's callback URLs",
			b.k.name, b.t.homeserver(), hookshotPublicPath, hookshotPublicPath))
	}
	keyFile := hookshotKeyFile
	if fv, file, ok := b.takeText("github_private_key_file"); ok {
		if file == hookshotKeyFile {
			b.t.readVar(fv, "the playbook's own file name, which install.sh takes the key over from")
		} else {
			keyFile = file
			b.t.notTranslated(fv, fmt.Sprintf("install.sh takes the GitHub App's key over from /matrix/%s/%s only: copy /matrix/%s/%s to /matrix/secrets/%s-github-private-key before running it", b.k.name, hookshotKeyFile, b.k.name, file, b.k.name))
		}
	}
	b.readAs("github_private_key", fmt.Sprintf("the playbook wrote it to /matrix/%s/%s, where install.sh finds it (the secret %s-github-private-key)", b.k.name, keyFile, b.k.name))
}

func (b *bridgeRun) hookshotGitLab() {
	v, on, set := b.takeBool("gitlab_enabled")
	if set && !on {
		b.t.readVar(v, "GitLab is off, as without bridges."+b.k.name+".gitlab")
		return
	}
	if !set && b.vars["gitlab_enabled"] != nil {
		return // unreadable, and reported: the playbook's setting is unknown
	}
	if iv, n, ok := b.take("gitlab_instances"); ok {
		list := b.gitlabInstances(iv, n)
		switch {
		case list != nil && v != nil:
			b.set("gitlab.instances", list, iv, v)
		case list != nil:
			b.set("gitlab.instances", list, iv)
		case v != nil:
			b.t.notTranslated(v, fmt.Sprintf("GitLab is on, and none of its instances can be taken over (%s, line %d)", iv.name, iv.line))
			return
		default:
			return
		}
		b.hs().gitlab = true
		return
	}
	list := &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{strNode("gitlab.com")}}
	b.hs().gitlab = true
	if v != nil {
		b.set("gitlab.instances", list, v)
		return
	}
	why := fmt.Sprintf("not in vars.yml: the playbook's hookshot bridges GitLab, for gitlab.com, unless %sgitlab_enabled is false", b.prefix)
	b.setFact("gitlab.instances", list, why)
	b.t.notes = append(b.t.notes, fmt.Sprintf("bridges.%s.gitlab.instances: [gitlab.com] (%s)", b.k.name, why))
}

// gitlabInstances reads the playbook's mapping of instance names to
// {url: …}. matrixgen names each instance after its hostname, and rooms'
// connections name their instance, so one named otherwise is reported
// rather than renamed; so is one not at the root of an https:// URL.
func (b *bridgeRun) gitlabInstances(v *variable, n *yaml.Node) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		b.t.notTranslated(v, "expected a mapping of GitLab instance names to {url: …}")
		return nil
	}
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, inst := n.Content[i], n.Content[i+1]
		if why := gitlabInstanceProblem(name.Value, inst); why != "" {
			b.t.notTranslatedPart(v, name.Line, name.Value, inst, false, why)
			continue
		}
		list.Content = append(list.Content, strNode(name.Value))
	}
	if len(list.Content) == 0 {
		return nil
	}
	return list
}

// hostnamePattern matches the hostnames matrixgen takes (the schema's
// #Hostname, without its length limit).
var hostnamePattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

func gitlabInstanceProblem(name string, inst *yaml.Node) string {
	if inst.Kind != yaml.MappingNode || len(inst.Content) != 2 || inst.Content[0].Value != "url" {
		return "matrixgen takes an instance's url and nothing else"
	}
	url := inst.Content[1].Value
	host, https := strings.CutPrefix(strings.TrimSuffix(url, "/"), "https://")
	if !https || host != name || !hostnamePattern.MatchString(host) {
		return fmt.Sprintf("matrixgen names each GitLab instance after its hostname and reaches it at https://HOSTNAME/, and this one is %q at %s; rooms' connections name their instance, so add it by hand only where none uses it", name, url)
	}
	return ""
}

const whyNoHookshotEncryption = "matrixgen's hookshot runs without encryption: it keeps its encryption store on disk, and its directory is read-only to it; messages of encrypted rooms stop reaching it"

func (b *bridgeRun) hookshotEncryption() {
	if v, on, ok := b.takeBool("encryption_enabled"); ok {
		if on {
			b.t.notTranslated(v, whyNoHookshotEncryption)
		} else {
			b.t.readVar(v, "off, as in matrixgen's hookshot")
		}
		return
	}
	if b.vars["encryption_enabled"] == nil && b.g.encryptionSet && b.g.encryption {
		ev := b.g.vars[varEncryption]
		b.t.notes = append(b.t.notes, fmt.Sprintf("bridges.%s: the playbook's hookshot encrypts, as %s (line %d) is true; %s", b.k.name, ev.name, ev.line, whyNoHookshotEncryption))
	}
}

const whyNoHookshotWidgets = "matrixgen routes no widgets listener for hookshot, so widgets added to rooms stop loading (extra can turn them on, unrouted: docs/bridges.md)"

func (b *bridgeRun) hookshotWidgets() {
	if v, on, ok := b.takeBool("widgets_enabled"); ok {
		if on {
			b.t.notTranslated(v, whyNoHookshotWidgets)
		} else {
			b.t.readVar(v, "off, as in matrixgen's hookshot")
		}
		return
	}
	if b.vars["widgets_enabled"] == nil {
		b.t.notes = append(b.t.notes, fmt.Sprintf("bridges.%s: the playbook's hookshot serves widgets unless %swidgets_enabled is false; %s", b.k.name, b.prefix, whyNoHookshotWidgets))
	}
}

// hookshotExtra are settings of hookshot's config that matrixgen has no
// option for, carried into extra where vars.yml sets them and their
// service is on.
var hookshotExtra = []struct {
	suffix, path string
	on           func(hookshotServices) bool
}{
	{"generic_outbound", "generic.outbound", webhooksOn},
	{"generic_enableHttpGet", "generic.enableHttpGet", webhooksOn},
	{"generic_allowJsTransformationFunctions", "generic.allowJsTransformationFunctions", webhooksOn},
	{"generic_waitForComplete", "generic.waitForComplete", webhooksOn},
	{"generic_sendExpiryNotice", "generic.sendExpiryNotice", webhooksOn},
	{"generic_requireExpiryTime", "generic.requireExpiryTime", webhooksOn},
	{"generic_maxExpiryTime", "generic.maxExpiryTime", webhooksOn},
	{"feeds_pollIntervalSeconds", "feeds.pollIntervalSeconds", feedsOn},
	{"feeds_pollTimeoutSeconds", "feeds.pollTimeoutSeconds", feedsOn},
	{"github_defaultOptions_ignoreHooks", "github.defaultOptions.ignoreHooks", githubOn},
	{"github_defaultOptions_commandPrefix", "github.defaultOptions.commandPrefix", githubOn},
	{"github_defaultOptions_showIssueRoomLink", "github.defaultOptions.showIssueRoomLink", githubOn},
	{"github_defaultOptions_prDiff", "github.defaultOptions.prDiff", githubOn},
	{"github_defaultOptions_includingLabels", "github.defaultOptions.includingLabels", githubOn},
	{"github_defaultOptions_excludingLabels", "github.defaultOptions.excludingLabels", githubOn},
	{"github_defaultOptions_hotlinkIssues_prefix", "github.defaultOptions.hotlinkIssues.prefix", githubOn},
	{"permissions", "permissions", always},
	{"connections", "connections", always},
	{"bot_displayname", "bot.displayname", always},
	{"bot_avatar", "bot.avatar", always},
}

func webhooksOn(s hookshotServices) bool { return s.webhooks }
func feedsOn(s hookshotServices) bool    { return s.feeds }
func githubOn(s hookshotServices) bool   { return s.github }
func always(hookshotServices) bool       { return true }

// hookshotExtraVars puts the settings of hookshotExtra into extra.
func (b *bridgeRun) hookshotExtraVars(put putExtra) {
	for _, e := range hookshotExtra {
		if !e.on(*b.hs()) || b.vars[e.suffix] == nil {
			continue
		}
		v, n, ok := b.take(e.suffix)
		if !ok {
			continue
		}
		if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
			b.t.readVar(v, "empty, so hookshot's own default applies, as in matrixgen")
			continue
		}
		put(e.path, plainCopy(n), v)
	}
}

// hookshotLeft reports a variable of hookshot that no option took, when
// its reason is hookshot's own; it tells whether it did.
func (b *bridgeRun) hookshotLeft(v *variable, suffix string) bool {
	has := func(prefixes ...string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(suffix, p) {
				return true
			}
		}
		return false
	}
	off := func(service, flag string) {
		if fv := b.vars[flag]; fv != nil {
			if on, set := b.flag(flag); set && on {
				b.t.notTranslated(v, fmt.Sprintf("it concerns %s, which is not translated (see %s, line %d)", service, fv.name, fv.line))
				return
			}
		}
		b.t.notTranslated(v, fmt.Sprintf("it concerns %s, off here (%s%s is not true), so the playbook does not use it", service, b.prefix, flag))
	}
	switch {
	case has("generic_") && !b.hs().webhooks:
		off("webhooks", "generic_enabled")
	case has("feeds_") && !b.hs().feeds:
		off("feeds", "feeds_enabled")
	case has("github_") && !b.hs().github:
		off("GitHub", "github_enabled")
	case has("gitlab_") && !b.hs().gitlab:
		off("GitLab", "gitlab_enabled")
	case has("github_oauth_client_") && !b.hs().oauth:
		off("logging in to GitHub", "github_oauth_enabled")
	case strings.HasSuffix(suffix, "_port"):
		b.t.notTranslated(v, "matrixgen keeps hookshot's own ports inside its container, and publishes the webhooks listener on bridges."+b.k.name+".host_port for your own webserver")
	case has("public_", "urlprefix", "webhook_", "appservice_", "generic_endpoint", "generic_urlPrefix", "github_oauth_endpoint", "github_oauth_redirect_uri", "gitlab_webhook_publicUrl"):
		b.t.notTranslated(v, fmt.Sprintf("matrixgen serves hookshot's webhooks at https://%s%s/, the playbook's default, and derives its URLs from that; URLs handed out under another address stop working", b.t.homeserver(), hookshotPublicPath))
	case has("jira_", "figma_"):
		b.t.notTranslated(v, "matrixgen has no option for hookshot's Jira and Figma support, which needs secrets that matrix.yaml may not hold")
	case has("widgets_"):
		b.t.notTranslated(v, whyNoHookshotWidgets)
	case has("metrics_"):
		b.t.notTranslated(v, "matrixgen runs hookshot without a metrics listener; extra can add one (docs/bridges.md), which matrixgen does not route")
	case has("cache_"):
		b.t.notTranslated(v, "matrixgen's hookshot keeps no cache; extra.cache can point it at a Redis of your own")
	case suffix == "identifier" || suffix == "container_url" || suffix == "base_path":
		b.t.notTranslated(v, fmt.Sprintf("matrixgen names hookshot's unit, container and directory after the instance: matrix-%s and /matrix/%s, the playbook's defaults", b.k.name, b.k.name))
	case suffix == "homeserver_address":
		b.t.readVar(v, "matrixgen connects hookshot to Synapse itself")
	case suffix == "registration_extension_yaml":
		b.t.notTranslated(v, "matrixgen writes hookshot's registration from the bridge's options, and takes no extension of it")
	default:
		return false
	}
	return true
}

// hookshotSecrets are the secrets of hookshot beyond its tokens: the key
// its stored tokens are encrypted with, which install.sh takes over from
// the playbook's file, and those of the services that are on.
func (b *bridgeRun) hookshotSecrets() []secretPlan {
	n := b.k.name
	dir := "/matrix/" + n
	list := []secretPlan{{name: n + "-passkey", importFrom: dir + "/passkey.pem",
		importWhat: "the playbook's key, which the tokens hookshot keeps are encrypted with"}}
	if b.hs().github {
		list = append(list,
			secretPlan{name: n + "-github-private-key", provided: true, importFrom: dir + "/" + hookshotKeyFile,
				importWhat: "where the playbook keeps the GitHub App's key"},
			secretPlan{name: n + "-github-webhook-secret", suffix: "github_webhook_secret",
				newWhat: "enter it as the GitHub App's webhook secret, or hookshot refuses GitHub's events"})
		if b.hs().oauth {
			list = append(list,
				secretPlan{name: n + "-github-client-id", suffix: "github_oauth_client_id", provided: true},
				secretPlan{name: n + "-github-client-secret", suffix: "github_oauth_client_secret", provided: true})
		}
	}
	if b.hs().gitlab {
		list = append(list, secretPlan{name: n + "-gitlab-webhook-secret", suffix: "gitlab_webhook_secret",
			newWhat: "enter it as the secret token of each GitLab project's webhook, or hookshot refuses their events"})
	}
	return list
}

// plainCopy copies a value without its comments and anchors, for a place
// in the config.
func plainCopy(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return plainCopy(n.Alias)
	}
	out := *n
	out.HeadComment, out.LineComment, out.FootComment, out.Anchor = "", "", "", ""
	out.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out.Content[i] = plainCopy(c)
	}
	if len(out.Content) == 0 {
		out.Content = nil
	}
	return &out
}
