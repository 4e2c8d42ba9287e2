package mdad

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// row says what becomes of one playbook variable. Most rows name the option
// a variable sets and how its value converts; the few variables that take a
// decision, or more than one option, have a function.
type row struct {
	// name is a variable, or a family of variables when it ends in "*".
	name string
	// option is the matrixgen option the value goes to, converted by conv.
	option string
	conv   converter
	// secret is the bundle secret the value goes to instead.
	secret string
	// when, if set, returns why the row does not apply to this vars.yml.
	when func(*translator) string
	// fn handles variables that need more than a conversion; raw gives it
	// the value as written, before references are resolved.
	fn  func(*translator, *variable, *yaml.Node)
	raw bool
	// why is the reason a variable is reported rather than translated.
	why string
}

// table is in the order the rows apply: when two variables set one option
// (a current name and the one it replaced), the first row wins and the other
// is reported. The rows of the bridges, bots and admin UI come last: their
// stages read them after the rest (bridge_translate.go, addons.go).
var table []row

// The rows of the bridges and bots follow from the kinds their own files
// register in package variables, which are all set before this runs.
func init() {
	table = slices.Concat(coreRows, operationsRows, rtcRows, homeserverRows(), bridgeRows(), addonRows())
	for _, r := range slices.Concat(coreRows, operationsRows) {
		if strings.HasPrefix(r.name, "matrix_synapse_") {
			synapseRows[r.name] = true
		}
	}
}

// synapseRows are the rows of Synapse's variables, which the playbook
// reads only when it runs Synapse.
var synapseRows = map[string]bool{}

