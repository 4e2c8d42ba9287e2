package mdad

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/matrixgen/matrixgen/internal/validate"
)

// Draupnir: the playbook's matrix-bot-draupnir role becomes bots.draupnir,
// which keeps /matrix/draupnir/data, where Draupnir keeps its state. Both
// run it in bot mode, with an access token of the bot's user.

var _ = registerAddonKind(&addonKind{
	what: "Draupnir", section: "bots.draupnir", unit: "matrix-bot-draupnir",
	prefixes:  []string{"matrix_bot_draupnir_"},
	refusal:   (*addonRun).draupnirRefusal,
	translate: (*addonRun).draupnir,
	left:      (*addonRun).draupnirLeft,
	noOption:  "matrixgen has no option for it; a setting of Draupnir's config can go into bots.draupnir.extra (the playbook's config is /matrix/draupnir/config/production.yaml on the server)",
})

// matrixRoom matches the rooms matrixgen takes (the schema's #MatrixRoom).
var matrixRoom = regexp.MustCompile(`^(![A-Za-z0-9._~+/=-]+(:[A-Za-z0-9.-]+(:[0-9]+)?)?|#[A-Za-z0-9._=/+-]+:[A-Za-z0-9.-]+(:[0-9]+)?)$`)

// draupnirRefusal: matrixgen's Draupnir is told its management room. With
// zero-touch deployment the bot made the room itself and only its data
// knows which.
func (a *addonRun) draupnirRefusal() string {
	if zero, _ := a.flag("zero_touch_deploy"); zero {
		return "with zero-touch deployment (zero_touch_deploy) the bot made its management room itself, and only its data in /matrix/draupnir/data knows which; matrixgen's Draupnir is told its room (bots.draupnir.management_room): add the bot by hand with that room's ID"
	}
	room, v, err := a.text("config_managementRoom")
	switch {
	case err != nil:
		return fmt.Sprintf("%s (line %d) cannot be read: %v", v.name, v.line, err)
	case room == "":
		return "matrixgen's Draupnir needs its management room (bots.draupnir.management_room), and vars.yml names none (" + a.prefix + "config_managementRoom)"
	case !matrixRoom.MatchString(room):
		return fmt.Sprintf("%s: %q is not a room ID or alias matrixgen takes (bots.draupnir.management_room)", v.name, room)
	}
	return ""
}

func (a *addonRun) draupnir() {
	a.set("type", strNode("draupnir"), a.enabled)
	a.image("ghcr.io/the-draupnir-project/draupnir")
	if v, room, ok := a.takeText("config_managementRoom"); ok {
		a.set("management_room", strNode(room), v)
	}
	a.readAs("zero_touch_deploy", "off: the management room is named, as matrixgen's Draupnir needs")
	a.reportAs("config_initialManager", "the playbook uses it only with zero-touch deployment (zero_touch_deploy), which is off")
	a.draupnirLogin()
	a.draupnirWeb()
	a.extra(draupnirExtra, "configuration_extension_yaml", refusalWiring(func(key string) (string, bool) { return validate.BotWiring("draupnir", key) }, "Draupnir"))
	a.t.addRoleSecret(secretPlan{name: "draupnir-access-token", suffix: "config_accessToken", provided: true})
	if v, n, ok := a.take("config_accessToken"); ok {
		a.t.takeSecret(v, n, "draupnir-access-token")
	}
	a.renamedUnit("matrix-draupnir", "the instance is named draupnir, so that it keeps /matrix/draupnir/data")
}

const whyPantalaimon = "matrixgen's Draupnir talks to Synapse directly, not through Pantalaimon, with an access token of its user: log the user in once (docs/bridges.md, Bots) and put the token in /matrix/secrets/draupnir-access-token; Draupnir then reads no encrypted rooms"

