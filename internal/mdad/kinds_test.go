package mdad

import (
	"testing"

	"github.com/matrixgen/matrixgen/internal/validate"
)

// TestBridgeKindsAreTypes: each kind a bridge's file registers writes a
// type the schema has, and no two kinds share an instance name.
func TestBridgeKindsAreTypes(t *testing.T) {
	types := map[string]bool{}
	for _, v := range validate.Variants() {
		if v.Path != "bridges" {
			continue
		}
		for _, typ := range v.Types {
			types[typ.Name] = true
		}
	}
	if len(bridgeKinds) == 0 {
		t.Fatal("no bridge kind registered")
	}
	for i, k := range bridgeKinds {
		if !types[k.typ] {
			t.Errorf("bridge kind %s writes type %q, which the schema does not have", k.name, k.typ)
		}
		if i > 0 && bridgeKinds[i-1].name >= k.name {
			t.Errorf("bridge kinds out of order: %s before %s", bridgeKinds[i-1].name, k.name)
		}
	}
}
