package validate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// synapseOnly are the options of synapse.* that no other homeserver has
// an equivalent of matrixgen could map them to, with the reason given
// when one is set for another homeserver. The options every homeserver
// takes live under homeserver.*, and each homeserver's component maps
// them; written under their old synapse.* names, they have moved there
// before this check looks.
var synapseOnly = map[string]string{
	"synapse.image":                 "it is Synapse's image; the homeserver's is <name>.image",
	"synapse.extra":                 "it is merged into Synapse's homeserver.yaml; the homeserver's own config takes <name>.extra",
	"synapse.workers":               "workers are Synapse's processes; the other homeservers run as one process",
	"synapse.sso":                   "logging in through OpenID Connect is configured here for Synapse only",
	"synapse.metrics":               "the metrics listener is Synapse's",
	"synapse.log_level":             "it is the level of Synapse's Python loggers",
	"synapse.signing_key_import":    "the key file is in Synapse's format; a server that changes program is a new server",
	"synapse.limit_remote_rooms":    "room complexity limits are Synapse's",
	"synapse.admin_contact":         "it is Synapse's error-page contact; use well_known.support",
	"synapse.media_retention":       "the media lifetimes are Synapse's own clean-up of its media store",
	"synapse.forget_rooms_on_leave": "it is Synapse's setting; the others decide for themselves what a left room keeps",
	"ketesa.enabled":                "Ketesa manages Synapse through Synapse's admin API",
	"mas.enabled":                   "the Matrix Authentication Service takes logins over from Synapse through Synapse's own delegation settings",
}

// notFor are options some other homeserver cannot honour, by homeserver.
var notFor = map[string]map[string]string{
	"dendrite": {
		"synapse.url_previews.enabled":         "Dendrite makes no URL previews; set it to false",
		"homeserver.registration.require_3pid": "Dendrite verifies no e-mail address or phone number",
		"homeserver.registration.mode": "Dendrite 0.13.8 keeps registration tokens but never asks for one at /register, " +
			"so token registration would be open registration; use closed (accounts made with create-account) or open",
		"mailer.enabled": "Dendrite sends no e-mail; set it to false",
	},
	"continuwuity": {
		"homeserver.registration.require_3pid": "matrixgen does not yet map verified registration onto continuwuity",
		"bridges": "continuwuity registers appservices only through commands in its admin room, " +
			"which a build cannot send; Tuwunel, Dendrite and Synapse read registration files",
	},
	"tuwunel": {
		"homeserver.registration.require_3pid": "matrixgen does not yet map verified registration onto Tuwunel",
	},
}

// ownedKeys are the keys of each homeserver's config file that matrixgen
// writes from the shared options; <name>.extra may not set them, so that
// one option has one place.
var ownedKeys = map[string][]string{
	"dendrite": {"version", "global.server_name", "global.private_key", "global.database",
		"global.disable_federation", "global.jetstream.storage_path", "app_service_api.config_files",
		"client_api.registration_disabled", "client_api.registration_requires_token",
		"client_api.registration_shared_secret", "client_api.turn", "media_api.base_path",
		"media_api.max_file_size_bytes"},
	"continuwuity": conduwuitOwnedKeys,
	"tuwunel":      conduwuitOwnedKeys,
}

// HomeserverOwnedKeys are the keys of a homeserver's config file that
// NAME.extra may not set, as dotted paths.
func HomeserverOwnedKeys(name string) []string { return slices.Clone(ownedKeys[name]) }

var conduwuitOwnedKeys = []string{"server_name", "database_path", "address", "port", "max_request_size",
	"allow_registration", "registration_token_file", "allow_federation", "turn_uris", "turn_secret_file",
	"appservice_dir", "smtp"}

func homeserverChecks(c *config.Config, ix *index) diag.List {
	impl := c.Homeserver.Implementation
	var out diag.List
	for _, other := range []string{"dendrite", "continuwuity", "tuwunel"} {
		if other != impl && ix.written(other) {
			out = append(out, problem(ix, other,
				"%s is configured, but homeserver.implementation is %s: these options would do nothing", other, impl)...)
		}
	}
	if impl == "synapse" {
		return out
	}
	for _, path := range sortedKeys(synapseOnly) {
		if ix.written(path) {
			out = append(out, problem(ix, path, "not for homeserver.implementation %s: %s",
				impl, strings.ReplaceAll(synapseOnly[path], "<name>", impl))...)
		}
	}
	for _, path := range sortedKeys(notFor[impl]) {
		if ix.written(path) && isSet(c, path) {
			out = append(out, problem(ix, path, "not for homeserver.implementation %s: %s", impl, notFor[impl][path])...)
		}
	}
	for _, key := range ownedKeys[impl] {
		if path := impl + ".extra." + key; ix.written(path) {
			out = append(out, problem(ix, path, "matrixgen writes %s itself from the shared options (docs/homeservers.md)", key)...)
		}
	}
	if impl == "dendrite" {
		for i, server := range c.Homeserver.TrustedKeyServers {
			if server != "matrix.org" {
				out = append(out, problem(ix, fmt.Sprintf("homeserver.trusted_key_servers.%d", i),
					"Dendrite needs a key server's public keys up front; matrixgen knows matrix.org's only: "+
						"list others in dendrite.extra.federation_api.key_perspectives")...)
			}
		}
	}
	return out
}

// isSet: the option as written turns something on (a toggle that is
// true, a list or map with entries); writing it off is no conflict.
func isSet(c *config.Config, path string) bool {
	switch path {
	case "synapse.url_previews.enabled":
		return c.Synapse.URLPreviews.Enabled
	case "homeserver.registration.mode":
		return c.Homeserver.Registration.Mode == "token"
	case "homeserver.registration.require_3pid":
		return len(c.Homeserver.Registration.Require3PID) > 0
	case "mailer.enabled":
		return c.Mailer.Enabled
	case "bridges":
		return len(c.Bridges.Enabled()) > 0
	}
	return true
}
