package compile

import (
	"maps"
	"slices"
	"testing"

	"github.com/matrixgen/matrixgen/internal/validate"
)

// TestTypesRegistered: every bridge and bot type of the schema has a
// component registered from its file, and every registered component a
// type of the schema, so a misspelt registration fails here rather than
// when a config first uses the type.
func TestTypesRegistered(t *testing.T) {
	registered := map[string][]string{
		"bridges": slices.Sorted(maps.Keys(bridgeTypes)),
		"bots":    slices.Sorted(maps.Keys(botTypes)),
	}
	checked := 0
	for _, v := range validate.Variants() {
		have, ok := registered[v.Path]
		if !ok {
			continue
		}
		checked++
		var schema []string
		for _, typ := range v.Types {
			schema = append(schema, typ.Name)
		}
		slices.Sort(schema)
		if !slices.Equal(schema, have) {
			t.Errorf("%s: the schema has the types %v, compile registers %v", v.Path, schema, have)
		}
	}
	if checked != len(registered) {
		t.Errorf("the schema's variant maps hold %d of bridges and bots", checked)
	}
}