var coreRows = []row{
	// The server.
	{name: "matrix_domain", option: "domain", conv: str},
	{name: "matrix_server_fqn_matrix", option: "hostnames.homeserver", conv: str},
	{name: "matrix_server_fqn_element", option: "hostnames.element", conv: str},
	{name: "matrix_homeserver_implementation", fn: implementation},
	{name: "matrix_homeserver_generic_secret_key", fn: genericSecretKey},

	// The reverse proxy.
	{name: "matrix_playbook_reverse_proxy_type", fn: reverseProxyType},
	{name: "matrix_playbook_ssl_enabled", fn: sslEnabled},
	{name: "traefik_config_entrypoint_web_secure_enabled", fn: webSecureEnabled},
	{name: "traefik_container_web_host_bind_port", fn: bindPort, when: behindProxy},
	{name: "matrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port", fn: bindPort, when: behindProxy},
	{name: "traefik_config_entrypoint_web_forwardedHeaders_*", why: whyForwarded},
	{name: "matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_custom", why: whyForwarded},
	{name: "traefik_config_certificatesResolvers_acme_email", option: "traefik.acme_email", conv: str},
	{name: "devture_traefik_config_certificatesResolvers_acme_email", option: "traefik.acme_email", conv: str},

	// PostgreSQL.
	{name: "postgres_enabled", option: "postgres.mode", conv: choice("bundled", "external")},
	{name: "devture_postgres_enabled", option: "postgres.mode", conv: choice("bundled", "external")},
	{name: "matrix_synapse_database_host", option: "postgres.external.host", conv: str, when: externalPostgres},
	{name: "matrix_synapse_database_port", option: "postgres.external.port", conv: integer, when: externalPostgres},
	{name: "matrix_synapse_database_database", option: "postgres.external.database", conv: str, when: externalPostgres},
	{name: "matrix_synapse_database_user", option: "postgres.external.user", conv: str, when: externalPostgres},
	{name: "matrix_synapse_database_password", secret: "synapse-db-password"},
	{name: "matrix_synapse_connection_password", secret: "synapse-db-password"},
	{name: "postgres_connection_password", secret: "postgres-password", when: bundledPostgres},
	{name: "devture_postgres_connection_password", secret: "postgres-password", when: bundledPostgres},

	// Synapse.
	{name: "matrix_synapse_enable_registration", fn: registration},
	{name: "matrix_synapse_registration_requires_token", fn: registrationToken},
	{name: "matrix_synapse_enable_registration_without_verification", option: "homeserver.registration.allow_unverified", conv: boolean},
	{name: "matrix_synapse_registrations_require_3pid", option: "homeserver.registration.require_3pid", conv: stringList},
	{name: "matrix_synapse_max_upload_size_mb", option: "homeserver.max_upload_size_mb", conv: integer},
	{name: "matrix_synapse_presence_enabled", option: "homeserver.presence", conv: boolean},
	{name: "matrix_homeserver_federation_enabled", option: "homeserver.federation.enabled", conv: boolean},
	{name: "matrix_synapse_auto_join_rooms", option: "homeserver.auto_join_rooms", conv: stringList},
	{name: "matrix_synapse_limit_remote_rooms_enabled", option: "synapse.limit_remote_rooms.enabled", conv: boolean},
	{name: "matrix_synapse_limit_remote_rooms_complexity", option: "synapse.limit_remote_rooms.complexity", conv: number},
	{name: "matrix_synapse_limit_remote_rooms_admins_can_join", option: "synapse.limit_remote_rooms.admins_can_join", conv: boolean},
	{name: "matrix_synapse_metrics_enabled", option: "synapse.metrics.enabled", conv: boolean},
	{name: "matrix_synapse_macaroon_secret_key", secret: "synapse-macaroon-secret"},
	{name: "matrix_synapse_form_secret", secret: "synapse-form-secret"},
	{name: "matrix_synapse_registration_shared_secret", secret: "synapse-registration-secret"},
	// The extension applies last in the playbook, so it goes before the
	// variables whose Synapse options it may also set.
	{name: "matrix_synapse_configuration_extension_yaml", fn: extensionYAML, raw: true},
	{name: "matrix_synapse_oidc_enabled", fn: oidcEnabled},
	{name: "matrix_synapse_oidc_providers", fn: oidcProvidersVar, raw: true},
	{name: "matrix_synapse_allow_public_rooms_over_federation", option: "synapse.extra.allow_public_rooms_over_federation", conv: boolean},
	{name: "matrix_synapse_allow_public_rooms_without_auth", option: "synapse.extra.allow_public_rooms_without_auth", conv: boolean},
	{name: "matrix_synapse_allow_public_rooms_*", why: "matrixgen has no option for it; Synapse's own option can go into synapse.extra"},
	{name: "matrix_synapse_workers_enabled", fn: workersEnabled},
	{name: "matrix_synapse_workers_preset", option: "synapse.workers.preset", conv: str, when: workersUsed},
	{name: "matrix_synapse_workers_generic_workers_count", option: "synapse.workers.generic", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_room_workers_count", option: "synapse.workers.room", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_sync_workers_count", option: "synapse.workers.sync", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_client_reader_workers_count", option: "synapse.workers.client_reader", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_federation_reader_workers_count", option: "synapse.workers.federation_reader", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_federation_sender_workers_count", option: "synapse.workers.federation_sender", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_pusher_workers_count", option: "synapse.workers.pusher", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_media_repository_workers_count", option: "synapse.workers.media_repository", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_appservice_workers_count", option: "synapse.workers.appservice", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_user_dir_workers_count", option: "synapse.workers.user_dir", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_background_workers_count", option: "synapse.workers.background", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_events_stream_workers_count", option: "synapse.workers.stream_writers.events", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_typing_stream_workers_count", option: "synapse.workers.stream_writers.typing", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_to_device_stream_workers_count", option: "synapse.workers.stream_writers.to_device", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_account_data_stream_workers_count", option: "synapse.workers.stream_writers.account_data", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_receipts_stream_workers_count", option: "synapse.workers.stream_writers.receipts", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_presence_stream_workers_count", option: "synapse.workers.stream_writers.presence", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_push_rules_stream_workers_count", option: "synapse.workers.stream_writers.push_rules", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_device_lists_stream_workers_count", option: "synapse.workers.stream_writers.device_lists", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_thread_subscriptions_stream_workers_count", option: "synapse.workers.stream_writers.thread_subscriptions", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_stream_writer_quarantined_media_changes_stream_workers_count", option: "synapse.workers.stream_writers.quarantined_media_changes", conv: integer, when: workersUsed},
	{name: "matrix_synapse_workers_*", why: "matrixgen has no option for it; worker counts and the preset are translated"},
	{name: "matrix_synapse_turn_uris", option: "homeserver.turn.uris", conv: stringList, when: turnElsewhere},
	{name: "matrix_synapse_turn_shared_secret", secret: turnElsewhereSecret, when: turnElsewhere},
	{name: "matrix_synapse_turn_allow_guests", option: "homeserver.turn.allow_guests", conv: boolean, when: turnElsewhere},
	{name: "matrix_synapse_turn_username", fn: turnLogin},
	{name: "matrix_synapse_turn_password", fn: turnLogin},
	{name: "matrix_synapse_turn_*", why: "matrixgen has no option for it; a TURN server elsewhere is homeserver.turn (matrix_synapse_turn_uris, _shared_secret and _allow_guests are translated)"},

	// Element and the well-known files.
	{name: "matrix_client_element_enabled", option: "element.enabled", conv: boolean},
	{name: "matrix_static_files_container_labels_base_domain_enabled", option: "well_known.serve_base_domain", conv: boolean},

	// Mail.
	{name: "exim_relay_enabled", option: "mailer.enabled", conv: boolean},
	{name: "matrix_mailer_enabled", option: "mailer.enabled", conv: boolean},
	{name: "exim_relay_sender_address", option: "mailer.sender", conv: str},
	{name: "matrix_mailer_sender_address", option: "mailer.sender", conv: str},
	{name: "exim_relay_relay_use", fn: relayUse},
	{name: "matrix_mailer_relay_use", fn: relayUse},
	{name: "exim_relay_relay_host_name", option: "mailer.smarthost.host", conv: str, when: relayUsed},
	{name: "matrix_mailer_relay_host_name", option: "mailer.smarthost.host", conv: str, when: relayUsed},
	{name: "exim_relay_relay_host_port", option: "mailer.smarthost.port", conv: integer, when: relayUsed},
	{name: "matrix_mailer_relay_host_port", option: "mailer.smarthost.port", conv: integer, when: relayUsed},
	{name: "exim_relay_relay_auth", fn: relayAuth, when: relayUsed},
	{name: "matrix_mailer_relay_auth", fn: relayAuth, when: relayUsed},
	{name: "exim_relay_relay_auth_username", option: "mailer.smarthost.user", conv: str, when: relayAuthUsed},
	{name: "matrix_mailer_relay_auth_username", option: "mailer.smarthost.user", conv: str, when: relayAuthUsed},
	{name: "exim_relay_relay_auth_password", secret: "mailer-smarthost-password", when: relayAuthUsed},
	{name: "matrix_mailer_relay_auth_password", secret: "mailer-smarthost-password", when: relayAuthUsed},
	{name: "matrix_synapse_email_enabled", fn: emailEnabled},
	{name: "matrix_synapse_email_notif_from", fn: notifFrom},
	{name: "matrix_synapse_email_*", why: "matrixgen points Synapse at its own mail relay; to send through another SMTP server, set mailer.smarthost"},

	// TURN.
	{name: "matrix_coturn_enabled", option: "coturn.enabled", conv: boolean},
	{name: "matrix_coturn_turn_external_ip_address", option: "coturn.external_ip", conv: str, when: coturnOn},
	{name: "matrix_coturn_turn_static_auth_secret", secret: "coturn-shared-secret", when: coturnOn},

	// The host and the playbook itself.
	{name: "matrix_playbook_docker_installation_enabled", option: "host.install_docker", conv: boolean},
	{name: "matrix_playbook_migration_validated_version", why: "only the playbook reads it; there is nothing to carry over"},
	{name: "devture_systemd_docker_base_ipv6_enabled", option: "host.networks.ipv6", conv: boolean},
}

const whyForwarded = "matrixgen's Traefik trusts X-Forwarded-* headers from traefik.behind_proxy.trusted_ips (loopback by default); add your proxy's address there if it runs on another machine"
