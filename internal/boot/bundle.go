package boot

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/pipeline"
	"github.com/matrixgen/matrixgen/internal/plan"
	"go.yaml.in/yaml/v3"
)

// Bundle is a built example, ready to copy to a host.
type Bundle struct {
	Dir    string // out/
	Result *pipeline.Result
}

// Build builds the example config file with settings changed (dotted
// option paths, such as "reverse_proxy.type"), into dir/out, as
// `matrixgen build` does.
func Build(example string, settings map[string]any, dir string) (*Bundle, error) {
	data, err := os.ReadFile(example)
	if err != nil {
		return nil, err
	}
	if data, err = withSettings(data, settings); err != nil {
		return nil, fmt.Errorf("%s: %w", example, err)
	}
	res, problems := pipeline.Run(filepath.Base(example), data)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s with %v: %v", example, settings, problems)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "out")
	if err := bundle.Write(out, res.Tree); err != nil {
		return nil, err
	}
	return &Bundle{Dir: out, Result: res}, nil
}

// withSettings sets options in a YAML config, creating the mappings on
// their paths.
func withSettings(config []byte, settings map[string]any) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(config, &doc); err != nil {
		return nil, err
	}
	for path, value := range settings {
		m := doc
		keys := strings.Split(path, ".")
		for _, key := range keys[:len(keys)-1] {
			next, ok := m[key].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[key] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = value
	}
	return yaml.Marshal(doc)
}

// Images lists the image references the bundle's units run, sorted.
func (b *Bundle) Images() []string {
	seen := map[string]bool{}
	for _, s := range b.Result.Plan.Services {
		seen[s.Image] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// Hostnames lists every hostname the bundle's public routes serve, sorted.
func (b *Bundle) Hostnames() []string {
	seen := map[string]bool{}
	for _, r := range b.Result.Plan.Routes {
		if r.Host != "" && r.Entrypoint != plan.EntrypointInternal {
			seen[r.Host] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// MaxUploadBytes is Synapse's upload limit.
func (b *Bundle) MaxUploadBytes() int64 {
	return int64(b.Result.Config.Homeserver.MaxUploadSizeMB) * 1024 * 1024
}
