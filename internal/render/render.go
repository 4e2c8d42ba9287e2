package render

import (
	"fmt"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// Render writes every file of the bundle in memory. It fails only on a
// value a format cannot carry, which validation should have refused.
func Render(p *plan.Plan) (Tree, error) {
	t := Tree{}
	steps := []func(*plan.Plan, Tree) error{renderFiles, renderUnits, renderProxy}
	for _, step := range steps {
		if err := step(p, t); err != nil {
			return nil, err
		}
	}
	script, err := installScript(p, t)
	if err != nil {
		return nil, err
	}
	if err := t.addBundleFile("install.sh", 0o755, script); err != nil {
		return nil, err
	}
	return t, t.addBundleFile("MANIFEST", 0o644, t.Manifest())
}

func renderFiles(p *plan.Plan, t Tree) error {
	for _, f := range p.Files {
		data, err := fileBytes(f)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		if err := t.add(hostPath(f.Path), f.Mode, data, f.Restarts...); err != nil {
			return err
		}
	}
	return nil
}

func fileBytes(f plan.File) ([]byte, error) {
	switch f.Format {
	case plan.YAML:
		return marshalYAML(f.Value)
	case plan.JSON:
		return marshalJSON(f.Value)
	}
	return f.Content, nil
}

func renderProxy(p *plan.Plan, t Tree) error {
	switch p.Proxy.Type {
	case "traefik":
		data, err := marshalYAML(traefikDynamic(p))
		if err != nil {
			return err
		}
		data = append([]byte(generatedHeader+"# Routes, highest priority first:\n"+routeTable(p)), data[len(generatedHeader):]...)
		return t.add(hostPath(p.Proxy.ConfigDir+"/matrixgen.yml"), 0o644, data)
	case "nginx":
		return renderNginx(p, t)
	case "caddy":
		return renderCaddy(p, t)
	case "apache":
		return renderApache(p, t)
	}
	return fmt.Errorf("no renderer for reverse proxy %q", p.Proxy.Type)
}
