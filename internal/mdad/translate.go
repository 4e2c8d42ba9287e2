// Package mdad translates the vars.yml of a matrix-docker-ansible-deploy
// installation into a matrixgen config, and finds the secrets that server
// already uses, so that the host can switch to a bundle in place.
//
// Every variable ends in exactly one of three places: an option of the
// config (with a comment naming the variable), the list of variables read
// without an option of their own, or the list of variables not translated.
// Nothing is dropped without a word.
package mdad

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// Result is a translated vars.yml.
type Result struct {
	// Config is the matrixgen config, ending in a commented list of what
	// was not translated.
	Config []byte
	// Untranslated lists what a person has to look at, by line.
	Untranslated []Untranslated
	// Read lists variables that needed no option of their own.
	Read []Untranslated
	// Notes are decisions the translation made that vars.yml did not state.
	Notes []string
	// Secrets are the values the bundle's secrets take on this server;
	// Missing are the bundle's secrets vars.yml gives no value for.
	Secrets []Secret
	Missing []MissingSecret
	// Problems are what matrixgen's validation finds in Config.
	Problems diag.List
}

// Untranslated is one variable, or one part of a variable, and why.
type Untranslated struct {
	Line   int
	Name   string
	Reason string
	// Shown is the value as the output shows it: "<redacted>" for secrets.
	Shown string
}

const redacted = "<redacted>"

// OutputName is the file name validation problems of Result.Config refer to.
const OutputName = "matrix.yaml"

