package pipeline

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// These tests hold each bot's generated config against the upstream
// example it comes from (../shared/bridges, README.md §5 and §6), key by
// key and type by type as for the bridges, and check what each bot needs
// to start. Draupnir only warns about a key it does not know; maubot
// merges the config into its example and drops what the example lacks.

// upstreamBot says how a bot type's config compares with its example.
type upstreamBot struct {
	example string // relative to ../shared/bridges
	config  string // the config's name in the bot's config directory
	// keyed are mappings whose keys are the operator's (server names,
	// user names): each of their values compares with the example's first.
	keyed []string
	// commented are top-level keys the example documents in a comment
	// only, to be set instead of another (Draupnir: managementRoom or
	// initialManager).
	commented []string
	// anyString are keys whose example value is a default of another
	// type that upstream documents as taking a string too.
	anyString []string
	starts    func(b *consumerBundle, t *testing.T, name string, ours *yaml.Node)
	// check replaces all of the above for a bot whose config upstream
	// documents in another form than an example file (dir is
	// ../shared/bridges).
	check func(b *consumerBundle, t *testing.T, dir, name string)
}

// upstreamBots has an entry for every bot type; TestBotTypesTested fails
// on a type without one. A new type may add its entry from its own test
// file.
var upstreamBots = map[string]upstreamBot{
	"draupnir": {
		example: "draupnir/default.yaml", config: "production.yaml",
		commented: []string{"managementRoom"},
		starts:    (*consumerBundle).checkDraupnirStarts,
	},
	"maubot": {
		example: "maubot/example-config.yaml", config: "config.yaml",
		keyed: []string{"homeservers", "admins"},
		// false: the UI from the Python package; else its directory.
		anyString: []string{"server.override_resource_path"},
		starts:    (*consumerBundle).checkMaubotStarts,
	},
}

// TestBotTypesTested: every bot type is on in the bridges example and has
// its upstream example here, so no bot goes unchecked.
func TestBotTypesTested(t *testing.T) {
	res := buildExample(t, bridgesExample)
	on := map[string]bool{}
	for _, name := range res.Config.Bots.Enabled() {
		on[res.Config.Bots[name].Type] = true
	}
	found := false
	for _, v := range validate.Variants() {
		if v.Path != "bots" {
			continue
		}
		found = true
		for _, typ := range v.Types {
			if !on[typ.Name] {
				t.Errorf("examples/%s.yaml has no enabled bot of type %s", bridgesExample, typ.Name)
			}
			if _, ok := upstreamBots[typ.Name]; !ok {
				t.Errorf("bot type %s has no upstream example in upstreamBots", typ.Name)
			}
		}
	}
	if !found {
		t.Error("bots is not a variant map")
	}
}

func TestBotsUpstream(t *testing.T) {
	dir := sharedBridges(t)
	b := newConsumerBundle(t, bridgesExample)
	cfg := b.res.Config
	for _, name := range cfg.Bots.Enabled() {
		bot := cfg.Bots[name]
		t.Run(name, func(t *testing.T) {
			up := upstreamBots[bot.Type]
			if up.check != nil {
				up.check(b, t, dir, name)
				return
			}
			raw, err := os.ReadFile(filepath.Join(dir, up.example))
			if err != nil {
				t.Fatal(err)
			}
			example := parseYAMLNode(t, up.example, raw)
			ours := b.yamlFile(t, "matrix/"+name+"/config/"+up.config)
			compareBotKeys(t, ours, example, raw, up)
			up.starts(b, t, name, ours)
		})
	}
}

