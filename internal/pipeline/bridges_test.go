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
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// These tests hold each bridge's generated files against what the bridge
// itself reads: the upstream example configs in ../shared/bridges (see its
// README.md). A mautrix bridge silently drops a key its example lacks or
// whose type differs, so every key we write must be in the example, with
// the example's type.

const bridgesExample = "bridges"

// upstreamBridge says how a bridge type's upstream example is assembled.
type upstreamBridge struct {
	// network is the connector's example (the config's network section) of
	// a mautrix bridgev2 bridge, relative to ../shared/bridges; "" for a
	// bridge without a config file.
	network string
	name    bridgeName
	// legacy is the whole example of a bridge on mautrix-go's older
	// framework, whose keys sit elsewhere (legacyKeys).
	legacy string
	// check holds a bridge that is not a mautrix bridge against its
	// upstream example (dir is ../shared/bridges).
	check func(t *testing.T, b *consumerBundle, dir, name string, reg map[string]any)
}

// mautrixKeys are where a mautrix config keeps what a bridge needs to
// start, which the older framework puts elsewhere.
type mautrixKeys struct {
	database, usernameTemplate, doublePuppetSecrets string
	// regenerated are the values the bridge makes up on every start
	// unless set, since it cannot write its read-only config.
	regenerated []string
}

var (
	bridgev2Keys = mautrixKeys{"database", "appservice.username_template", "double_puppet.secrets",
		[]string{"encryption.pickle_key", "provisioning.shared_secret", "public_media.signing_key", "direct_media.server_key"}}
	legacyKeys = mautrixKeys{"appservice.database", "bridge.username_template", "bridge.login_shared_secret_map",
		[]string{"bridge.avatar_proxy_key", "bridge.provisioning.shared_secret", "bridge.direct_media.server_key"}}
)

// bridgeName is the connector's GetName(), the data of the shared part's
// template (mautrix-go bridgev2.BridgeName).
type bridgeName struct {
	DisplayName, NetworkIcon, NetworkID, DefaultCommandPrefix string
	DefaultPort                                               int
}

// upstreamBridges has an entry for every bridge type; TestBridgeTypesTested
// fails on a type without one. A type with a check of its own adds its
// entry from its own test file (bridge_heisenbridge_test.go).
var upstreamBridges = map[string]upstreamBridge{
	"mautrix-whatsapp": {network: "mautrix-whatsapp/example-config.yaml", name: bridgeName{"WhatsApp", "mxc://maunium.net/NeXNQarUbrlYBiPCpprYsRqr", "whatsapp", "!wa", 29318}},
	"mautrix-signal":   {network: "mautrix-signal/example-config.yaml", name: bridgeName{"Signal", "mxc://maunium.net/wPJgTQbZOtpBFmDNkiNEMDUp", "signal", "", 29328}},
	"mautrix-telegram": {network: "mautrix-telegram/example-config.yaml", name: bridgeName{"Telegram", "mxc://maunium.net/tJCRmUyJDsgRNgqhOgoiHWbX", "telegram", "!tg", 29317}},
	"mautrix-slack":    {network: "mautrix-slack/example-config.yaml", name: bridgeName{"Slack", "mxc://maunium.net/pVtzLmChZejGxLqmXtQjFxem", "slack", "", 29335}},
	// The example of main, two lines ahead of the release the image is
	// (v0.2602.0, whose shared part is mautrix-go v0.26.3): the keys we
	// write are in both.
	"mautrix-gmessages": {network: "mautrix-gmessages/example-config.yaml", name: bridgeName{"Google Messages", "mxc://maunium.net/yGOdcrJcwqARZqdzbfuxfhzb", "gmessages", "!gm", 29336}},
	// Its release (v0.2510.0) has mautrix-go v0.25.2's shared part, a
	// subset of this one: env_config_prefix, which it lacks, is not written.
	"mautrix-bluesky":        {network: "mautrix-bluesky/example-config.yaml", name: bridgeName{"Bluesky", "mxc://maunium.net/ezAjjDxhiJWGEohmhkpfeHYf", "bluesky", "!bsky", 29340}},
	"mautrix-meta-messenger": {network: "mautrix-meta/example-config.yaml", name: bridgeName{"Facebook Messenger", "mxc://maunium.net/ygtkteZsXnGJLJHRchUwYWak", "facebook", "!fb", 29319}},
	"mautrix-meta-instagram": {network: "mautrix-meta/igconnector/example-config.yaml", name: bridgeName{"Instagram", "mxc://maunium.net/JxjlbZUlCPULEeHZSwleUXQv", "instagram", "!ig", 29330}},
	"mautrix-discord":        {legacy: "mautrix-discord/example-config.yaml"},
}

