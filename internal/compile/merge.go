package compile

// deepMerge applies an operator's extra mapping over a generated one:
// mappings merge key by key, lists and scalars replace. It returns a new map
// and leaves both inputs alone.
func deepMerge(base, extra map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		if em, ok := v.(map[string]any); ok {
			if bm, ok := asMap(out[k]); ok {
				out[k] = deepMerge(bm, em)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}
