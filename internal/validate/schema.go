package validate

import (
	"io/fs"
	"sort"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"

	"github.com/matrixgen/matrixgen/schema"
)

// compiled is the schema, built once per process: compiling it is the
// largest fixed cost of a run.
var compiled = sync.OnceValues(compileSchema)

func compileSchema() (*cue.Context, cue.Value) {
	ctx := cuecontext.New()
	inst := build.NewContext().NewInstance("schema", nil)
	names, err := fs.Glob(schema.Files, "*.cue")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	for _, name := range names {
		src, err := fs.ReadFile(schema.Files, name)
		if err != nil {
			panic(err)
		}
		f, err := parser.ParseFile("schema/"+name, src, parser.ParseComments)
		if err != nil {
			panic(err) // the embedded schema is ours: a parse error is a bug
		}
		if err := inst.AddSyntax(f); err != nil {
			panic(err)
		}
	}
	v := ctx.BuildInstance(inst)
	if v.Err() != nil {
		panic(v.Err())
	}
	patternNames = describePatterns(v)
	return ctx, v.LookupPath(cue.ParsePath("#Config"))
}

// What each named pattern of the schema accepts, in words.
var patternDescriptions = map[string]string{
	"#Hostname":         "must be a lowercase DNS hostname such as matrix.example.org",
	"#AbsPath":          "must be an absolute path of letters, digits, '.', '_', '-' and '/'",
	"#Image":            "must be a container image reference such as docker.io/library/traefik:v3.6.12",
	"#Name":             "must be a lowercase name of letters, digits, '_' and '-', at most 32 characters",
	"#Email":            "must be an e-mail address such as admin@example.org",
	"#CIDR":             "must be an IPv4 or IPv6 network such as 192.0.2.0/24 or 2001:db8::/32",
	"#IP":               "must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1",
	"#URL":              "must be an http:// or https:// address without spaces or control characters",
	"#TurnURI":          "must be a TURN URI such as turn:turn.example.org:3478?transport=udp (turn: or turns:, a hostname or IP address, an optional port and transport udp or tcp)",
	"#ULID":             "must be a ULID such as 01JSHPZHAXC50QBKH67MH33TNF: 26 characters of 0-9 and A-Z without I, L, O and U, the first at most 7",
	"#WebPath":          "must be a path such as /ketesa or /admin/ketesa: names of lowercase letters, digits, '.', '_' and '-' (starting with a letter or digit), each after a '/', and no '/' at the end",
	"#IPv4Subnet":       "must be an IPv4 network such as 10.231.1.0/24",
	"#IPv6Subnet":       "must be an IPv6 network such as fd6d:6174:7269:7801::/64",
	"#IPv4":             "must be an IPv4 address such as 203.0.113.10",
	"#IPv6":             "must be an IPv6 address such as fd6d:6174:7269:7801::1",
	"#KubeName":         "must be a Kubernetes name of lowercase letters, digits and '-', starting with a letter, at most 63 characters",
	"#Quantity":         "must be a Kubernetes quantity such as 250m, 1, 512Mi or 20Gi",
	"#BackupRepository": "must be a restic or borg repository such as /srv/restic or sftp:user@host:/srv/restic: letters, digits and . _ ~ / : @ + = % -",
	"#SynapseDuration":  "must be a number and a unit, one of s, m, h, d, w and y, such as 30d",
	"#Calendar":         "must be a systemd calendar event such as daily or *-*-* 03:30:00 (letters, digits, spaces and * , . / : ~ -)",
}

// What each named negated pattern (!~) of the schema forbids, in words.
var notPatternDescriptions = map[string]string{
	"#AbsPath": "must not contain a '..' component",
}

