package reserved

// MaubotUI is where maubot serves its management UI, its API and its
// plugins' web endpoints.
const MaubotUI = "/_matrix/maubot"

func init() { claimBotPath("maubot", MaubotUI) }
