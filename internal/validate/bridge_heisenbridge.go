package validate

import "github.com/matrixgen/matrixgen/internal/reserved"

// Heisenbridge serves IRC users the Matrix media they are linked to.
func init() {
	declareBridgeType("heisenbridge", bridgeTypeRule{typeRule: typeRule{publicPath: reserved.HeisenbridgeMedia}})
}