// compareBotKeys compares the keys of ours with the example as
// compareKeys does, with the exceptions up names.
func compareBotKeys(t *testing.T, ours, example *yaml.Node, raw []byte, up upstreamBot) {
	t.Helper()
	rest := ours
	for _, k := range up.keyed {
		rest = without(rest, k)
		mine, theirs := nodeAt(ours, k), nodeAt(example, k)
		if mine == nil {
			continue
		}
		if theirs == nil || theirs.Kind != yaml.MappingNode || len(theirs.Content) < 2 || mine.Kind != yaml.MappingNode {
			t.Errorf("%s: want a mapping like the example's, have %s and the example %v", k, describeNode(mine), theirs)
			continue
		}
		for i := 0; i+1 < len(mine.Content); i += 2 {
			compareKeys(t, mine.Content[i+1], theirs.Content[1], k+"."+mine.Content[i].Value)
		}
	}
	for _, k := range up.commented {
		rest = without(rest, k)
		if nodeAt(ours, k) != nil && !regexp.MustCompile(`(?m)^#\s*`+regexp.QuoteMeta(k)+`:`).Match(raw) {
			t.Errorf("%s: not in the example, not even in a comment", k)
		}
	}
	for _, k := range up.anyString {
		rest = without(rest, k)
		if n := nodeAt(ours, k); n != nil && (n.Kind != yaml.ScalarNode || n.Tag != "!!str") {
			t.Errorf("%s: want a string, have %s", k, describeNode(n))
		}
		if nodeAt(example, k) == nil {
			t.Errorf("%s: not in the example", k)
		}
	}
	compareKeys(t, rest, example, "")
}

// without is a copy of mapping m without the key path p (dot-separated);
// m stays as it is.
func without(m *yaml.Node, p string) *yaml.Node {
	head, rest, nested := strings.Cut(p, ".")
	cp := *m
	cp.Content = nil
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Value == head {
			if !nested {
				continue
			}
			if v.Kind == yaml.MappingNode {
				v = without(v, rest)
			}
		}
		cp.Content = append(cp.Content, k, v)
	}
	return &cp
}

// botValue is a scalar of the bot's config that must be set.
func botValue(t *testing.T, ours *yaml.Node, p string) string {
	t.Helper()
	n := nodeAt(ours, p)
	if n == nil || n.Kind != yaml.ScalarNode || n.Value == "" {
		t.Errorf("%s is not set", p)
		return ""
	}
	return n.Value
}

// checkClientAPI: a homeserver URL of a bot is Synapse's client listener
// on a network the bot shares.
func (b *consumerBundle) checkClientAPI(t *testing.T, s plan.Service, what, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		t.Errorf("%s %q: not an http URL inside Docker", what, raw)
		return
	}
	hs, ok := b.service(u.Hostname())
	if !ok || !slices.ContainsFunc(hs.Listens, func(l plan.Listen) bool { return fmt.Sprint(l.Port) == u.Port() && l.Name == "client" }) {
		t.Errorf("%s %q: no client listener there", what, raw)
		return
	}
	if !sharesNetwork(hs, s) {
		t.Errorf("%s %q: %s shares no network with %s", what, raw, s.Unit, hs.Unit)
	}
}

// containerFile is the host path behind a path the bot's container reads,
// which install.sh must put there.
func (b *consumerBundle) containerFile(t *testing.T, s plan.Service, what, p string) string {
	t.Helper()
	src, _, ok := hostSource(s, p)
	if !ok || !b.existsOnHost(src) {
		t.Errorf("%s %s: nothing there in the container of %s (mounts %v)", what, p, s.Unit, s.Mounts)
	}
	return src
}

// checkWritable: the bot writes below p, a directory of the host.
func (b *consumerBundle) checkWritable(t *testing.T, s plan.Service, what, p string) {
	t.Helper()
	src, m, ok := hostSource(s, p)
	if !ok || m.ReadOnly || !b.existsOnHost(src) {
		t.Errorf("%s %s: not a writable directory of the host in %s (mounts %v)", what, p, s.Unit, s.Mounts)
	}
}

// hostSecret: value is what install.sh put in for a secret of the plan.
func (b *consumerBundle) hostSecret(t *testing.T, what, value string) string {
	t.Helper()
	for _, s := range b.res.Plan.Secrets {
		if consumerSecret(s.Name) == value {
			return s.Name
		}
	}
	t.Errorf("%s = %q: not a host secret", what, value)
	return ""
}

