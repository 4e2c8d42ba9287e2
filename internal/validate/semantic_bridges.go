package validate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

// bridgeRules are the rules that span bridges, and bridges and the rest of
// the config. They run as one rule of semanticRules.
var bridgeRules = []rule{
	bridgeNamesFree,
	bridgeAppserviceIDsUnique,
	bridgeUsersDisjoint,
	bridgeDatabasesUnique,
	bridgeHostPortsUnique,
	bridgePublicPathsUnique,
	bridgeTypeChecks,
	bridgePermissionTargets,
	bridgeOwnersLocal,
	bridgeEncryptionDefault,
	bridgeExtraLeavesWiring,
	bridgesReachMainProcess,
}

func bridgeChecks(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, r := range bridgeRules {
		out = append(out, r(c, ix)...)
	}
	return out
}

func bridgePath(name, option string) string { return joinPath(joinPath("bridges", name), option) }

// reservedBridgeNames are the names whose unit (matrix-<name>) or
// directory (<data_dir>/<name>) another part of the bundle uses.
var reservedBridgeNames = map[string]string{
	"postgres": "PostgreSQL", "valkey": "Valkey", "traefik": "Traefik", "client-element": "Element",
	"static-files": "the well-known files", "exim-relay": "the mail relay", "coturn": "coturn",
	"secrets": "the host secrets", "matrixgen": "install.sh's state", "bin": "the maintenance scripts",
	"appservice-double-puppet": "the double-puppeting appservice", "ketesa": "Ketesa",
	"authentication-service": "Matrix Authentication Service",
	"livekit-server":         "the LiveKit server (rtc)", "livekit-jwt-service": "the LiveKit JWT service (rtc)",
}

func bridgeNamesFree(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, name := range c.Bridges.Names() {
		if what, taken := reservedFor(name); taken {
			out = append(out, nameTaken(c, ix, joinPath("bridges", name), name, what))
		}
	}
	return out
}

// reservedFor says which part of the bundle uses an instance name, if one
// does.
func reservedFor(name string) (what string, taken bool) {
	if strings.HasPrefix(name, "synapse") {
		return "Synapse and its workers", true
	}
	what, taken = reservedBridgeNames[name]
	return what, taken
}

// nameTaken reports an instance name whose unit and directory are what's.
func nameTaken(c *config.Config, ix *index, path, name, what string) diag.Diagnostic {
	return diag.Diagnostic{Path: path, Subject: ix.keyAt(path),
		Summary: fmt.Sprintf("the name is reserved: the unit matrix-%s and the directory %s/%s are for %s; choose another name", name, c.Host.DataDir, name, what)}
}

// firstClaim reports the second of two bridges that claim one value.
type firstClaim map[string]string

func (f firstClaim) take(value, name string) (prev string, dup bool) {
	if prev, dup = f[value]; dup {
		return prev, true
	}
	f[value] = name
	return "", false
}

func bridgeAppserviceIDsUnique(c *config.Config, ix *index) diag.List {
	var out diag.List
	seen := firstClaim{"doublepuppet": ""}
	for _, name := range c.Bridges.Enabled() {
		id := c.Bridges[name].AppserviceID
		prev, dup := seen.take(id, name)
		switch {
		case dup && prev == "":
			out = append(out, problem(ix, bridgePath(name, "appservice_id"), "appservice ID %q is the double-puppeting appservice's; choose another", id)...)
		case dup:
			out = append(out, problem(ix, bridgePath(name, "appservice_id"),
				"appservice ID %q is bridges.%s's too; Synapse needs one ID per registration: set appservice_id (a second bridge of a type needs its own)", id, prev)...)
		}
	}
	return out
}

// bridgeUsersDisjoint: each bridge owns its bot and every user under its
// prefix exclusively; two bridges claiming one user would fight over it.
func bridgeUsersDisjoint(c *config.Config, ix *index) diag.List {
	var out diag.List
	names := c.Bridges.Enabled()
	for i, a := range names {
		ba := c.Bridges[a]
		for _, b := range names[:i] {
			bb := c.Bridges[b]
			switch {
			case ba.BotUsername == bb.BotUsername:
				out = append(out, problem(ix, bridgePath(a, "bot_username"), "bot %q is bridges.%s's bot too; set bot_username", ba.BotUsername, b)...)
			case strings.HasPrefix(ba.UsernamePrefix, bb.UsernamePrefix) || strings.HasPrefix(bb.UsernamePrefix, ba.UsernamePrefix):
				out = append(out, problem(ix, bridgePath(a, "username_prefix"),
					"prefix %q overlaps bridges.%s's %q: both bridges would own the same users; set username_prefix", ba.UsernamePrefix, b, bb.UsernamePrefix)...)
			case strings.HasPrefix(ba.BotUsername, bb.UsernamePrefix):
				out = append(out, problem(ix, bridgePath(a, "bot_username"), "bot %q is one of bridges.%s's users (prefix %q); set bot_username", ba.BotUsername, b, bb.UsernamePrefix)...)
			case strings.HasPrefix(bb.BotUsername, ba.UsernamePrefix):
				out = append(out, problem(ix, bridgePath(a, "username_prefix"), "prefix %q takes in bridges.%s's bot %q; set username_prefix", ba.UsernamePrefix, b, bb.BotUsername)...)
			}
		}
	}
	return out
}

