package mdad

import (
	"fmt"
	"regexp"
	"strings"
)

// Ketesa: the playbook's matrix-ketesa role (matrix_ketesa_*; before its
// rename of 2026-04-03 matrix-synapse-admin, matrix_synapse_admin_*)
// becomes the ketesa section. It keeps no data: only its URL carries
// over.

// ketesaOldFamilies are the variables of the synapse-admin role the
// playbook renamed: those its check for leftovers looks for, and the
// older names that check does not cover.
var ketesaOldFamilies = []string{
	"enabled", "base_path", "config*", "container*", "hostname", "path_prefix",
	"http_*", "floc_*", "hsts_*", "restart_*", "systemd_*",
	"version", "public_endpoint", "docker_*", "nginx_proxy_integration_enabled",
}

var _ = registerAddonKind(&addonKind{
	what: "Ketesa", section: "ketesa", unit: "matrix-ketesa",
	prefixes:    []string{"matrix_ketesa_", "matrix_synapse_admin_"},
	oldFamilies: ketesaOldFamilies,
	refusal:     func(*addonRun) string { return "" },
	translate:   (*addonRun).ketesa,
	left:        (*addonRun).ketesaLeft,
	noOption:    "matrixgen has no option for it; a setting of Ketesa's config.json can go into ketesa.extra",
})

// ketesaDefaultPath is where the playbook serves Ketesa on the
// homeserver's hostname unless told otherwise.
const ketesaDefaultPath = "/synapse-admin"

// webPath matches the paths matrixgen serves Ketesa at (the schema's
// #WebPath).
var webPath = regexp.MustCompile(`^(/[a-z0-9][a-z0-9._-]{0,63}){1,8}$`)

// synapseAdmin tells whether vars.yml is written for the playbook before
// Ketesa replaced synapse-admin.
func (a *addonRun) synapseAdmin() bool { return a.prefix != a.prefixes[0] }

func (a *addonRun) ketesa() {
	a.set("enabled", boolNode(true), a.enabled)
	if a.synapseAdmin() {
		const why = "synapse-admin's image, which Ketesa replaced: matrixgen runs Ketesa (ketesa.image)"
		a.reportAs("version", why)
		a.reportAs("container_image", why)
	} else {
		a.image("ghcr.io/etkecc/ketesa")
	}
	a.ketesaPlace()
	a.hostPort("container_http_host_bind_port")
	a.extra(ketesaExtra, "configuration_extension_json", nil)
	a.t.notes = append(a.t.notes, "reverse_proxy.admin_api.allow: while Ketesa runs, the playbook serves Synapse's admin API (/_synapse/admin) to every network; matrixgen serves it only to the networks in this list (loopback unless set): add those your administrators use Ketesa from")
	if a.synapseAdmin() {
		a.t.notes = append(a.t.notes, "ketesa: the playbook ran synapse-admin, which Ketesa replaced, as matrix-synapse-admin from /matrix/synapse-admin; matrixgen runs Ketesa as matrix-ketesa: before install.sh, run systemctl disable --now matrix-synapse-admin.service and remove /etc/systemd/system/matrix-synapse-admin.service (/matrix/synapse-admin holds nothing else to keep)")
	}
}

