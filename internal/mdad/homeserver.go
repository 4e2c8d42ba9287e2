package mdad

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/validate"
)

// The playbook runs one of five homeservers (matrix_homeserver_implementation).
// matrixgen has Synapse, Dendrite, continuwuity and Tuwunel; the variables of
// the ones this vars.yml does not run are not read by the playbook either.

// homeserverImplementation is the homeserver the playbook runs for this
// vars.yml: its own default is Synapse.
func (t *translator) homeserverImplementation() string {
	if s, ok := t.text("matrix_homeserver_implementation"); ok {
		return s
	}
	return "synapse"
}

// runsSynapse: the translated config runs Synapse. A homeserver matrixgen
// does not have (Conduit) is reported, and the config keeps Synapse, the
// default, for which the Synapse variables vars.yml has are translated.
func (t *translator) runsSynapse() bool {
	return homeserverTitle[t.homeserverImplementation()] == "" || t.homeserverImplementation() == "synapse"
}

// implementationVar describes the variable that chose the homeserver, for
// reasons that depend on it.
func (t *translator) implementationVar() string {
	if v, ok := t.vf.byName["matrix_homeserver_implementation"]; ok {
		return fmt.Sprintf("matrix_homeserver_implementation is %s (line %d)", t.homeserverImplementation(), v.line)
	}
	return "matrix_homeserver_implementation is synapse (the playbook's default)"
}

// runs is a row condition: the variable is read only when the playbook
// runs that homeserver.
func runs(name string) func(*translator) string {
	return func(t *translator) string {
		if t.homeserverImplementation() == name {
			return ""
		}
		return t.implementationVar() + ", so the playbook does not run " + homeserverTitle[name] + " and does not read it"
	}
}

var homeserverTitle = map[string]string{
	"synapse": "Synapse", "dendrite": "Dendrite", "continuwuity": "continuwuity", "tuwunel": "Tuwunel",
}

// dendriteDataWhy says why a Dendrite server of the playbook cannot be
// taken over in place: its data is laid out otherwise, and newer.
const dendriteDataWhy = "Dendrite's data does not carry over in place: the playbook keeps it in nine databases " +
	"(dendrite_federationapi, _keyserver, _mediaapi, _room, _syncapi, _userapi, _pushserver, _relayapi, _mscs), " +
	"its media in /matrix/dendrite/storage/media-store, its JetStream queues in /matrix/dendrite/nats and its " +
	"signing key in /matrix/dendrite/config/HOSTNAME.signing.pem; matrixgen's Dendrite has one database (dendrite), " +
	"/matrix/dendrite/data/media, /matrix/dendrite/data/jetstream and /matrix/dendrite/config/DOMAIN.key; and the " +
	"playbook runs Dendrite v0.15 or later, matrixgen v0.13.8, which cannot open a newer database. " +
	"The bundle starts an empty Dendrite: keep the playbook's data, and treat the switch as a new server (docs/homeservers.md)"

func implementation(t *translator, v *variable, n *yaml.Node) {
	s, _ := scalarText(n)
	switch s {
	case "synapse":
		t.readVar(v, "matrixgen runs Synapse")
	case "continuwuity", "tuwunel":
		t.set(v, "homeserver.implementation", strNode(s))
	case "dendrite":
		if t.set(v, "homeserver.implementation", strNode(s)) {
			t.reportPart(v, "Dendrite's data", dendriteDataWhy)
		}
	case "conduwuit":
		t.notTranslated(v, "the playbook no longer runs conduwuit; continuwuity and Tuwunel read its database: "+
			"move /matrix/conduwuit to /matrix/continuwuity (or /matrix/tuwunel), as the playbook's own migration does, "+
			"and set homeserver.implementation to that one")
	case "conduit":
		t.notTranslated(v, "matrixgen does not run Conduit, and a homeserver cannot change implementation without losing its data")
	default:
		t.notTranslated(v, fmt.Sprintf("%q is not a homeserver the playbook knows", s))
	}
}

// reportPart reports something about a variable that does not carry over,
// beside the variable's translation.
func (t *translator) reportPart(v *variable, what, reason string) {
	t.untranslated = append(t.untranslated, Untranslated{Line: v.line, Name: v.name + " (" + what + ")", Reason: reason, Shown: t.show(v.name, v.node)})
}

