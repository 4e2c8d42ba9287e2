package compile

import (
	"path"
	"regexp"
	"slices"

	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	// appserviceDir is where Synapse's processes see the registrations.
	appserviceDir = "/appservices"

	doublePuppetID   = "doublepuppet"
	doublePuppetName = "appservice-double-puppet"
)

// registrationFile is an appservice registration Synapse loads.
type registrationFile struct {
	id   string // the registration's id, unique on the homeserver
	path string // host path
}

// target is where Synapse's processes see the file.
func (r registrationFile) target() string { return appserviceDir + "/" + r.id + ".yaml" }

// appserviceRegistrations lists the registrations Synapse loads, in a
// fixed order. It follows from the config alone, so that Synapse's
// component can list them before the bridges' components write them.
func appserviceRegistrations(b *builder) []registrationFile {
	var out []registrationFile
	for _, name := range b.cfg.Bridges.Enabled() {
		out = append(out, registrationFile{b.cfg.Bridges[name].AppserviceID, bridgeRegistrationPath(b, name)})
	}
	if doublePuppetWanted(b) {
		out = append(out, registrationFile{doublePuppetID, b.dataPath(doublePuppetName, "registration.yaml")})
	}
	return out
}

func bridgeRegistrationPath(b *builder, name string) string {
	return b.dataPath(name, "config", "registration.yaml")
}

// appserviceMounts are the registrations, read-only, for Synapse's
// processes; the workers copy the main process's mounts.
func appserviceMounts(b *builder) []plan.Mount {
	var out []plan.Mount
	for _, r := range appserviceRegistrations(b) {
		out = append(out, plan.Mount{Source: r.path, Target: r.target(), ReadOnly: true})
	}
	return out
}

// appserviceConfigFiles is homeserver.yaml's app_service_config_files.
func appserviceConfigFiles(b *builder) []any {
	var out []any
	for _, r := range appserviceRegistrations(b) {
		out = append(out, r.target())
	}
	return out
}

// registration is the content of a registration file: what Synapse needs
// to know of an appservice, and what the appservice is told by the same
// tokens in its own config.
type registration struct {
	id              string
	url             string // "" for an appservice that receives no events
	asToken         plan.SecretRef
	hsToken         plan.SecretRef
	senderLocalpart string
	users           []namespace
	// ephemeral: receive typing, receipts and presence (MSC2409).
	ephemeral bool
	// extra are further top-level keys the appservice reads itself.
	extra obj
}

// namespace is one exclusive or shared pattern of user IDs.
type namespace struct {
	regex     string
	exclusive bool
}

func (r registration) value() obj {
	users := []any{}
	for _, ns := range r.users {
		users = append(users, obj{"regex": ns.regex, "exclusive": ns.exclusive})
	}
	var url any
	if r.url != "" {
		url = r.url
	}
	v := obj{
		"id":               r.id,
		"url":              url,
		"as_token":         r.asToken,
		"hs_token":         r.hsToken,
		"sender_localpart": r.senderLocalpart,
		// Bridges act for many users at once; Synapse's per-user limits
		// would throttle them.
		"rate_limited": false,
		"namespaces":   obj{"users": users, "aliases": []any{}, "rooms": []any{}},
	}
	if r.ephemeral {
		v["receive_ephemeral"] = true
		v["de.sorunome.msc2409.push_ephemeral"] = true // the unstable name, for older Synapse
	}
	for k, x := range r.extra {
		v[k] = x
	}
	return v
}

// userRegex matches the user IDs of this server whose localpart is
// localpart (prefix false) or starts with it (prefix true).
func userRegex(domain, localpart string, prefix bool) string {
	if prefix {
		return "^@" + regexp.QuoteMeta(localpart) + ".*:" + regexp.QuoteMeta(domain) + "$"
	}
	return "^@" + regexp.QuoteMeta(localpart) + ":" + regexp.QuoteMeta(domain) + "$"
}

// appserviceTokens declares the two tokens of a bridge's registration: the
// bridge presents as_token to Synapse, Synapse presents hs_token to the
// bridge.
func (b *builder) appserviceTokens(br bridge) (as, hs plan.SecretRef) {
	as = b.secret(br.name+"-as-token", "token "+br.name+" presents to Synapse", br.unit, b.homeserverUnit())
	hs = b.secret(br.name+"-hs-token", "token Synapse presents to "+br.name, br.unit, b.homeserverUnit())
	return as, hs
}

// writeRegistration installs a bridge's registration where Synapse's
// mount expects it; Synapse and the bridge restart when it changes.
func (b *builder) writeRegistration(br bridge, r registration) {
	b.file(plan.File{
		Path: bridgeRegistrationPath(b, br.name), Format: plan.YAML, Value: r.value(),
		Secrets: []string{string(r.asToken), string(r.hsToken)}, Restarts: []string{b.homeserverUnit(), br.unit},
	})
	// Synapse gives an appservice its sender as well as its namespaces.
	b.appserviceUsers = append(b.appserviceUsers, userRegex(b.cfg.Domain, r.senderLocalpart, false))
	for _, ns := range r.users {
		if ns.exclusive {
			b.appserviceUsers = append(b.appserviceUsers, ns.regex)
		}
	}
}

// doublePuppetWanted: some bridge logs its users in as themselves.
func doublePuppetWanted(b *builder) bool {
	for _, name := range b.cfg.Bridges.Enabled() {
		if on, _ := b.cfg.Bridges[name].Options["double_puppet"].(bool); on {
			return true
		}
	}
	return false
}

// doublePuppetToken is the as_token of the double-puppeting appservice, as
// mautrix bridges want it in double_puppet.secrets. That appservice claims
// every user of this server, not exclusively, and receives nothing: its
// token lets a bridge act as its own users, which is what double
// puppeting is. It is registered once, for all bridges; each bridge that
// uses it becomes one more reader of its token.
func (b *builder) doublePuppetToken(reader string) string {
	dir := b.dataPath(doublePuppetName)
	as := b.secret(doublePuppetName+"-as-token", "token of the double-puppeting appservice, which bridges use to act as their users", b.homeserverUnit(), reader)
	file := path.Join(dir, "registration.yaml")
	if !slices.ContainsFunc(b.plan.Files, func(f plan.File) bool { return f.Path == file }) {
		// Never used (the appservice has no URL), but Synapse requires one.
		hs := b.secret(doublePuppetName+"-hs-token", "token Synapse would present to the double-puppeting appservice", b.homeserverUnit())
		b.dir(dir, 0o750)
		reg := registration{
			id: doublePuppetID, asToken: as, hsToken: hs, senderLocalpart: "_doublepuppet",
			users: []namespace{{regex: "^@.*:" + regexp.QuoteMeta(b.cfg.Domain) + "$", exclusive: false}},
		}
		b.file(plan.File{
			Path: file, Format: plan.YAML, Value: reg.value(),
			Secrets: []string{string(as), string(hs)}, Restarts: []string{b.homeserverUnit()},
		})
	}
	return "as_token:" + as.Placeholder()
}
