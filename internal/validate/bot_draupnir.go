package validate

// The keys of Draupnir's config that connect it to the homeserver and its
// data, or that the unit relies on (its health check).
func init() {
	declareBotType("draupnir", typeRule{wiring: map[string]string{
		"homeserverUrl": "", "rawHomeserverUrl": "", "accessToken": "", "pantalaimon": "", "dataPath": "",
		"managementRoom": "management_room", "initialManager": "management_room",
		"logLevel": "log_level", "health.healthz": "",
	}})
}