// draupnirLogin reads how the playbook's Draupnir logs in: with an access
// token, as matrixgen's, or with a password (through Pantalaimon, or
// natively), which matrixgen's does not take.
func (a *addonRun) draupnirLogin() {
	pantalaimon, _ := a.flag("pantalaimon_use")
	native, _ := a.flag("login_native")
	for _, s := range []struct {
		suffix, why string
	}{
		{"pantalaimon_use", whyPantalaimon},
		{"login_native", "matrixgen's Draupnir logs in with an access token of its user, not its password: log the user in once (docs/bridges.md, Bots) and put the token in /matrix/secrets/draupnir-access-token"},
	} {
		if v, on, ok := a.takeBool(s.suffix); ok {
			if on {
				a.t.notTranslated(v, s.why)
			} else {
				a.t.readVar(v, "off, as in matrixgen")
			}
		}
	}
	for _, suffix := range []string{"login", "password", "pantalaimon_username", "pantalaimon_password", "pantalaimon_breakage_ignore"} {
		switch {
		case pantalaimon || native:
			a.reportAs(suffix, "matrixgen's Draupnir logs in with an access token (the secret draupnir-access-token), not with a password")
		default:
			a.readAs(suffix, "unused: the bot logs in with its access token, as matrixgen's does")
		}
	}
	a.readAs("config_homeserverUrl", "matrixgen connects Draupnir to Synapse itself")
	a.readAs("config_rawHomeserverUrl", "matrixgen connects Draupnir to Synapse itself")
	a.readAs("admin_api_enabled", "matrixgen's Draupnir reaches Synapse's admin API over the internal network whatever this says; Synapse answers it once the bot's user is an admin")
}

// draupnirWeb reads the settings of Draupnir's web API, which matrixgen
// does not turn on: the synapse-http-antispam module and room reports.
func (a *addonRun) draupnirWeb() {
	antispam := false
	for _, s := range []struct{ suffix, why string }{
		{"config_web_synapseHTTPAntispam_enabled", "matrixgen loads no synapse-http-antispam module into Synapse and does not turn on Draupnir's web API for it, so Draupnir no longer vets invites and joins before Synapse accepts them"},
		{"config_web_abuseReporting", "matrixgen does not send room reports to Draupnir's web API: they reach Synapse only"},
	} {
		if v, on, ok := a.takeBool(s.suffix); ok {
			if on {
				antispam = antispam || strings.Contains(s.suffix, "Antispam")
				a.t.notTranslated(v, s.why)
			} else {
				a.t.readVar(v, "off, as in matrixgen")
			}
		}
	}
	if antispam {
		a.reportAs("config_web_synapseHTTPAntispam_authorization", "the module it authorizes is not translated")
	} else {
		a.readAs("config_web_synapseHTTPAntispam_authorization", "unused: the synapse-http-antispam module is off")
	}
}

// draupnirExtra are settings of Draupnir's config that the playbook has
// variables for and matrixgen has no option for.
var draupnirExtra = []extraVar{
	{"config_admin_enableMakeRoomAdminCommand", "admin.enableMakeRoomAdminCommand"},
	{"config_disableServerACL", "disableServerACL"},
	{"config_roomStateBackingStore_enabled", "roomStateBackingStore.enabled"},
	{"config_experimentalRustCrypto", "experimentalRustCrypto"},
	{"config_displayReports", "displayReports"},
}

func (a *addonRun) draupnirLeft(v *variable, suffix string) bool {
	switch {
	case strings.HasPrefix(suffix, "config_web_") || suffix == "web_url" || strings.HasPrefix(suffix, "synapse_http_antispam_") ||
		suffix == "container_http_host_bind_port":
		a.t.notTranslated(v, "matrixgen does not turn on Draupnir's web API, and publishes no port for it")
	case suffix == "base_path" || suffix == "config_path" || suffix == "data_path":
		a.t.notTranslated(v, "matrixgen keeps Draupnir in /matrix/draupnir (config/ and data/), the playbook's default")
	default:
		return false
	}
	return true
}