// bridgeDatabasesUnique: install.sh creates each role and database once and
// sets the role's password from the bridge's secret, so a name that is
// already in use would hand another service's data, or the superuser's
// password, to the bridge.
func bridgeDatabasesUnique(c *config.Config, ix *index) diag.List {
	var out diag.List
	taken := firstClaim{"postgres": "PostgreSQL itself", "template0": "PostgreSQL itself", "template1": "PostgreSQL itself"}
	if c.Postgres.Mode == "external" {
		taken[c.Postgres.External.Database] = "Synapse (postgres.external.database)"
		taken[c.Postgres.External.User] = "Synapse (postgres.external.user)"
	} else {
		taken["synapse"] = "Synapse"
		taken[c.Postgres.Bundled.Superuser] = "the superuser (postgres.bundled.superuser)"
	}
	for _, e := range bridgesAndBots(c) {
		if e.database == "" {
			continue
		}
		if prev, dup := taken.take(e.database, e.path); dup {
			out = append(out, problem(ix, joinPath(e.path, "database_name"), "database and role %q are %s's; set database_name", e.database, prev)...)
		}
	}
	return out
}

// bridgeHostPortsUnique: a bridge serving the public publishes its port
// for a webserver on the host, beside the ports matrixgen's own services
// publish (internal/reserved).
func bridgeHostPortsUnique(c *config.Config, ix *index) diag.List {
	var out diag.List
	taken := firstClaim{}
	for port, owner := range reserved.FixedHostPorts() {
		taken[fmt.Sprint(port)] = owner
	}
	for _, e := range bridgesAndBots(c) {
		port := e.hostPort
		if port == 0 {
			continue
		}
		path := joinPath(e.path, "host_port")
		if reserved.IsWorkerPort(port) {
			out = append(out, problem(ix, path, "port %d is in %s, where Synapse's workers publish theirs; choose another", port, reserved.WorkerRange())...)
			continue
		}
		if prev, dup := taken.take(fmt.Sprint(port), e.path); dup {
			out = append(out, problem(ix, path, "port %d is already published for %s; set host_port", port, prev)...)
		}
	}
	return out
}

// bridgePublicPathsUnique: two bridges serving one public path cannot both
// be routed to.
func bridgePublicPathsUnique(c *config.Config, ix *index) diag.List {
	var out diag.List
	taken := firstClaim{}
	for _, name := range c.Bridges.Enabled() {
		p := reserved.BridgePublicPath(c.Bridges[name].Type)
		if p == "" {
			continue
		}
		if prev, dup := taken.take(p, name); dup {
			out = append(out, problem(ix, bridgePath(name, "type"),
				"bridges.%s serves %s already, which this one would need too; one %s bridges any number of networks", prev, p, c.Bridges[name].Type)...)
		}
	}
	return out
}

// permissionTarget is what a bridge's permissions name: everyone, a
// server, or a user.
var permissionTarget = regexp.MustCompile(`^(\*|@[^:\s]+:[A-Za-z0-9.-]+(:[0-9]+)?|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]+)?)$`)

func bridgePermissionTargets(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, name := range c.Bridges.Names() {
		perms, _ := c.Bridges[name].Options["permissions"].(map[string]any)
		// mautrix bridges take a map of only these for the example's,
		// and refuse to start.
		placeholders := 0
		for _, who := range []string{"*", "example.com", "@admin:example.com"} {
			if _, ok := perms[who]; ok {
				placeholders++
			}
		}
		if len(perms) > 0 && len(perms) == placeholders {
			out = append(out, problem(ix, bridgePath(name, "permissions"),
				`the bridge refuses permissions that name only "*" (or the example's example.com and @admin:example.com): name this server or its users too`)...)
		}
		for _, who := range sortedKeys(perms) {
			if !permissionTarget.MatchString(who) {
				path := bridgePath(name, "permissions."+who)
				out = append(out, diag.Diagnostic{Path: path, Subject: ix.keyAt(path),
					Summary: `invalid name: permissions are given to "*", a server name such as example.org or a user ID such as @alice:example.org`})
			}
		}
	}
	return out
}

// bridgeOwnersLocal: a bridge's owner administers it through the
// homeserver, so must be one of its users.
func bridgeOwnersLocal(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, name := range c.Bridges.Names() {
		owner, _ := c.Bridges[name].Options["owner"].(string)
		if owner != "" && !strings.HasSuffix(owner, ":"+c.Domain) {
			out = append(out, problem(ix, bridgePath(name, "owner"), "%s is not a user of this server (%s)", owner, c.Domain)...)
		}
	}
	return out
}