// homeserverRows are the rows of Dendrite's, continuwuity's and Tuwunel's
// variables.
func homeserverRows() []row {
	rows := dendriteRows()
	for _, k := range conduwuitKinds {
		rows = append(rows, k.rows()...)
	}
	return rows
}

func dendriteRows() []row {
	d := runs("dendrite")
	const p = "matrix_dendrite_"
	oneDatabase := "matrixgen's Dendrite keeps every component in one database, dendrite (see matrix_homeserver_implementation)"
	rows := []row{
		{name: p + "container_image", option: "dendrite.image", conv: str, when: d},
		{name: p + "container_image_tag", fn: imageTag("dendrite.image", "docker.io/matrixdotorg/dendrite-monolith:"), when: d},
		// The extension applies last in the playbook, so it goes before
		// the variables whose keys it may also set.
		{name: p + "configuration_extension_yaml", fn: ownExtension("dendrite"), raw: true, when: d},
		{name: p + "client_api_registration_disabled", fn: dendriteRegistration, when: d},
		{name: p + "process_extra_arguments", fn: dendriteArguments, when: d},
		{name: p + "max_file_size_bytes", option: "homeserver.max_upload_size_mb", conv: mebibytes, when: d},
		{name: p + "federation_enabled", option: "homeserver.federation.enabled", conv: boolean, when: d},
		{name: p + "user_api_auto_join_rooms", option: "homeserver.auto_join_rooms", conv: stringList, when: d},
		{name: p + "sync_api_search_enabled", option: "dendrite.extra.sync_api.search.enabled", conv: boolean, when: d},
		{name: p + "client_api_registration_shared_secret", secret: "dendrite-registration-secret", when: d},
		{name: p + "database_password", secret: "dendrite-db-password", when: d},
		{name: p + "database_hostname", option: "postgres.external.host", conv: str, when: both(d, externalPostgres)},
		{name: p + "database_sslmode", option: "postgres.external.sslmode", conv: str, when: both(d, externalPostgres)},
		{name: p + "database_user", fn: dendriteRole, when: d},
		{name: p + "client_api_turn_uris", option: "homeserver.turn.uris", conv: stringList, when: both(d, turnElsewhereBy(p+"client_api_turn_uris"))},
		{name: p + "client_api_turn_shared_secret", secret: turnElsewhereSecret, when: both(d, turnElsewhereBy(p+"client_api_turn_uris"))},
		{name: p + "client_api_turn_allow_guests", option: "homeserver.turn.allow_guests", conv: boolean, when: both(d, turnElsewhereBy(p+"client_api_turn_uris"))},
		{name: p + "client_api_turn_username", fn: turnLogin, when: d},
		{name: p + "client_api_turn_password", fn: turnLogin, when: d},
		{name: p + "metrics_*", why: "matrixgen serves no metrics of Dendrite's (synapse.metrics is Synapse's)"},
		{name: p + "client_api_enable_registration_captcha", why: "matrixgen has no captcha option; Dendrite's client_api captcha keys can go into dendrite.extra, but its private key is a secret matrixgen cannot hand over yet"},
		{name: p + "client_api_recaptcha_*", why: "matrixgen has no captcha option; Dendrite's client_api captcha keys can go into dendrite.extra, but its private key is a secret matrixgen cannot hand over yet"},
		{name: p + "*", why: "matrixgen has no option for it; a key of dendrite.yaml can go into dendrite.extra"},
	}
	for _, db := range []string{"federation_api", "key_server", "media_api", "room", "sync_api", "user_api", "push_server", "relay_api", "mscs"} {
		rows = append(rows, row{name: p + db + "_database", why: oneDatabase})
	}
	return rows
}

// conduwuitKind is continuwuity or Tuwunel: the playbook's roles for both
// write [global] of a TOML file from matrix_NAME_config_* variables.
type conduwuitKind struct {
	name  string
	image string // the image's name without its tag, as the playbook builds it
	// passthrough maps the suffix of a config_* variable to the key of
	// [global] the playbook's template writes it to, for the keys
	// matrixgen leaves to NAME.extra.
	passthrough map[string]string
}

