package validate

// Heisenbridge serves IRC users the Matrix media they are linked to.
func init() {
	declareBridgeType("heisenbridge", bridgeTypeRule{typeRule: typeRule{publicPath: "/_heisenbridge/media"}})
}
