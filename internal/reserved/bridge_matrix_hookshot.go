package reserved

// HookshotWebhooks is where hookshot's webhooks listener is public. It is
// MDAD's path, so that the webhook URLs rooms were given keep working on a
// host that moves over.
const HookshotWebhooks = "/hookshot/webhooks"

func init() { claimBridgePath("matrix-hookshot", HookshotWebhooks) }
