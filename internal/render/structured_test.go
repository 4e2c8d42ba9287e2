package render

import (
	"math"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"
)

// yamlNode writes the common scalars itself; what it writes must be what
// the encoder would have written for them.
func TestYAMLScalarsAsEncoder(t *testing.T) {
	for _, v := range []any{true, false, 0, 1, -1, 8448, math.MaxInt, math.MinInt, int64(1) << 40, int64(math.MinInt64)} {
		var want yaml.Node
		if err := want.Encode(v); err != nil {
			t.Fatal(err)
		}
		n, err := yamlNode(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := yaml.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		wantText, err := yaml.Marshal(&want)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(wantText) || n.Tag != want.Tag {
			t.Errorf("%T %v: wrote %q (%s), the encoder %q (%s)", v, v, got, n.Tag, wantText, want.Tag)
		}
	}
}

func TestPlainSafe(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_./-]*$`)
	for _, s := range []string{"", "a", "A", "0", "_a", "a_b", "a.b/c-d", "a b", "a:b", "ä", "a\n", "Z9", "-a", "a-", "on", "x\x00"} {
		if got, want := plainSafe(s), re.MatchString(s); got != want {
			t.Errorf("plainSafe(%q) = %v, want %v", s, got, want)
		}
	}
}