// Translate reads a vars.yml; file names it in messages. The error is for
// input that is not a vars file at all.
func Translate(file string, data []byte) (*Result, error) {
	vf, err := parseVars(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	t := &translator{
		file:     filepath.Base(file),
		vf:       vf,
		r:        newResolver(vf),
		out:      newTree(),
		outcome:  map[*variable]bool{},
		hidden:   map[string]bool{},
		secrets:  map[string]Secret{},
		secretBy: map[string]*variable{},
		// Bridges add theirs as they are translated.
		secretOrder: slices.Clone(secretOrder),
	}
	t.out.set("version", intNode(1), "", "")
	t.hideSecrets()
	if !t.isSet("matrix_coturn_enabled") {
		t.setDefault("coturn.enabled", boolNode(true), "not in vars.yml: the playbook runs coturn unless matrix_coturn_enabled is false")
	}
	t.run()
	t.translateBridges()
	t.translateAddons()
	t.defaults()
	t.collectSecrets()
	return t.result(), nil
}

type translator struct {
	file string
	vf   *varFile
	r    *resolver
	out  *tree
	// outcome records which variables have been placed.
	outcome      map[*variable]bool
	untranslated []Untranslated
	read         []Untranslated
	notes        []string
	// hidden are variables whose values are never shown.
	hidden   map[string]bool
	secrets  map[string]Secret
	secretBy map[string]*variable
	missing  []MissingSecret
	// secretOrder is the order secrets are reported and written in.
	secretOrder []string
	// bridgeVars are the variables of the bridge stage, addonVars those
	// of the bots' and the admin UI's, in file order; roleSecrets the
	// secrets of the bridges and bots these stages translated.
	bridgeVars  []*variable
	addonVars   []*variable
	roleSecrets []secretPlan
}

// rowFor finds a variable's row: its own, else the longest family.
func rowFor(name string) (row, bool) {
	best, found := row{}, false
	for _, r := range table {
		if r.name == name {
			return r, true
		}
		if prefix, ok := strings.CutSuffix(r.name, "*"); ok && strings.HasPrefix(name, prefix) {
			if !found || len(r.name) > len(best.name) {
				best, found = r, true
			}
		}
	}
	return best, found
}

func rowIndex(name string) int {
	return slices.IndexFunc(table, func(r row) bool { return r.name == name })
}

// run applies the rows in table order, then reports the variables no row
// knows.
func (t *translator) run() {
	type job struct {
		v   *variable
		r   row
		idx int
	}
	var jobs []job
	var unknown []*variable
	for _, v := range t.vf.all {
		r, ok := rowFor(v.name)
		if !ok {
			unknown = append(unknown, v)
			continue
		}
		jobs = append(jobs, job{v, r, rowIndex(r.name)})
	}
	slices.SortStableFunc(jobs, func(a, b job) int { return a.idx - b.idx })
	for _, j := range jobs {
		t.apply(j.v, j.r)
	}
	components := t.unsupportedComponents(unknown)
	users := t.referrers()
	for _, v := range unknown {
		switch by, used := users[v.name]; {
		case v.overriddenAt > 0:
			t.overridden(v)
		case used:
			// A helper of the user's own: it means nothing by itself.
			t.readVar(v, fmt.Sprintf("referred to by %s (line %d)", by.name, by.line))
		default:
			t.notTranslated(v, t.unknownReason(v, components))
		}
	}
}

// referrers maps each name to the first variable whose value refers to it.
func (t *translator) referrers() map[string]*variable {
	out := map[string]*variable{}
	for _, v := range t.vf.all {
		for _, name := range refsIn(v.node) {
			if _, seen := out[name]; !seen && name != v.name {
				out[name] = v
			}
		}
	}
	return out
}

func (t *translator) apply(v *variable, r row) {
	if v.overriddenAt > 0 {
		t.overridden(v)
		return
	}
	if why := t.homeserverGate(r); why != "" {
		t.notTranslated(v, why)
		return
	}
	if r.why != "" {
		// A family's reason is for the playbook's variables of that
		// family; a name the playbook does not have is a mistake to fix.
		if why, _ := notAPlaybookVariable(v.name); why != "" && strings.HasSuffix(r.name, "*") {
			t.notTranslated(v, why)
			return
		}
		t.notTranslated(v, r.why)
		return
	}
	if r.when != nil {
		if why := r.when(t); why != "" {
			t.notTranslated(v, why)
			return
		}
	}
	if r.raw {
		r.fn(t, v, v.node)
		return
	}
	n, err := t.r.variable(v.name)
	if err != nil {
		t.notTranslated(v, err.Error())
		return
	}
	switch {
	case r.fn != nil:
		r.fn(t, v, n)
	case r.secret != "":
		t.takeSecret(v, n, r.secret)
	default:
		val, err := r.conv(n)
		switch {
		case err == errEmpty:
			t.readVar(v, "empty, so matrixgen's default applies")
		case err != nil:
			t.notTranslated(v, err.Error())
		default:
			t.set(v, r.option, val)
		}
	}
}

func (t *translator) overridden(v *variable) {
	t.notTranslated(v, fmt.Sprintf("set again on line %d, and the later value counts", v.overriddenAt))
}

// set puts a variable's value at an option, or reports the variable when
// another one set that option first.
func (t *translator) set(v *variable, option string, value *yaml.Node) bool {
	if by, ok := t.out.set(option, value, v.name, fmt.Sprintf("%s, line %d", v.name, v.line)); !ok {
		t.notTranslated(v, fmt.Sprintf("%s already comes from %s", option, t.describe(by)))
		return false
	}
	t.outcome[v] = true
	return true
}

func (t *translator) describe(origin string) string {
	if v, ok := t.vf.byName[origin]; ok {
		return fmt.Sprintf("%s (line %d)", v.name, v.line)
	}
	if origin == "" {
		return "matrixgen"
	}
	return origin
}

// setDefault sets an option vars.yml says nothing about, and says why.
func (t *translator) setDefault(option string, value *yaml.Node, why string) {
	if t.out.has(option) {
		return
	}
	t.out.set(option, value, "", why)
	t.notes = append(t.notes, fmt.Sprintf("%s: %s (%s)", option, value.Value, why))
}

func (t *translator) notTranslated(v *variable, reason string) {
	t.outcome[v] = true
	t.untranslated = append(t.untranslated, Untranslated{Line: v.line, Name: v.name, Reason: reason, Shown: t.show(v.name, v.node)})
}

// notTranslatedPart reports one part of a variable's value (a key of the
// Synapse extension).
func (t *translator) notTranslatedPart(v *variable, line int, path string, n *yaml.Node, secret bool, reason string) {
	shown := redacted
	if !secret && !t.hidden[v.name] {
		shown = showNode(n)
	}
	t.untranslated = append(t.untranslated, Untranslated{Line: line, Name: v.name + "." + path, Reason: reason, Shown: shown})
}

func (t *translator) readVar(v *variable, why string) {
	t.outcome[v] = true
	t.read = append(t.read, Untranslated{Line: v.line, Name: v.name, Reason: why, Shown: t.show(v.name, v.node)})
}

// isSet tells whether vars.yml sets name (the assignment that counts).
func (t *translator) isSet(name string) bool {
	_, ok := t.vf.byName[name]
	return ok
}

// flag reads the first of names that vars.yml sets as a boolean.
func (t *translator) flag(names ...string) (value, set bool) {
	for _, name := range names {
		if !t.isSet(name) {
			continue
		}
		n, err := t.r.variable(name)
		if err != nil {
			continue
		}
		if b, err := toBool(n); err == nil {
			return b, true
		}
	}
	return false, false
}

func (t *translator) text(names ...string) (string, bool) {
	for _, name := range names {
		if !t.isSet(name) {
			continue
		}
		n, err := t.r.variable(name)
		if err != nil {
			continue
		}
		if s, err := scalarText(n); err == nil {
			return s, true
		}
	}
	return "", false
}

// takeSecret records a secret's value; it never enters the config.
func (t *translator) takeSecret(v *variable, n *yaml.Node, name string) {
	s, err := scalarText(n)
	switch {
	case err == errEmpty:
		t.readVar(v, "empty")
		return
	case err != nil:
		t.notTranslated(v, err.Error())
		return
	}
	if t.storeSecret(v, s, name) {
		t.readVar(v, "the secret "+name+" (written with --secrets-dir)")
	}
}

// storeSecret records the value of a secret that v holds, or reports v
// when another variable gave the secret first.
func (t *translator) storeSecret(v *variable, value, name string) bool {
	if prev, ok := t.secretBy[name]; ok {
		t.notTranslated(v, fmt.Sprintf("the secret %s already comes from %s (line %d)", name, prev.name, prev.line))
		return false
	}
	t.secrets[name] = Secret{Name: name, Value: value, Source: fmt.Sprintf("from %s (line %d)", v.name, v.line)}
	t.secretBy[name] = v
	return true
}

// unknownReason explains a variable no row knows.
func (t *translator) unknownReason(v *variable, components map[string]bool) string {
	unknown, typo := notAPlaybookVariable(v.name)
	if typo {
		return unknown
	}
	if strings.HasSuffix(v.name, "_enabled") && !supported(strings.TrimSuffix(v.name, "enabled")) {
		why := "it enables a component matrixgen does not have"
		if n, err := t.r.variable(v.name); err == nil {
			if b, err := toBool(n); err == nil && !b {
				why += " (it is off here, so nothing is lost)"
			}
		}
		return why
	}
	for prefix := range components {
		if strings.HasPrefix(v.name, prefix) {
			return "it configures " + strings.TrimSuffix(prefix, "_") + ", a component matrixgen does not have"
		}
	}
	if unknown != "" {
		return unknown
	}
	return "matrixgen has no equivalent option"
}

// supported tells whether a variable prefix belongs to a component
// matrixgen has: some row names a variable under it.
func supported(prefix string) bool {
	return slices.ContainsFunc(table, func(r row) bool { return strings.HasPrefix(r.name, prefix) })
}

// unsupportedComponents are the prefixes of the unknown *_enabled
// variables: the settings of a bridge share its enable flag's prefix.
func (t *translator) unsupportedComponents(unknown []*variable) map[string]bool {
	out := map[string]bool{}
	for _, v := range unknown {
		if prefix, ok := strings.CutSuffix(v.name, "enabled"); ok && strings.Count(prefix, "_") >= 2 && !supported(prefix) {
			out[prefix] = true
		}
	}
	return out
}

// Facts several rows depend on.

// homeserver is the homeserver's hostname, as the playbook and the
// config have it.
func (t *translator) homeserver() string {
	if n, err := t.r.variable("matrix_server_fqn_matrix"); err == nil {
		if s, err := scalarText(n); err == nil {
			return s
		}
	}
	return "HOMESERVER"
}

func (t *translator) ourTraefik() bool {
	s, ok := t.text("matrix_playbook_reverse_proxy_type")
	return !ok || s == "playbook-managed-traefik"
}

func (t *translator) isBehindProxy() bool {
	secure, set := t.flag("traefik_config_entrypoint_web_secure_enabled")
	return t.ourTraefik() && set && !secure
}

func behindProxy(t *translator) string {
	if t.isBehindProxy() {
		return ""
	}
	return "matrixgen's Traefik publishes ports 80 and 443 itself unless it is behind another proxy (traefik_config_entrypoint_web_secure_enabled: false, which becomes traefik.behind_proxy)"
}

func (t *translator) postgresExternal() bool {
	on, set := t.flag("postgres_enabled", "devture_postgres_enabled")
	return set && !on
}

func externalPostgres(t *translator) string {
	if t.postgresExternal() {
		return ""
	}
	return "it is for a database server of your own, and the playbook's Postgres is on (postgres_enabled), which becomes the bundled one"
}

func bundledPostgres(t *translator) string {
	if !t.postgresExternal() {
		return ""
	}
	return "the playbook's Postgres is off (postgres_enabled: false), so there is no bundled server to give it to"
}

func (t *translator) relayOn() bool {
	on, _ := t.flag("exim_relay_relay_use", "matrix_mailer_relay_use")
	return on
}

// workersOn: the playbook reads its worker variables only with workers on.
func (t *translator) workersOn() bool {
	on, _ := t.flag("matrix_synapse_workers_enabled")
	return on
}

func workersUsed(t *translator) string {
	if t.workersOn() {
		return ""
	}
	return "workers are off (matrix_synapse_workers_enabled is not true), so Synapse runs as one process"
}

func relayUsed(t *translator) string {
	if t.relayOn() {
		return ""
	}
	return "the relay is not used (exim_relay_relay_use is not true), so mail is delivered directly"
}

func relayAuthUsed(t *translator) string {
	if why := relayUsed(t); why != "" {
		return why
	}
	if on, _ := t.flag("exim_relay_relay_auth", "matrix_mailer_relay_auth"); on {
		return ""
	}
	return "the relay takes no login (exim_relay_relay_auth is not true)"
}

func (t *translator) coturnEnabled() bool {
	on, set := t.flag("matrix_coturn_enabled")
	return !set || on
}

// turnElsewhereSecret is the bundle's secret for the shared secret of a
// TURN server outside it.
const turnElsewhereSecret = "synapse-turn-shared-secret"

// turnElsewhere: the playbook's TURN variables name a server of the
// user's own only with its coturn off; with it on, group_vars points
// them at coturn, and so does matrixgen.
func turnElsewhere(t *translator) string {
	if t.coturnEnabled() {
		return "coturn is on (matrix_coturn_enabled), and matrixgen points Synapse at it; to use the TURN server this names instead, set matrix_coturn_enabled: false (it becomes homeserver.turn)"
	}
	if !t.isSet("matrix_synapse_turn_uris") {
		return "no TURN server is named (matrix_synapse_turn_uris), so there is nothing to give it to"
	}
	return ""
}

// turnLogin: Synapse's TURN username and password, which the playbook
// leaves empty unless coturn checks logins its own way (lt-cred-mech).
func turnLogin(t *translator, v *variable, n *yaml.Node) {
	if _, err := scalarText(n); err == errEmpty {
		t.readVar(v, "empty")
		return
	}
	t.notTranslated(v, "matrixgen hands Synapse a TURN server's shared secret (homeserver.turn, the TURN server's static-auth-secret), not a username and password")
}

func coturnOn(t *translator) string {
	if t.coturnEnabled() {
		return ""
	}
	return "coturn is off (matrix_coturn_enabled: false)"
}

func (t *translator) mailerEnabled() bool {
	if t.homeserverImplementation() == "dendrite" {
		return false
	}
	on, set := t.flag("exim_relay_enabled", "matrix_mailer_enabled")
	return !set || on
}

// defaults fill in what matrixgen requires and the playbook does not, and
// note what vars.yml cannot tell. (What the playbook does without being
// told, where matrixgen's default differs, is set before the rows run.)
func (t *translator) defaults() {
	t.rtcDefaults()
	if !t.out.has("traefik.acme_email") && !t.out.has("traefik.behind_proxy.enabled") {
		if d, ok := t.out.get("domain"); ok {
			t.setDefault("traefik.acme_email", strNode("admin@"+d.Value), "not in vars.yml: Traefik needs a contact address for Let's Encrypt; this is matrixgen init's default")
		}
	}
	if t.postgresExternal() && !t.out.has("postgres.external.sslmode") {
		t.notes = append(t.notes, "postgres.external.sslmode: matrixgen verifies the database server's certificate (verify-full) unless this says otherwise; set it if your server has no TLS")
	}
	if t.homeserverImplementation() == "dendrite" {
		t.setDefault("mailer.enabled", boolNode(false), "Dendrite sends no e-mail, so the bundle needs no mail relay")
	}
	if !t.postgresExternal() && t.bundleRunsPostgres() {
		t.notes = append(t.notes, "postgres.bundled.major: set it to the major version the server's data is in (the number in /matrix/postgres/data/PG_VERSION); the bundle refuses to start on a mismatch")
	}
}

// result orders the reports and writes the config.
func (t *translator) result() *Result {
	byLine := func(a, b Untranslated) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Name, b.Name)
	}
	for _, v := range t.vf.all {
		if !t.outcome[v] {
			// A gap in the rows: the tests look for it, and users must
			// not lose the variable to it.
			t.notTranslated(v, "matrixgen did not handle it (a bug in import-mdad)")
		}
	}
	slices.SortStableFunc(t.untranslated, byLine)
	slices.SortStableFunc(t.read, byLine)
	res := &Result{Untranslated: t.untranslated, Read: t.read, Notes: t.notes, Missing: t.missing}
	for _, name := range t.secretOrder {
		if s, ok := t.secrets[name]; ok {
			res.Secrets = append(res.Secrets, s)
		}
	}
	res.Config = t.render()
	_, res.Problems = validate.Load(OutputName, res.Config)
	return res
}

