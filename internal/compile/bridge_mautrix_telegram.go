package compile

import "github.com/matrixgen/matrixgen/internal/plan"

func init() { registerBridgeType("mautrix-telegram", addMautrixTelegram) }

// telegramEnvPrefix starts the variables that override the Telegram
// bridge's config fields.
const telegramEnvPrefix = "MATRIXGEN_CONFIG_"

// addMautrixTelegram: the Go Telegram bridge (bridgev2) needs the API ID
// and hash of a Telegram app, which the operator registers. Both are
// provided host secrets. The ID is a number, which a placeholder in the
// YAML file would turn into a string the bridge ignores, so both reach the
// bridge as files named by environment variables. The config holds API ID
// 0, which the bridge refuses: without the variables it stops, rather than
// start with the example's sample app.
func addMautrixTelegram(b *builder, br bridge) {
	apiID := b.providedSecret(br.name+"-api-id", "API ID of the Telegram app "+br.name+" uses (https://my.telegram.org/apps)", br.unit)
	apiHash := b.providedSecret(br.name+"-api-hash", "API hash of the Telegram app "+br.name+" uses (https://my.telegram.org/apps)", br.unit)
	addMautrixBridgev2(b, br, mautrixNetwork{
		description: "mautrix-telegram bridge",
		binary:      "/usr/bin/mautrix-telegram",
		port:        29317,
		network:     obj{"api_id": 0, "api_hash": ""},
		envPrefix:   telegramEnvPrefix,
		env: []plan.EnvVar{
			{Name: telegramEnvPrefix + "NETWORK__API_ID_FILE", Value: secretMount(string(apiID))},
			{Name: telegramEnvPrefix + "NETWORK__API_HASH_FILE", Value: secretMount(string(apiHash))},
		},
		secrets: []string{string(apiID), string(apiHash)},
	})
}