var conduwuitKinds = []conduwuitKind{
	{name: "continuwuity", image: "forgejo.ellis.link/continuwuation/continuwuity:",
		passthrough: withKeys(conduwuitPassthrough, "allowed_remote_server_names", "ignore_messages_from_server_names",
			"allow_announcements_check", "suspend_on_register")},
	{name: "tuwunel", image: "ghcr.io/matrix-construct/tuwunel:",
		passthrough: withKeys(conduwuitPassthrough, "create_admin_room", "federate_admin_room", "grant_admin_to_first_user",
			"enable_policy_servers", "msc3664_related_event_match", "sentry_endpoint", "sentry_send_server_name",
			"sentry_traces_sample_rate", "allowed_remote_server_names=allowed_remote_server_names_experimental",
			"sentry_enabled=sentry")},
}

// conduwuitPassthrough are the keys both write under the variable's name.
var conduwuitPassthrough = []string{
	"allow_encryption", "allow_room_creation", "default_room_version", "forget_forced_upon_leave",
	"forbidden_remote_server_names", "forbidden_remote_room_directory_server_names", "prevent_media_downloads_from",
	"url_preview_domain_contains_allowlist", "url_preview_domain_explicit_allowlist", "url_preview_check_root_domain",
	"new_user_displayname_suffix", "log", "policy_server_request_timeout", "allow_outgoing_presence",
	"rocksdb_compression_algo", "rocksdb_compression_level", "rocksdb_bottommost_compression_level",
	"rocksdb_direct_io", "rocksdb_parallelism_threads", "rocksdb_max_log_file_size", "rocksdb_log_time_to_roll",
	"cache_capacity_modifier", "db_cache_capacity_mb", "db_write_buffer_capacity_mb",
}

// withKeys makes a passthrough map; "suffix=key" where the two differ.
func withKeys(common []string, more ...string) map[string]string {
	out := map[string]string{}
	for _, k := range append(append([]string{}, common...), more...) {
		suffix, key, renamed := strings.Cut(k, "=")
		if !renamed {
			key = suffix
		}
		out[suffix] = key
	}
	return out
}

func (k conduwuitKind) rows() []row {
	on := runs(k.name)
	p := "matrix_" + k.name + "_"
	c := p + "config_"
	turn := both(on, turnElsewhereBy(c+"turn_uris"))
	rows := []row{
		{name: p + "container_image", option: k.name + ".image", conv: str, when: on},
		{name: p + "container_image_tag", fn: imageTag(k.name+".image", k.image), when: on},
		{name: p + "version", fn: imageTag(k.name+".image", k.image), when: on},
		{name: c + "allow_registration", fn: k.registration, when: on},
		{name: c + "registration_token", secret: "matrix-" + k.name + "-registration-token", when: both(on, k.tokenUsed)},
		{name: c + "yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse", option: "homeserver.registration.allow_unverified", conv: boolean, when: on},
		{name: c + "max_request_size", option: "homeserver.max_upload_size_mb", conv: mebibytes, when: on},
		{name: c + "allow_federation", option: "homeserver.federation.enabled", conv: boolean, when: on},
		{name: c + "trusted_servers", option: "homeserver.trusted_key_servers", conv: stringList, when: on},
		{name: c + "auto_join_rooms", option: "homeserver.auto_join_rooms", conv: stringList, when: on},
		{name: c + "turn_uris", option: "homeserver.turn.uris", conv: stringList, when: turn},
		{name: c + "turn_secret", secret: turnElsewhereSecret, when: turn},
		{name: c + "turn_username", fn: turnLogin, when: on},
		{name: c + "turn_password", fn: turnLogin, when: on},
		{name: c + "emergency_password", why: "a secret matrixgen has no way yet to hand to " + k.name + "; set the server user's password through the admin room instead"},
		{name: c + "smtp_*", why: "matrixgen points " + k.name + " at its own mail relay while mailer.enabled is true (mailer.* sets the sender and a smarthost)"},
		{name: c + "well_known_*", why: "matrixgen serves the well-known files itself (well_known.*)"},
		{name: c + "server_name", why: "matrixgen's server name is domain (matrix_domain)"},
		{name: c + "port_number", why: "matrixgen's " + k.name + " listens on port 8008 in its container; only the proxy in front talks to it"},
		{name: c + "*", why: "matrixgen has no option for it; a key of " + k.name + ".toml's [global] table can go into " + k.name + ".extra"},
		{name: p + "*", why: "matrixgen has no option for it"},
	}
	for _, suffix := range slices.Sorted(maps.Keys(k.passthrough)) {
		rows = append(rows, row{name: c + suffix, fn: passthrough(k.name + ".extra." + k.passthrough[suffix]), when: on})
	}
	return rows
}