func (t *translator) render() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# matrixgen config, translated from %s by matrixgen import-mdad.\n", t.file)
	b.WriteString("# Each option names the variable it came from. Secrets are not in this\n")
	b.WriteString("# file: matrixgen import-mdad --secrets-dir writes them for install.sh.\n")
	if len(t.notes) > 0 {
		b.WriteString("#\n# Decided without a variable:\n")
		for _, n := range t.notes {
			writeComment(&b, "#   ", n)
		}
	}
	if len(t.read) > 0 {
		fmt.Fprintf(&b, "#\n# Read from %s without an option of their own:\n", t.file)
		for _, r := range t.read {
			writeComment(&b, "#   ", fmt.Sprintf("%s (line %d): %s", r.Name, r.Line, r.Reason))
		}
	}
	b.WriteString("\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(t.out.sorted()); err != nil {
		panic(err) // nodes built here always encode
	}
	enc.Close()
	if len(t.untranslated) > 0 {
		b.WriteString("\n")
		for _, u := range t.untranslated {
			head := fmt.Sprintf("# Not translated from %s (line %d): %s:", t.file, u.Line, u.Name)
			if lines := strings.Split(u.Shown, "\n"); len(lines) == 1 {
				b.WriteString(head + " " + u.Shown + "\n")
			} else {
				// A block scalar's indicator (| or >) stays on the key's line, as in YAML.
				if strings.HasPrefix(lines[0], "|") || strings.HasPrefix(lines[0], ">") {
					head += " " + lines[0]
					lines = lines[1:]
				}
				b.WriteString(head + "\n")
				for _, l := range lines {
					b.WriteString(strings.TrimRight("#     "+l, " ") + "\n")
				}
			}
			writeComment(&b, "#   ", u.Reason)
		}
	}
	return b.Bytes()
}