// What the options with a pattern of their own accept, in words, by option
// path with * for a list index.
var formatDescriptions = map[string]string{
	"coturn.external_ip":                                              "must be an IPv4 address such as 203.0.113.10",
	"element.brand":                                                   "must be 1 to 64 characters, none of them a control character such as a newline",
	"mailer.sender_name":                                              "must be 1 to 64 letters, digits, spaces, '.', '_' and '-'",
	"mailer.smarthost.host":                                           "must be a hostname or IP address",
	"mailer.smarthost.user":                                           "must be 1 to 128 characters, without spaces or control characters",
	"postgres.external.host":                                          "must be a hostname or IP address",
	"synapse.admin_contact":                                           "must be a mailto: or https:// address without spaces or control characters, such as mailto:admin@example.org",
	"homeserver.auto_join_rooms.*":                                    "must be a room alias such as #welcome:example.org",
	"mas.upstream_oauth2.providers.*.client_id":                       "must be 1 to 256 characters, none of them a control character such as a newline",
	"mas.upstream_oauth2.providers.*.human_name":                      "must be 1 to 128 characters, none of them a control character such as a newline",
	"mas.upstream_oauth2.providers.*.name":                            "must be 2 to 32 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit",
	"mas.upstream_oauth2.providers.*.scope":                           "must be scopes of printable ASCII characters without '\"' or '\\', separated by single spaces",
	"mas.upstream_oauth2.providers.*.synapse_idp_id":                  "must be 1 to 70 letters, digits, '.', '_' and '-', such as oidc-keycloak",
	"monitoring.prometheus.retention_time":                            "must be a number and a unit, one of y, w, d and h, such as 30d",
	"monitoring.prometheus.retention_size":                            "must be a number and a unit, one of MB, GB and TB, such as 20GB",
	"monitoring.prometheus.scrape_interval":                           "must be a number of seconds or minutes such as 15s or 1m",
	"synapse.sso.oidc_providers.*.attribute_requirements.*.attribute": "must be 1 to 128 characters, none of them a control character such as a newline",
	"synapse.sso.oidc_providers.*.client_id":                          "must be 1 to 256 characters, none of them a control character such as a newline",
	"synapse.sso.oidc_providers.*.idp_brand":                          "must be 1 to 64 lowercase letters, digits, '.', '_' and '-'",
	"synapse.sso.oidc_providers.*.idp_icon":                           "must be an mxc:// URI such as mxc://example.org/abcDEF123",
	"synapse.sso.oidc_providers.*.idp_id":                             "must be 1 to 64 letters, digits, '.', '_' and '-'",
	"synapse.sso.oidc_providers.*.idp_name":                           "must be 1 to 128 characters, none of them a control character such as a newline",
	"synapse.sso.oidc_providers.*.scopes.*":                           "must be 1 to 128 printable ASCII characters without spaces, '\"' or '\\'",
	"homeserver.turn.user_lifetime":                                   "must be a duration such as 30m, 1h or 1d (a number and one of ms, s, m, h, d, w, y)",
	"well_known.support.contacts.*.matrix_id":                         "must be a Matrix user ID such as @admin:example.org",
	"well_known.support.page":                                         "must be an https:// address without spaces or control characters",
}

// What the keys of the maps that constrain their keys by a pattern accept,
// by the map's option path: CUE only says "field not allowed".
var keyDescriptions = map[string]string{
	"postgres.bundled.extra": "a PostgreSQL setting name is lowercase letters, '_' and '.'",
}

type patternName struct{ op, pattern, want string }

var patternNames []patternName

func describePatterns(root cue.Value) []patternName {
	var out []patternName
	for _, table := range []struct {
		op    cue.Op
		text  string
		wants map[string]string
	}{{cue.RegexMatchOp, "=~", patternDescriptions}, {cue.NotRegexMatchOp, "!~", notPatternDescriptions}} {
		for _, def := range sortedKeys(table.wants) {
			for _, part := range conjuncts(root.LookupPath(cue.ParsePath(def))) {
				if op, args := part.Expr(); op == table.op && len(args) == 1 {
					if re, err := args[0].String(); err == nil {
						out = append(out, patternName{table.text, re, table.wants[def]})
					}
				}
			}
		}
	}
	return out
}

func conjuncts(v cue.Value) []cue.Value {
	if op, args := v.Expr(); op == cue.AndOp {
		return args
	}
	return []cue.Value{v}
}

// Schema returns #Config, for explain and documentation generators.
func Schema() cue.Value {
	_, v := compiled()
	return v
}

// schemaChild finds the schema of one key or list element below v, looking
// through optional fields and disjunctions (defaults make most options one).
func schemaChild(v cue.Value, sel cue.Selector) (cue.Value, bool) {
	return lookupIn(alternatives(v), sel)
}

// lookupIn is schemaChild on alternatives already taken apart.
func lookupIn(alts []cue.Value, sel cue.Selector) (cue.Value, bool) {
	for _, alt := range alts {
		for _, s := range []cue.Selector{sel, optional(sel)} {
			if c := alt.LookupPath(cue.MakePath(s)); c.Exists() {
				return c, true
			}
		}
	}
	return cue.Value{}, false
}

func optional(sel cue.Selector) cue.Selector {
	if sel.Type() == cue.StringLabel {
		return sel.Optional()
	}
	return sel
}

// isOpen tells whether v accepts keys it does not name (the extra mappings).
func isOpen(v cue.Value) bool {
	return anyOpen(alternatives(v))
}

func anyOpen(alts []cue.Value) bool {
	for _, alt := range alts {
		if alt.Allows(cue.Str("\x00any")) {
			return true
		}
	}
	return false
}

func alternatives(v cue.Value) []cue.Value {
	if op, args := v.Expr(); op == cue.OrOp {
		return args
	}
	return []cue.Value{v}
}

// fieldNames lists the options v defines, for "did you mean".
func fieldNames(v cue.Value) []string {
	var names []string
	for _, alt := range alternatives(v) {
		it, err := alt.Fields(cue.Optional(true))
		if err != nil {
			continue
		}
		for it.Next() {
			names = append(names, it.Selector().Unquoted())
		}
	}
	return names
}

// Doc returns the doc comment of a schema value, without comment markers.
func Doc(v cue.Value) string {
	var text string
	for _, g := range v.Doc() {
		text += g.Text()
	}
	return text
}