// registration reads allow_registration with the token beside it, as the
// playbook's template writes both into [global].
func (k conduwuitKind) registration(t *translator, v *variable, n *yaml.Node) {
	on, err := toBool(n)
	if err != nil {
		t.notTranslated(v, err.Error())
		return
	}
	mode := "closed"
	if on {
		mode = "open"
		if k.hasToken(t) {
			mode = "token"
		}
	}
	t.set(v, "homeserver.registration.mode", strNode(mode))
}

func (k conduwuitKind) hasToken(t *translator) bool {
	_, ok := t.text("matrix_" + k.name + "_config_registration_token")
	return ok
}

func (k conduwuitKind) tokenUsed(t *translator) string {
	if on, _ := t.flag("matrix_" + k.name + "_config_allow_registration"); on {
		return ""
	}
	return "registration is off (matrix_" + k.name + "_config_allow_registration is not true), so no token is needed"
}

func dendriteRegistration(t *translator, v *variable, n *yaml.Node) {
	disabled, err := toBool(n)
	if err != nil {
		t.notTranslated(v, err.Error())
		return
	}
	mode := "open"
	if disabled {
		mode = "closed"
	}
	t.set(v, "homeserver.registration.mode", strNode(mode))
}

// dendriteArguments reads the flags the playbook passes to Dendrite; the
// one that lets registration go without a captcha is allow_unverified,
// with which matrixgen passes it too.
func dendriteArguments(t *translator, v *variable, n *yaml.Node) {
	list, err := stringList(n)
	switch {
	case err == errEmpty:
		t.readVar(v, "empty")
		return
	case err != nil:
		t.notTranslated(v, err.Error())
		return
	}
	var others []string
	open := false
	for _, a := range list.Content {
		if strings.TrimLeft(a.Value, "-") == "really-enable-open-registration" {
			open = true
		} else {
			others = append(others, a.Value)
		}
	}
	switch {
	case len(others) > 0:
		t.notTranslated(v, fmt.Sprintf("matrixgen passes Dendrite no flags of yours (%s); --really-enable-open-registration is homeserver.registration.allow_unverified", strings.Join(others, " ")))
	case open:
		t.set(v, "homeserver.registration.allow_unverified", boolNode(true))
	default:
		t.readVar(v, "empty")
	}
}

// dendriteRole: matrixgen's Dendrite logs in as a role named after its
// database.
func dendriteRole(t *translator, v *variable, n *yaml.Node) {
	s, err := scalarText(n)
	switch {
	case err != nil:
		t.readVar(v, "empty, so matrixgen's role dendrite applies")
	case s == "dendrite":
		t.readVar(v, "matrixgen's Dendrite logs in as dendrite too")
	default:
		t.notTranslated(v, "matrixgen's Dendrite logs in as the role dendrite; rename the role first")
	}
}

// imageTag builds an image from the playbook's tag variable, with the
// registry and name the playbook uses by default.
func imageTag(option, name string) func(*translator, *variable, *yaml.Node) {
	return func(t *translator, v *variable, n *yaml.Node) {
		s, err := scalarText(n)
		switch {
		case err == errEmpty:
			t.readVar(v, "empty, so matrixgen's default applies")
		case err != nil:
			t.notTranslated(v, err.Error())
		default:
			t.set(v, option, strNode(name+s))
		}
	}
}