// writeComment writes text as comment lines; a newline in text (from a
// value quoted in a reason) must not end the comment.
func writeComment(b *bytes.Buffer, prefix, text string) {
	for _, l := range strings.Split(text, "\n") {
		b.WriteString(strings.TrimRight(prefix+l, " ") + "\n")
	}
}

// show renders a variable's value for the report, hiding secrets.
func (t *translator) show(name string, n *yaml.Node) string {
	if t.hidden[name] || isSecretName(name) {
		return redacted
	}
	return showNode(n)
}

func showNode(n *yaml.Node) string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(redactCopy(n)); err != nil {
		return "(a value matrixgen cannot show)"
	}
	enc.Close()
	return strings.TrimSuffix(b.String(), "\n")
}

// redactCopy copies n without comments, and with the values under
// secret-looking keys replaced.
func redactCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return redactCopy(n.Alias)
	}
	out := *n
	out.HeadComment, out.LineComment, out.FootComment, out.Anchor = "", "", "", ""
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "\n") {
		out.Value = redactText(n.Value)
	}
	out.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 1 && isSecretName(n.Content[i-1].Value) {
			out.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: redacted}
			continue
		}
		out.Content[i] = redactCopy(c)
	}
	return &out
}

// redactText hides the values of secret-looking keys in a string that
// holds YAML (the Synapse extension is one), line by line, so that it can
// be shown even when it does not parse.
func redactText(s string) string {
	lines := strings.Split(s, "\n")
	// under is the indentation of a secret-looking key whose value is
	// the block below it (a map of secrets), -1 outside such a block.
	under := -1
	for i, l := range lines {
		content := strings.TrimLeft(l, " ")
		indent := len(l) - len(content)
		if content == "" {
			continue
		}
		if under >= 0 && indent <= under {
			under = -1
		}
		key, value, ok := strings.Cut(l, ":")
		name := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(key), "- "))
		switch {
		case under >= 0 && ok && strings.TrimSpace(value) != "":
			lines[i] = key + ": " + redacted
		case under >= 0:
			lines[i] = l[:indent] + redacted
		case ok && isSecretName(name) && strings.TrimSpace(value) != "":
			lines[i] = key + ": " + redacted
		case ok && isSecretName(name):
			under = indent
		}
	}
	return strings.Join(lines, "\n")
}