func bridgeEncryptionDefault(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, name := range c.Bridges.Names() {
		enc, _ := c.Bridges[name].Options["encryption"].(map[string]any)
		if on, _ := enc["default"].(bool); on {
			if allowed, _ := enc["allow"].(bool); !allowed {
				out = append(out, problem(ix, bridgePath(name, "encryption.default"), "encrypting every room needs encryption.allow: true")...)
			}
		}
	}
	return out
}

// bridgeWiring are the config keys that connect a mautrix bridge to
// Synapse and its database (bridgev2 and the older framework alike):
// matrixgen writes them from the options and the registration, which must
// agree with them, so extra may not change them.
var bridgeWiring = map[string]string{
	"homeserver.address": "", "homeserver.domain": "domain",
	"appservice.address": "", "appservice.hostname": "", "appservice.port": "",
	"appservice.id": "appservice_id", "appservice.bot.username": "bot_username",
	"appservice.username_template": "username_prefix", "bridge.username_template": "username_prefix",
	"appservice.as_token": "", "appservice.hs_token": "",
	"database.type": "", "database.uri": "database_name",
	"appservice.database.type": "", "appservice.database.uri": "database_name",
}

// BridgeWiring tells whether a key (a dotted path) of a bridge type's
// config is one matrixgen writes itself, and which option sets it (""
// for none), for tools that carry other configs into extra.
func BridgeWiring(bridgeType, key string) (option string, wired bool) {
	option, wired = wiringOf(bridgeType)[key]
	return option, wired
}

func bridgeExtraLeavesWiring(c *config.Config, ix *index) diag.List {
	var out diag.List
	for _, name := range c.Bridges.Names() {
		out = append(out, extraLeavesWiring(ix, joinPath("bridges", name), c.Bridges[name].Extra, wiringOf(c.Bridges[name].Type),
			"it connects the bridge to Synapse, its database or its host secrets")...)
	}
	return out
}

// extraLeavesWiring reports the keys of an entry's extra that wiring
// lists (key path: the option to set instead, or ""), or that hold one.
func extraLeavesWiring(ix *index, entry string, extra map[string]any, wiring map[string]string, why string) diag.List {
	var out diag.List
	var walk func(at string, v any)
	walk = func(at string, v any) {
		if option, wired := wiring[at]; wired {
			reason := why
			if option != "" {
				reason = "set " + option + " instead"
			}
			out = append(out, problem(ix, joinPath(entry, "extra."+at), "matrixgen writes %s itself: %s", at, reason)...)
			return
		}
		m, _ := v.(map[string]any)
		for _, k := range sortedKeys(m) {
			walk(joinPath(at, k), m[k])
		}
	}
	walk("", extra)
	return out
}

// bridgesReachMainProcess: with the operator's own webserver, bridges and
// bots send their requests to the main Synapse process over the
// homeserver network (Traefik has an internal entrypoint that routes them
// like the public ones). The main process serves them all, except those a
// worker has taken over: with a media repository worker it serves no
// media (bridged images and files fail), and the only writer of the
// typing, to-device, receipts or push rules stream refuses them on every
// other process (typing notifications, encryption keys, read receipts,
// muting fail). So with an own webserver those workers and bridges do not
// go together.
func bridgesReachMainProcess(c *config.Config, ix *index) diag.List {
	if len(c.Bridges.Enabled())+len(c.Bots.Enabled()) == 0 || c.ReverseProxy.Type == "traefik" {
		return nil
	}
	counts := c.WorkerCounts()
	w := c.Synapse.Workers
	var out diag.List
	refuse := func(n int, set *int, option, what string) {
		if n == 0 {
			return
		}
		at, fix := option, "set it to 0"
		if set == nil {
			at, fix = "synapse.workers.preset", "set "+option+": 0"
		}
		out = append(out, problem(ix, at,
			"with reverse_proxy.type %s, bridges and bots reach the main Synapse process, which serves no %s while %s runs; %s, turn them off, or let Traefik route them (reverse_proxy.type traefik, with traefik.behind_proxy in front of your webserver)",
			c.ReverseProxy.Type, what, option, fix)...)
	}
	refuse(counts.MediaRepository, w.MediaRepository, "synapse.workers.media_repository", "media")
	sw := w.StreamWriters
	for _, s := range []struct {
		stream, what string
		set          *int
	}{
		{"typing", "typing notifications", sw.Typing},
		{"to_device", "to-device messages (encryption keys)", sw.ToDevice},
		{"receipts", "read receipts", sw.Receipts},
		{"push_rules", "push rule changes", sw.PushRules},
	} {
		refuse(counts.StreamWriters[s.stream], s.set, "synapse.workers.stream_writers."+s.stream, s.what)
	}
	return out
}