// checkDraupnirStarts checks what Draupnir's bot mode reads at start
// (apps/draupnir/src/config.ts, index.ts): its config and token by the
// paths on its command line, the homeserver, a management room and not
// also an initial manager, a writable data path.
func (b *consumerBundle) checkDraupnirStarts(t *testing.T, name string, ours *yaml.Node) {
	s, _ := b.service("matrix-" + name)
	args := s.Command
	if len(args) == 0 || args[0] != "bot" {
		t.Fatalf("command %q: the image's entrypoint wants bot mode first", args)
	}
	flag := func(f string) string {
		i := slices.Index(args, f)
		if i < 0 || i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
			t.Errorf("command %q: no %s PATH", args, f)
			return ""
		}
		return args[i+1]
	}
	if src := b.containerFile(t, s, "--draupnir-config", flag("--draupnir-config")); src != "/matrix/"+name+"/config/production.yaml" {
		t.Errorf("--draupnir-config is %s on the host, not the generated config", src)
	}
	token := b.containerFile(t, s, "--access-token-path", flag("--access-token-path"))
	if !slices.ContainsFunc(b.res.Plan.Secrets, func(sec plan.Secret) bool {
		return secretHostPath(b.res.Plan.Host, sec) == token && sec.Kind == plan.Provided
	}) {
		t.Errorf("--access-token-path is %s on the host, not a secret the operator provides", token)
	}
	if n := nodeAt(ours, "accessToken"); n != nil {
		t.Errorf("accessToken %q in the config, beside --access-token-path", n.Value)
	}
	for _, key := range []string{"homeserverUrl", "rawHomeserverUrl"} {
		b.checkClientAPI(t, s, key, botValue(t, ours, key))
	}
	if room := botValue(t, ours, "managementRoom"); room != b.res.Config.Bots[name].Options["management_room"] {
		t.Errorf("managementRoom %q is not the option's", room)
	}
	if n := nodeAt(ours, "initialManager"); n != nil {
		t.Errorf("initialManager beside managementRoom: Draupnir refuses both")
	}
	b.checkWritable(t, s, "dataPath", botValue(t, ours, "dataPath"))
	if use := nodeAt(ours, "pantalaimon.use"); use != nil && use.Value != "false" {
		t.Errorf("pantalaimon.use = %s: the token would go unused", use.Value)
	}
	// The health check asks the healthz listener.
	if botValue(t, ours, "health.healthz.enabled") != "true" {
		t.Error("health.healthz is off: install.sh would wait for nothing")
	}
	port := botValue(t, ours, "health.healthz.port")
	if !slices.ContainsFunc(b.res.Plan.Health, func(h plan.HealthCheck) bool {
		return h.Unit == s.Unit && strings.Contains(strings.Join(h.Command, " "), ":"+port+"/")
	}) {
		t.Errorf("no health check asks port %s", port)
	}
}