// ketesaPlace: on the homeserver's hostname Ketesa is served under a path
// (the playbook's /synapse-admin unless set, kept so that its URL stays);
// on a hostname of its own, at the root.
func (a *addonRun) ketesaPlace() {
	hs := a.t.homeserver()
	host, hostVar := hs, (*variable)(nil)
	if v, s, ok := a.takeText("hostname"); ok {
		host, hostVar = s, v
	}
	path, pathVar := ketesaDefaultPath, (*variable)(nil)
	if v, s, ok := a.takeText("path_prefix"); ok {
		path, pathVar = s, v
	}
	if a.synapseAdmin() {
		if pathVar != nil {
			a.reportAs("public_endpoint", fmt.Sprintf("the playbook renamed it to %spath_prefix, which vars.yml sets (line %d)", a.prefix, pathVar.line))
		} else if v, s, ok := a.takeText("public_endpoint"); ok {
			path, pathVar = s, v
		}
	}
	from := func(vs ...*variable) []*variable {
		var out []*variable
		for _, v := range vs {
			if v != nil {
				out = append(out, v)
			}
		}
		return out
	}
	switch {
	case host == hs && path == "/":
		a.reportPlace(hostVar, pathVar, fmt.Sprintf("matrixgen serves Ketesa on the homeserver's hostname under a path (ketesa.path, /ketesa unless set), not at its root: its address becomes https://%s/ketesa/", hs))
	case host == hs && !webPath.MatchString(path):
		a.reportPlace(hostVar, pathVar, fmt.Sprintf("%q is not a path matrixgen serves Ketesa at (lowercase letters, digits and ._-, no '/' at the end): its address becomes https://%s/ketesa/", path, hs))
	case host == hs && pathVar != nil:
		a.set("path", strNode(path), from(pathVar, hostVar)...)
	case host == hs:
		a.t.setDefault("ketesa.path", strNode(ketesaDefaultPath), "not in vars.yml: the playbook serves Ketesa at /synapse-admin on the homeserver's hostname; kept, so that its address stays")
		if hostVar != nil {
			a.t.readVar(hostVar, "the homeserver's hostname, where ketesa.path is served")
		}
	case path == "/":
		a.set("hostname", strNode(host), from(hostVar, pathVar)...)
	default:
		a.reportPlace(hostVar, pathVar, fmt.Sprintf("matrixgen serves Ketesa at the root of a hostname of its own (ketesa.hostname), or under a path on the homeserver's (ketesa.path), not under %s on %s: its address becomes https://%s/ketesa/", path, host, hs))
	}
}

// reportPlace reports the variables that put Ketesa where matrixgen does
// not serve it.
func (a *addonRun) reportPlace(hostVar, pathVar *variable, why string) {
	for _, v := range []*variable{hostVar, pathVar} {
		if v != nil {
			a.t.notTranslated(v, why)
		}
	}
}

// ketesaExtra are the keys of Ketesa's config.json the playbook has
// variables for.
var ketesaExtra = []extraVar{
	{"config_restrictBaseUrl", "restrictBaseUrl"},
	{"config_externalAuthProvider", "externalAuthProvider"},
	{"config_wellKnownDiscovery", "wellKnownDiscovery"},
	{"config_corsCredentials", "corsCredentials"},
	{"config_menu", "menu"},
}

func (a *addonRun) ketesaLeft(v *variable, suffix string) bool {
	switch {
	case strings.HasPrefix(suffix, "config_asManagedUsers"):
		a.t.notTranslated(v, "matrixgen lists the bridges' users in asManagedUsers itself; ketesa.extra.asManagedUsers would replace that list, so list the bridges' users there too")
	case suffix == "container_labels_traefik_ipallowlist_sourcerange":
		if n, err := a.t.r.variable(v.name); err == nil && isEmptyValue(n) {
			a.t.readVar(v, "empty: everyone reaches Ketesa, as in matrixgen")
		} else {
			a.t.notTranslated(v, "matrixgen serves Ketesa's page to every network; reverse_proxy.admin_api.allow limits who reaches the admin API it works through: put these networks there")
		}
	case strings.HasPrefix(suffix, "http_header_") || strings.HasPrefix(suffix, "floc_") || strings.HasPrefix(suffix, "hsts_"):
		a.t.notTranslated(v, "matrixgen has no option for the headers of Ketesa's responses")
	case suffix == "base_path" || suffix == "config_path":
		a.t.notTranslated(v, "matrixgen keeps Ketesa's config.json in /matrix/ketesa/config, the playbook's default")
	case suffix == "nginx_proxy_integration_enabled":
		a.t.notTranslated(v, "the playbook removed it, and matrixgen has no such option")
	default:
		return false
	}
	return true
}