// freeForm are the mappings of a mautrix bridgev2 config whose keys are the
// operator's (users, servers), documented as such in the example.
var freeForm = map[string]bool{
	"bridge.permissions":    true,
	"double_puppet.servers": true,
	"double_puppet.secrets": true,
	// The older framework's double puppeting.
	"bridge.double_puppet_server_map": true,
	"bridge.login_shared_secret_map":  true,
}

func sharedBridges(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "bridges")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("../shared/bridges not found beside the repository: %v", err)
	}
	return dir
}

// TestBridgeTypesTested: every bridge type is on in the bridges example
// and has its upstream example here, so no bridge goes unchecked.
func TestBridgeTypesTested(t *testing.T) {
	res := buildExample(t, bridgesExample)
	on := map[string]bool{}
	for _, name := range res.Config.Bridges.Enabled() {
		on[res.Config.Bridges[name].Type] = true
	}
	for _, v := range validate.Variants() {
		if v.Path != "bridges" {
			continue
		}
		for _, typ := range v.Types {
			if !on[typ.Name] {
				t.Errorf("examples/%s.yaml has no enabled bridge of type %s", bridgesExample, typ.Name)
			}
			if _, ok := upstreamBridges[typ.Name]; !ok {
				t.Errorf("bridge type %s has no upstream example in upstreamBridges", typ.Name)
			}
		}
	}
}

func TestBridgesUpstream(t *testing.T) {
	dir := sharedBridges(t)
	b := newConsumerBundle(t, bridgesExample)
	cfg := b.res.Config
	for _, name := range cfg.Bridges.Enabled() {
		br := cfg.Bridges[name]
		t.Run(name, func(t *testing.T) {
			up := upstreamBridges[br.Type]
			reg := b.registration(t, name)
			b.checkSynapseLoads(t, name, reg)
			var example *yaml.Node
			keys := bridgev2Keys
			switch {
			case up.check != nil:
				up.check(t, b, dir, name, reg)
				return
			case up.legacy != "":
				data, err := os.ReadFile(filepath.Join(dir, up.legacy))
				if err != nil {
					t.Fatal(err)
				}
				example, keys = parseYAMLNode(t, up.legacy, data), legacyKeys
			case up.network != "":
				example = mautrixExample(t, dir, up)
			default:
				t.Fatalf("upstreamBridges[%q] says neither how to compare its config nor how to check it", br.Type)
			}
			ours := b.yamlFile(t, "matrix/"+name+"/config/config.yaml")
			compareKeys(t, ours, example, "")
			b.checkMautrixStarts(t, name, ours, example, reg, keys)
		})
	}
}

// mautrixExample assembles a bridgev2 bridge's full example config the way
// mautrix-go's makeFullExampleConfig does: the connector's example
// indented under network, then the shared part through text/template.
func mautrixExample(t *testing.T, dir string, up upstreamBridge) *yaml.Node {
	t.Helper()
	network, err := os.ReadFile(filepath.Join(dir, up.network))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := os.ReadFile(filepath.Join(dir, "mautrix-go-bridgev2", "example-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var full strings.Builder
	full.WriteString("# Network-specific config options\nnetwork:\n")
	for _, line := range strings.Split(string(network), "\n") {
		full.WriteString("    " + line + "\n")
	}
	full.WriteString("\n")
	tmpl, err := template.New("example-config.yaml").Delims("$<<", ">>").Parse(string(shared))
	if err != nil {
		t.Fatal(err)
	}
	if err := tmpl.Execute(&full, up.name); err != nil {
		t.Fatal(err)
	}
	return parseYAMLNode(t, up.network+" (assembled)", []byte(full.String()))
}

func parseYAMLNode(t *testing.T, what string, data []byte) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) != 1 {
		t.Fatalf("%s: %v", what, err)
	}
	return doc.Content[0]
}