// ownExtension carries a homeserver's configuration extension into its
// extra, without the keys matrixgen writes itself.
func ownExtension(name string) func(*translator, *variable, *yaml.Node) {
	return func(t *translator, v *variable, raw *yaml.Node) {
		to := extensionTarget{option: name + ".extra", program: homeserverTitle[name], refuse: ownedKeyRefusal(name)}
		if extra := t.extension(v, raw, to); extra != nil {
			t.set(v, name+".extra", extra)
		}
	}
}

// ownedKeyRefusal refuses the keys of a homeserver's config file that
// matrixgen writes from its own options, which validation refuses in
// NAME.extra.
func ownedKeyRefusal(name string) func(string) string {
	owned := validate.HomeserverOwnedKeys(name)
	return func(path string) string {
		if slices.Contains(owned, path) {
			return "matrixgen writes " + path + " itself, from its own options (docs/homeservers.md)"
		}
		return ""
	}
}

// passthrough puts a value under a homeserver's extra as the playbook's
// template writes it; an empty value is one the template leaves out.
func passthrough(option string) func(*translator, *variable, *yaml.Node) {
	return func(t *translator, v *variable, n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "" && n.Tag == "!!str") {
			t.readVar(v, "empty, so the playbook's template leaves the key out too")
			return
		}
		t.set(v, option, plainCopy(n))
	}
}

// mebibytes converts a size in bytes (with the underscores YAML 1.1
// allows in numbers) to whole MiB, rounded up: the limit matrixgen sets
// is never below the playbook's.
func mebibytes(n *yaml.Node) (*yaml.Node, error) {
	s, err := scalarText(n)
	if err != nil {
		return nil, err
	}
	b, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || b < 1 {
		return nil, fmt.Errorf("%q is not a size in bytes", s)
	}
	return intNode(int((b + 1<<20 - 1) >> 20)), nil
}

// both joins two row conditions; the first reason wins.
func both(a, b func(*translator) string) func(*translator) string {
	return func(t *translator) string {
		if why := a(t); why != "" {
			return why
		}
		return b(t)
	}
}

// turnElsewhereBy is turnElsewhere for a homeserver whose TURN servers
// are listed in urisVar.
func turnElsewhereBy(urisVar string) func(*translator) string {
	return func(t *translator) string {
		if t.coturnEnabled() {
			return "coturn is on (matrix_coturn_enabled), and matrixgen points the homeserver at it; to use the TURN server this names instead, set matrix_coturn_enabled: false (it becomes homeserver.turn)"
		}
		if !t.isSet(urisVar) {
			return "no TURN server is named (" + urisVar + "), so there is nothing to give it to"
		}
		return ""
	}
}

// homeserverGate says why a row does not apply to the homeserver this
// vars.yml runs: Synapse's variables without Synapse, the mail relay's
// beside Dendrite, which sends no e-mail.
func (t *translator) homeserverGate(r row) string {
	switch {
	case synapseRows[r.name] && !t.runsSynapse():
		return t.implementationVar() + ", so the playbook does not run Synapse and does not read it"
	case (strings.HasPrefix(r.name, "exim_relay_") || strings.HasPrefix(r.name, "matrix_mailer_")) && t.homeserverImplementation() == "dendrite":
		return "Dendrite sends no e-mail, so the bundle runs no mail relay beside it"
	}
	return ""
}

// bundleRunsPostgres: the bundle of the translated config runs PostgreSQL.
// continuwuity and Tuwunel keep their data in RocksDB, so beside them it
// runs only for the bridges and bots that keep theirs in PostgreSQL.
func (t *translator) bundleRunsPostgres() bool {
	switch t.homeserverImplementation() {
	case "continuwuity", "tuwunel":
	default:
		return true
	}
	c, problems := validate.Load(OutputName, t.render())
	if len(problems) > 0 {
		return true // validation reports the config; the secret stays listed
	}
	for _, name := range c.Bridges.Enabled() {
		if c.Bridges[name].DatabaseName != "" {
			return true
		}
	}
	for _, name := range c.Bots.Enabled() {
		if c.Bots[name].DatabaseName != "" {
			return true
		}
	}
	return false
}

// domain is the server name, as the playbook and the config have it.
func (t *translator) domain() string {
	if d, ok := t.out.get("domain"); ok {
		return d.Value
	}
	return "DOMAIN"
}
