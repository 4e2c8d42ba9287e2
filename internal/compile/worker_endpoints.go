package compile

// The endpoints Synapse's worker documentation (docs/workers.md, v1.157.1)
// lists for each kind of worker, in its order. Each regex is the
// documentation's, verbatim; the three media entries are path prefixes
// there. Where a pattern lacks an anchor and so also matches unrelated
// requests (a state event whose key is "tags", a transaction ID starting
// with "receipt"), anchored holds the pattern the routes use instead; it
// matches every request of the documented endpoint.
var synapseEndpoints = []endpoint{
	// Sync requests
	{group: groupSync, regex: `^/_matrix/client/(r0|v3)/sync$`},
	{group: groupSync, regex: `^/_matrix/client/(api/v1|r0|v3)/events$`},
	{group: groupSync, regex: `^/_matrix/client/(api/v1|r0|v3)/initialSync$`},
	{group: groupSync, regex: `^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$`},

	// Federation requests
	{group: groupFederation, regex: `^/_matrix/federation/v1/version$`},
	{group: groupFederation, regex: `^/_matrix/federation/v1/event/`},
	{group: groupFederation, regex: `^/_matrix/federation/v1/state/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/state_ids/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/backfill/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/get_missing_events/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/publicRooms`},
	{group: groupFederation, regex: `^/_matrix/federation/v1/query/`},
	{group: groupFederation, regex: `^/_matrix/federation/v1/make_join/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/make_leave/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/(v1|v2)/send_join/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/(v1|v2)/send_leave/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/make_knock/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/send_knock/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/(v1|v2)/invite/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/event_auth/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/timestamp_to_event/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/exchange_third_party_invite/`, room: true},
	{group: groupFederation, regex: `^/_matrix/federation/v1/user/devices/`},
	{group: groupFederation, regex: `^/_matrix/key/v2/query`},
	{group: groupFederation, regex: `^/_matrix/federation/v1/hierarchy/`, room: true},

	// Inbound federation transaction request
	{group: groupFederationInbound, regex: `^/_matrix/federation/v1/send/`},

	// Client API requests
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/createRoom$`},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/publicRooms$`},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/joined_members$`, room: true},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/context/.*$`, room: true},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/members$`, room: true},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state$`, room: true},
	{group: groupClient, regex: `^/_matrix/client/v1/rooms/.*/hierarchy$`, room: true},
	{group: groupClient, regex: `^/_matrix/client/(v1|unstable)/rooms/.*/relations/`, room: true},
	{group: groupClient, regex: `^/_matrix/client/v1/rooms/.*/threads$`, room: true},
	{group: groupClient, regex: `^/_matrix/client/unstable/im.nheko.summary/summary/.*$`},
	{group: groupClient, regex: `^/_matrix/client/v1/room_summary/.*$`},
	{group: groupClient, regex: `^/_matrix/client/(r0|v3|unstable)/account/3pid$`},
	{group: groupClient, regex: `^/_matrix/client/(r0|v3|unstable)/account/whoami$`},
	{group: groupClient, regex: `^/_matrix/client/(r0|v3|unstable)/account/deactivate$`},
	{group: groupClient, regex: `^/_matrix/client/(r0|v3)/delete_devices$`},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`},
	{group: groupClient, regex: `^/_matrix/client/versions$`},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/voip/turnServer$`},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/event/`, room: true},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/joined_rooms$`},
	{group: groupClient, regex: `^/_matrix/client/v1/rooms/.*/timestamp_to_event$`, room: true},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable/.*)/rooms/.*/aliases`, room: true},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/search$`},
	{group: groupClient, regex: `^/_matrix/client/(r0|v3|unstable)/user/.*/filter(/|$)`},
	{group: groupClient, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/directory/room/.*$`},
	{group: groupClient, regex: `^/_matrix/client/(r0|v3|unstable)/capabilities$`},
	{group: groupClient, regex: `^/_matrix/client/(r0|v3|unstable)/notifications$`},

	// Admin API requests
	{group: groupAdmin, regex: `^/_synapse/admin/v1/rooms/[^/]+$`},

	// Encryption requests
	{group: groupEncryption, regex: `^/_matrix/client/(r0|v3|unstable)/keys/query$`},
	{group: groupEncryption, regex: `^/_matrix/client/(r0|v3|unstable)/keys/changes$`},
	{group: groupEncryption, regex: `^/_matrix/client/(r0|v3|unstable)/keys/claim$`},
	{group: groupEncryption, regex: `^/_matrix/client/(r0|v3|unstable)/room_keys/`},
	{group: groupEncryption, regex: `^/_matrix/client/(r0|v3|unstable)/keys/upload`},
	{group: groupEncryption, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/keys/device_signing/upload$`},
	{group: groupEncryption, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/keys/signatures/upload$`},

	// Registration/login requests
	{group: groupLogin, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/login$`},
	{group: groupLogin, regex: `^/_matrix/client/(r0|v3|unstable)/register$`},
	{group: groupLogin, regex: `^/_matrix/client/(r0|v3|unstable)/register/available$`},
	{group: groupLogin, regex: `^/_matrix/client/v1/register/m.login.registration_token/validity$`},
	{group: groupLogin, regex: `^/_matrix/client/(r0|v3|unstable)/password_policy$`},

	// Event sending requests
	{group: groupEventSending, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/redact`, room: true},
	{group: groupEventSending, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/send`, room: true},
	{group: groupEventSending, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state/`, room: true},
	{group: groupEventSending, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(join|invite|leave|ban|unban|kick)$`, room: true},
	{group: groupEventSending, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/join/`},
	{group: groupEventSending, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/knock/`},
	{group: groupEventSending, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/profile/`},

	// User directory search requests
	{group: groupUserDirectorySearch, regex: `^/_matrix/client/(r0|v3|unstable)/user_directory/search$`},

	// Unstable MSC4140 support
	{group: groupDelayedEvents, regex: `^/_matrix/client/unstable/org.matrix.msc4140/delayed_events(/.*/restart)?$`},

	// Push rules requests
	{group: groupPushRulesGet, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/pushrules/`},

	// Account data requests
	{group: groupAccountDataGet, regex: `^/_matrix/client/(r0|v3|unstable)/.*/tags`, anchored: `^/_matrix/client/(r0|v3|unstable)/user/[^/]+/rooms/[^/]+/tags(/|$)`},
	{group: groupAccountDataGet, regex: `^/_matrix/client/(r0|v3|unstable)/.*/account_data`},

	// Presence requests
	{group: groupPresenceGet, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/presence/`},

	// Admin API requests (GET)
	{group: groupAdminGet, regex: `^/_synapse/admin/v2/users/[^/]+$`},

	// Pagination requests
	{group: groupPagination, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/messages$`, room: true},

	// SSO requests (all providers)
	{group: groupSSO, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/login/sso/redirect`},
	{group: groupSSO, regex: `^/_synapse/client/pick_idp$`},
	{group: groupSSO, regex: `^/_synapse/client/pick_username`},
	{group: groupSSO, regex: `^/_synapse/client/new_user_consent$`},
	{group: groupSSO, regex: `^/_synapse/client/sso_register$`},

	// OpenID Connect requests
	{group: groupOIDC, regex: `^/_synapse/client/oidc/callback$`},

	// SAML requests
	{group: groupSAML, regex: `^/_synapse/client/saml2/authn_response$`},

	// CAS requests
	{group: groupCAS, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/login/cas/ticket$`},

	// typing stream writer
	{group: groupWriterTyping, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/typing`, anchored: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/[^/]+/typing/`},

	// to_device stream writer
	{group: groupWriterToDevice, regex: `^/_matrix/client/(r0|v3|unstable)/sendToDevice/`},

	// account_data stream writer
	{group: groupWriterAccountData, regex: `^/_matrix/client/(r0|v3|unstable)/.*/tags`, anchored: `^/_matrix/client/(r0|v3|unstable)/user/[^/]+/rooms/[^/]+/tags(/|$)`},
	{group: groupWriterAccountData, regex: `^/_matrix/client/(r0|v3|unstable)/.*/account_data`},

	// receipts stream writer
	{group: groupWriterReceipts, regex: `^/_matrix/client/(r0|v3|unstable)/rooms/.*/receipt`, anchored: `^/_matrix/client/(r0|v3|unstable)/rooms/[^/]+/receipt/`},
	{group: groupWriterReceipts, regex: `^/_matrix/client/(r0|v3|unstable)/rooms/.*/read_markers`, anchored: `^/_matrix/client/(r0|v3|unstable)/rooms/[^/]+/read_markers$`},

	// presence stream writer
	{group: groupWriterPresence, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/presence/`},

	// push_rules stream writer
	{group: groupWriterPushRules, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/pushrules/`},

	// device_lists stream writer
	{group: groupWriterDeviceLists, regex: `^/_matrix/client/(r0|v3)/delete_devices$`},
	{group: groupWriterDeviceLists, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`},
	{group: groupWriterDeviceLists, regex: `^/_matrix/client/(r0|v3|unstable)/keys/upload`},
	{group: groupWriterDeviceLists, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/keys/device_signing/upload$`},
	{group: groupWriterDeviceLists, regex: `^/_matrix/client/(api/v1|r0|v3|unstable)/keys/signatures/upload$`},

	// quarantined_media_changes stream writer
	{group: groupWriterQuarantinedMedia, regex: `^/_synapse/admin/v1/quarantine_media/.*$`},

	// Updating the User Directory
	{group: groupUserDirectoryWorker, regex: `^/_matrix/client/(r0|v3|unstable)/user_directory/search$`},

	// Media repository
	{group: groupMedia, regex: `^/_matrix/media/`, prefix: true},
	{group: groupMedia, regex: `^/_matrix/client/v1/media/`, prefix: true},
	{group: groupMedia, regex: `^/_matrix/federation/v1/media/`, prefix: true},
	{group: groupMedia, regex: `^/_synapse/admin/v1/purge_media_cache$`},
	{group: groupMedia, regex: `^/_synapse/admin/v1/room/.*/media.*$`},
	{group: groupMedia, regex: `^/_synapse/admin/v1/user/.*/media.*$`},
	{group: groupMedia, regex: `^/_synapse/admin/v1/media/.*$`},
	{group: groupMedia, regex: `^/_synapse/admin/v1/quarantine_media/.*$`},
	{group: groupMedia, regex: `^/_synapse/admin/v1/users/.*/media$`},
}