// isSecretName tells whether a key names something secret. It errs on the
// side of hiding: a hidden value costs a look at vars.yml, a shown one
// cannot be taken back.
func isSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "passwd", "passphrase", "secret", "token", "key"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, part := range strings.FieldsFunc(n, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if part == "pass" || part == "pw" || part == "hash" {
			return true
		}
	}
	return false
}

// hideSecrets marks the variables whose values are never shown: those
// with secret-looking names, those a secret row reads, and every variable
// such a value is built from.
func (t *translator) hideSecrets() {
	var queue []string
	for _, v := range t.vf.all {
		if r, ok := rowFor(v.name); (ok && r.secret != "") || isSecretName(v.name) || isBridgeSecret(v.name) || addonSecretVars[v.name] {
			queue = append(queue, v.name)
		}
		if strings.HasSuffix(v.name, "_configuration_extension_yaml") {
			queue = append(queue, secretLineRefs(v.node)...)
		}
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if t.hidden[name] {
			continue
		}
		t.hidden[name] = true
		if v, ok := t.vf.byName[name]; ok {
			queue = append(queue, refsIn(v.node)...)
		}
	}
}

// secretLineRefs are the variables referred to on the lines of a YAML
// text whose key looks secret.
func secretLineRefs(n *yaml.Node) []string {
	var out []string
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.ScalarNode {
			for _, line := range strings.Split(n.Value, "\n") {
				if key, _, ok := strings.Cut(line, ":"); ok && isSecretName(key) {
					out = append(out, refsIn(&yaml.Node{Kind: yaml.ScalarNode, Value: line})...)
				}
			}
		}
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 1 && isSecretName(n.Content[i-1].Value) {
				out = append(out, refsIn(c)...)
			}
			walk(c)
		}
	}
	walk(n)
	return out
}