// yamlFile is a file of the bundle as the bridge reads it on the host.
func (b *consumerBundle) yamlFile(t *testing.T, p string) *yaml.Node {
	t.Helper()
	e, ok := b.filled[p]
	if !ok {
		t.Fatalf("no %s in the bundle", p)
	}
	return parseYAMLNode(t, p, e.Data)
}

func (b *consumerBundle) registration(t *testing.T, name string) map[string]any {
	t.Helper()
	var reg map[string]any
	p := "matrix/" + name + "/config/registration.yaml"
	if err := yaml.Unmarshal(b.res.Tree[p].Data, &reg); err != nil || reg == nil {
		t.Fatalf("%s: %v", p, err)
	}
	return reg
}

// compareKeys checks every key path of ours against the example: it must
// be there, with the same kind of value. A null in the example stands for
// an unset string. Lists of mappings compare item keys with every item
// key of the example's list.
func compareKeys(t *testing.T, ours, example *yaml.Node, at string) {
	t.Helper()
	where := at
	if where == "" {
		where = "the top level"
	}
	switch ours.Kind {
	case yaml.MappingNode:
		if example.Kind != yaml.MappingNode {
			t.Errorf("%s: a mapping, but the example has %s", where, describeNode(example))
			return
		}
		if freeForm[at] {
			for i := 1; i < len(ours.Content); i += 2 {
				if ours.Content[i].Kind != yaml.ScalarNode || ours.Content[i].Tag != "!!str" {
					t.Errorf("%s.%s: want a string, have %s", at, ours.Content[i-1].Value, describeNode(ours.Content[i]))
				}
			}
			return
		}
		for i := 0; i+1 < len(ours.Content); i += 2 {
			key := ours.Content[i].Value
			child := joinKey(at, key)
			up := mappingValue(example, key)
			if up == nil {
				t.Errorf("%s: not in the upstream example; the bridge would drop it", child)
				continue
			}
			compareKeys(t, ours.Content[i+1], up, child)
		}
	case yaml.SequenceNode:
		if example.Kind != yaml.SequenceNode {
			t.Errorf("%s: a list, but the example has %s", where, describeNode(example))
			return
		}
		if len(example.Content) == 0 {
			return
		}
		union := example.Content[0]
		if union.Kind == yaml.MappingNode {
			union = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for _, item := range example.Content {
				union.Content = append(union.Content, item.Content...)
			}
		}
		for i, item := range ours.Content {
			compareKeys(t, item, union, fmt.Sprintf("%s[%d]", at, i))
		}
	case yaml.ScalarNode:
		if example.Kind != yaml.ScalarNode {
			t.Errorf("%s: %s, but the example has %s", where, describeNode(ours), describeNode(example))
			return
		}
		if ours.Tag != example.Tag && !(example.Tag == "!!null" && ours.Tag == "!!str") {
			t.Errorf("%s: %s, but the example has %s; the bridge ignores a value of another type", where, describeNode(ours), describeNode(example))
		}
	}
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%s %q", n.Tag, n.Value)
}