// checkMaubotStarts checks what maubot reads at start (maubot/config.py,
// __main__.py, server.py): a PostgreSQL database it can log in to, its
// secrets, the homeserver, writable plugin directories, logging that
// writes no file, and the routes of its management UI.
func (b *consumerBundle) checkMaubotStarts(t *testing.T, name string, ours *yaml.Node) {
	cfg := b.res.Config
	bot := cfg.Bots[name]
	s, _ := b.service("matrix-" + name)
	args := s.Command
	i := slices.Index(args, "-c")
	if i < 0 || i+1 >= len(args) || !slices.Contains(args, "--no-update") {
		t.Fatalf("command %q: want -c CONFIG --no-update", args)
	}
	if src := b.containerFile(t, s, "-c", args[i+1]); src != "/matrix/"+name+"/config/config.yaml" {
		t.Errorf("-c is %s on the host, not the generated config", src)
	}

	// The database: the URL names the server, the role and the database;
	// asyncpg takes the password from PGPASSWORD.
	db, err := url.Parse(botValue(t, ours, "database"))
	if err != nil || db.Scheme != "postgresql" {
		t.Fatalf("database %q: not a PostgreSQL URL", botValue(t, ours, "database"))
	}
	if _, set := db.User.Password(); set {
		t.Errorf("database URL holds a password")
	}
	if db.User.Username() != bot.DatabaseName || strings.TrimPrefix(db.Path, "/") != bot.DatabaseName {
		t.Errorf("database %s: want role and database %s", db, bot.DatabaseName)
	}
	if pg, ok := b.service(db.Hostname()); !ok || !sharesNetwork(pg, s) || !slices.Contains(s.Requires, pg.Unit) {
		t.Errorf("database host %s: not a server maubot reaches and starts after", db.Hostname())
	}
	i = slices.IndexFunc(b.res.Plan.Databases, func(d plan.Database) bool { return d.Name == bot.DatabaseName })
	if i < 0 {
		t.Fatalf("install.sh creates no database %s", bot.DatabaseName)
	}
	env := consumers.DockerEnvFile(t, filepath.Join(b.host, filepath.FromSlash(treePath(s.EnvFile))))
	if env["PGPASSWORD"] != consumerSecret(b.res.Plan.Databases[i].PasswordSecret) {
		t.Errorf("PGPASSWORD = %q, want the password of role %s", env["PGPASSWORD"], bot.DatabaseName)
	}

	// What maubot would generate on every start, and the admin's password.
	if v := botValue(t, ours, "server.unshared_secret"); v == "generate" {
		t.Error("server.unshared_secret = generate: a new one on every start logs everyone out")
	} else {
		b.hostSecret(t, "server.unshared_secret", v)
	}
	admin := nodeAt(ours, "admins."+bot.Options["admin_username"].(string))
	if admin == nil || admin.Value == "password" || admin.Value == "" {
		t.Errorf("admins.%s: no password the admin can log in with", bot.Options["admin_username"])
	} else {
		b.hostSecret(t, "admins password", admin.Value)
	}

	// The homeserver, with the secret Synapse registers users with.
	server := nodeAt(ours, "homeservers")
	hs := mappingValue(server, cfg.Domain)
	if hs == nil {
		t.Fatalf("homeservers has no %s", cfg.Domain)
	}
	b.checkClientAPI(t, s, "homeservers."+cfg.Domain+".url", botValue(t, hs, "url"))
	var synapse struct {
		Path string `yaml:"registration_shared_secret_path"`
	}
	if err := yaml.Unmarshal(b.filled["matrix/synapse/config/homeserver.yaml"].Data, &synapse); err != nil {
		t.Fatal(err)
	}
	syn, _ := b.service("matrix-synapse")
	src, _, _ := hostSource(syn, synapse.Path)
	if secret := b.hostSecret(t, "homeservers secret", botValue(t, hs, "secret")); secretHostPath(b.res.Plan.Host, plan.Secret{Name: secret}) != src {
		t.Errorf("homeservers.%s.secret is %s, Synapse's registration_shared_secret_path is %s", cfg.Domain, secret, src)
	}

	for _, p := range []string{"plugin_directories.upload", "plugin_directories.trash", "plugin_databases.sqlite"} {
		b.checkWritable(t, s, p, botValue(t, ours, p))
	}
	for _, item := range nodeAt(ours, "plugin_directories.load").Content {
		b.checkWritable(t, s, "plugin_directories.load", item.Value)
	}
	handlers := nodeAt(ours, "logging.handlers")
	for i := 1; i < len(handlers.Content); i += 2 {
		if class := nodeAt(handlers.Content[i], "class"); class == nil || class.Value != "logging.StreamHandler" {
			t.Errorf("logging handler %s writes elsewhere than the journal: the root is read-only", handlers.Content[i-1].Value)
		}
	}

	// The UI, its API and plugin endpoints on the public URL reach maubot.
	public, err := url.Parse(botValue(t, ours, "server.public_url"))
	if err != nil || public.Scheme != "https" || public.Path != "" {
		t.Fatalf("server.public_url %q: want https and no path (nothing strips one)", botValue(t, ours, "server.public_url"))
	}
	port := botValue(t, ours, "server.port")
	if botValue(t, ours, "server.hostname") != "0.0.0.0" {
		t.Error("server.hostname: maubot must listen on the container's network")
	}
	for _, p := range []string{
		botValue(t, ours, "server.ui_base_path") + "/",
		"/_matrix/maubot/v1/features",
		botValue(t, ours, "server.plugin_base_path") + "instance/x",
	} {
		r, _, ok := b.routeServing(plan.EntrypointClient, public.Hostname(), p)
		if !ok || r.Service != s.Unit || fmt.Sprint(r.Port) != port || r.StripPrefix {
			t.Errorf("%s%s is not routed to %s:%s unchanged (%+v)", public.Host, p, s.Unit, port, r)
		}
	}
	if !slices.ContainsFunc(s.Listens, func(l plan.Listen) bool { return fmt.Sprint(l.Port) == port }) {
		t.Errorf("server.port %s is no listener of %s", port, s.Unit)
	}
}
