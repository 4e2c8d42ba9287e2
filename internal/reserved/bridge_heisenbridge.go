package reserved

// HeisenbridgeMedia is where heisenbridge serves IRC users the Matrix
// media they are linked to.
const HeisenbridgeMedia = "/_heisenbridge/media"

func init() { claimBridgePath("heisenbridge", HeisenbridgeMedia) }