func joinKey(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func nodeAt(m *yaml.Node, keyPath string) *yaml.Node {
	for _, k := range strings.Split(keyPath, ".") {
		if m == nil || m.Kind != yaml.MappingNode {
			return nil
		}
		m = mappingValue(m, k)
	}
	return m
}

// checkMautrixStarts checks what mautrix-go's validateConfig and the
// regenerated values need: everything set, nothing left at the example's
// placeholder, and the registration agreeing with the config.
func (b *consumerBundle) checkMautrixStarts(t *testing.T, name string, ours, example *yaml.Node, reg map[string]any, keys mautrixKeys) {
	t.Helper()
	cfg := b.res.Config
	// The options mautrix-go's validateConfig refuses to start with while
	// they hold the example's value.
	refusedAsExample := map[string]bool{
		"homeserver.address": true, "homeserver.domain": true, keys.database + ".uri": true,
		"appservice.as_token": true, "appservice.hs_token": true,
	}
	value := func(p string) string {
		n := nodeAt(ours, p)
		if n == nil || n.Kind != yaml.ScalarNode || n.Value == "" {
			t.Errorf("%s is not set", p)
			return ""
		}
		if up := nodeAt(example, p); refusedAsExample[p] && up != nil && up.Value == n.Value {
			t.Errorf("%s is still the example's %q, which the bridge refuses", p, n.Value)
		}
		return n.Value
	}
	hsAddress := value("homeserver.address")
	if value("homeserver.domain") != cfg.Domain {
		t.Errorf("homeserver.domain is not %s", cfg.Domain)
	}
	if u, err := url.Parse(hsAddress); err != nil || u.Hostname() != "matrix-synapse" {
		t.Errorf("homeserver.address %q: not Synapse on the homeserver network", hsAddress)
	} else if s, ok := b.service(u.Hostname()); !ok || !slices.ContainsFunc(s.Listens, func(l plan.Listen) bool { return fmt.Sprint(l.Port) == u.Port() && l.Name == "client" }) {
		t.Errorf("homeserver.address %q: no client listener there", hsAddress)
	}
	if value("homeserver.software") != "standard" {
		t.Errorf("homeserver.software is not standard")
	}
	for _, p := range append([]string{"appservice.as_token", "appservice.hs_token"}, keys.regenerated...) {
		if v := value(p); v == "generate" || !strings.Contains(v, "T3st") && !strings.HasPrefix(v, "ed25519 ") {
			t.Errorf("%s = %q: not a host secret", p, v)
		}
	}
	if value(keys.database+".type") != "postgres" {
		t.Errorf("%s.type is not postgres", keys.database)
	}
	uri := value(keys.database + ".uri")
	db := cfg.Bridges[name].DatabaseName
	for _, want := range []string{"dbname=" + db + " ", "user=" + db + " ", "host="} {
		if !strings.Contains(uri, want) {
			t.Errorf("database.uri %q lacks %q", uri, want)
		}
	}
	if n := nodeAt(ours, "bridge.permissions"); n == nil || len(n.Content) == 0 {
		t.Errorf("bridge.permissions is empty: the bridge refuses to start")
	}
	template := value(keys.usernameTemplate)
	if !strings.Contains(template, "{{.}}") {
		t.Errorf("username_template %q has no {{.}}", template)
	}

	// The registration and the config must agree, as -g would make them.
	address := value("appservice.address")
	u, err := url.Parse(address)
	if err != nil || u.Hostname() != "matrix-"+name || u.Port() != value("appservice.port") {
		t.Errorf("appservice.address %q is not the bridge's container at appservice.port", address)
	}
	if value("appservice.hostname") != "0.0.0.0" {
		t.Errorf("appservice.hostname: the bridge must listen on the container's network")
	}
	raw := parseYAMLNode(t, name, b.res.Tree["matrix/"+name+"/config/config.yaml"].Data)
	for key, want := range map[string]string{
		"id": value("appservice.id"), "url": address, "sender_localpart": value("appservice.bot.username"),
		"as_token": nodeAt(raw, "appservice.as_token").Value, "hs_token": nodeAt(raw, "appservice.hs_token").Value,
	} {
		if fmt.Sprint(reg[key]) != want {
			t.Errorf("registration %s = %v, the config has %q", key, reg[key], want)
		}
	}
	ghost := "@" + strings.ReplaceAll(template, "{{.}}", "12345") + ":" + cfg.Domain
	bot := "@" + value("appservice.bot.username") + ":" + cfg.Domain
	for _, user := range []string{ghost, bot} {
		if !registrationClaims(t, reg, user) {
			t.Errorf("the registration does not claim %s exclusively", user)
		}
	}

	// Double puppeting: the double-puppeting appservice's token.
	if secret := nodeAt(raw, keys.doublePuppetSecrets+"."+cfg.Domain); secret != nil {
		var dp map[string]any
		if err := yaml.Unmarshal(b.res.Tree["matrix/appservice-double-puppet/registration.yaml"].Data, &dp); err != nil {
			t.Fatal(err)
		}
		if secret.Value != "as_token:"+fmt.Sprint(dp["as_token"]) {
			t.Errorf("%s.%s = %q, want as_token: and the double-puppeting appservice's token", keys.doublePuppetSecrets, cfg.Domain, secret.Value)
		}
	}

	// The bridge reads the config where the unit mounts it, and reaches
	// the database's server.
	s, _ := b.service("matrix-" + name)
	if src, _, ok := hostSource(s, "/data/config.yaml"); !ok || src != "/matrix/"+name+"/config/config.yaml" || !slices.Contains(s.Command, "/data/config.yaml") {
		t.Errorf("the unit does not give the bridge its config: mounts %v, command %q", s.Mounts, s.Command)
	}
	if host := regexp.MustCompile(`host=(\S+)`).FindStringSubmatch(uri); host != nil {
		if pg, ok := b.service(host[1]); ok && !sharesNetwork(pg, s) {
			t.Errorf("the bridge shares no network with %s", host[1])
		}
	}
	b.checkEnvConfig(t, s, ours, example)
}

// checkEnvConfig: variables the bridge reads as config fields must name
// fields of the example, and files the container has.
func (b *consumerBundle) checkEnvConfig(t *testing.T, s plan.Service, ours, example *yaml.Node) {
	t.Helper()
	prefix := ""
	if n := nodeAt(ours, "env_config_prefix"); n != nil {
		prefix = n.Value
	}
	for _, e := range s.Env {
		if prefix == "" || !strings.HasPrefix(e.Name, prefix) {
			continue
		}
		// As mautrix-go's parseEnv reads them.
		key, file := strings.CutSuffix(strings.TrimPrefix(e.Name, prefix), "_FILE")
		key = strings.ReplaceAll(strings.ToLower(key), "__", ".")
		if up := nodeAt(example, key); up == nil || up.Kind != yaml.ScalarNode {
			t.Errorf("%s sets %s, which the example has no value for", e.Name, key)
		}
		if file {
			if src, _, ok := hostSource(s, e.Value); !ok || !b.existsOnHost(src) {
				t.Errorf("%s=%s: no such file in the container", e.Name, e.Value)
			}
		}
	}
}

func sharesNetwork(a, b plan.Service) bool {
	return slices.ContainsFunc(a.Networks, func(n string) bool { return slices.Contains(b.Networks, n) })
}

// registrationClaims: Synapse reserves user for the appservice.
func registrationClaims(t *testing.T, reg map[string]any, user string) bool {
	t.Helper()
	ns, _ := reg["namespaces"].(map[string]any)
	users, _ := ns["users"].([]any)
	for _, u := range users {
		entry, _ := u.(map[string]any)
		re, err := regexp.Compile(fmt.Sprint(entry["regex"]))
		if err != nil {
			t.Errorf("namespace regex %v: %v", entry["regex"], err)
			continue
		}
		if excl, _ := entry["exclusive"].(bool); excl && re.MatchString(user) {
			return true
		}
	}
	return false
}

// checkSynapseLoads: Synapse and every worker see the registration where
// homeserver.yaml lists it.
func (b *consumerBundle) checkSynapseLoads(t *testing.T, name string, reg map[string]any) {
	t.Helper()
	var hs struct {
		Files []string `yaml:"app_service_config_files"`
	}
	if err := yaml.Unmarshal(b.res.Tree["matrix/synapse/config/homeserver.yaml"].Data, &hs); err != nil {
		t.Fatal(err)
	}
	host := "/matrix/" + name + "/config/registration.yaml"
	for _, s := range b.res.Plan.Services {
		if s.Unit != "matrix-synapse" && !strings.HasPrefix(s.Unit, "matrix-synapse-worker-") {
			continue
		}
		listed := false
		for _, f := range hs.Files {
			if src, m, ok := hostSource(s, f); ok && src == host && m.ReadOnly {
				listed = true
			}
		}
		if !listed {
			t.Errorf("%s does not load %s (app_service_config_files %q)", s.Unit, host, hs.Files)
		}
	}
	if reg["rate_limited"] != false {
		t.Errorf("registration rate_limited = %v: Synapse would throttle the bridge", reg["rate_limited"])
	}
}
