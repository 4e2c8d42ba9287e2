package kubernetes

import (
	"bytes"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/matrixgen/matrixgen/internal/render"
)

// Change is what `kubectl apply -k` does to one object when a new output
// replaces an applied one.
type Change struct {
	Action string // "create", "configure" or "delete" (by hand: apply does not prune)
	Kind   string
	Name   string
}

func (c Change) String() string {
	if c.Action == "delete" {
		return fmt.Sprintf("leave %s %s behind: delete it by hand (kubectl apply does not prune)", c.Kind, c.Name)
	}
	return fmt.Sprintf("%s %s %s", c.Action, c.Kind, c.Name)
}

// Changes compares two outputs object by object, in path order.
func Changes(applied, next render.Tree) ([]Change, error) {
	var out []Change
	paths := render.Tree{}
	for p := range applied {
		paths[p] = render.Entry{}
	}
	for p := range next {
		paths[p] = render.Entry{}
	}
	for _, p := range paths.Paths() {
		if p == KustomizationFile || p == SecretsScript || p == render.ManifestFile {
			continue
		}
		was, inApplied := applied[p]
		now, inNext := next[p]
		var action string
		var data []byte
		switch {
		case !inApplied:
			action, data = "create", now.Data
		case !inNext:
			action, data = "delete", was.Data
		case !bytes.Equal(was.Data, now.Data):
			action, data = "configure", now.Data
		default:
			continue
		}
		var head struct {
			metav1.TypeMeta   `json:",inline"`
			metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(data, &head); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, Change{Action: action, Kind: head.Kind, Name: head.Name})
	}
	return out, nil
}
