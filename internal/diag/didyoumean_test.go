package diag

import "testing"

func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		name       string
		candidates []string
		want       string
	}{
		{"presense", []string{"presence", "image"}, "presence"},
		{"synapes", []string{"synapse"}, "synapse"},
		{"matrixid", []string{"matrix_id", "role"}, "matrix_id"},
		{"max_upload_sise", []string{"max_upload_size_mb"}, ""}, // distance 3
		{"Domain", []string{"domain"}, "domain"},
		{"xyz", []string{"image", "port"}, ""},
		{"port", nil, ""},
		{"por", []string{"port", "pot"}, "port"}, // a tie goes to the first
	} {
		if got := DidYouMean(tc.name, tc.candidates); got != tc.want {
			t.Errorf("DidYouMean(%q, %q) = %q, want %q", tc.name, tc.candidates, got, tc.want)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"presence", "presense", 1}, {"synapse", "synapes", 2}, {"abc", "abc", 0},
	} {
		if got := EditDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
