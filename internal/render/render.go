package render

import (
	"fmt"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// Render writes every file of the bundle in memory. It fails only on a
// value a format cannot carry, which validation should have refused.
func Render(p *plan.Plan) (Tree, error) {
	t := Tree{}
	steps := []func(*plan.Plan, Tree) error{renderFiles, renderUnits, renderJobs, renderProxy}
	for _, step := range steps {
		if err := step(p, t); err != nil {
			return nil, err
		}
	}
	if err := renderScripts(p, t); err != nil {
		return nil, err
	}
	return t, t.addBundleFile(ManifestFile, 0o644, t.Manifest())
}

// The tables install.sh reads, at the top of the bundle. A host keeps the
// bundle it applied last, so a later install.sh reads these tables as an
// earlier matrixgen wrote them: their columns only ever grow at the end.
const (
	ManifestFile = "MANIFEST"
	FilesTable   = "FILES" // mode owner host-path secrets|-
	UnitsTable   = "UNITS" // unit image requires|- restart-group|- stage
)

// renderScripts adds the host runner: its tables and scripts. It runs after
// every other renderer, since FILES lists their files.
func renderScripts(p *plan.Plan, t Tree) error {
	if err := hostScripts(p, t); err != nil {
		return err
	}
	if err := t.addBundleFile(FilesTable, 0o644, filesTable(p, t)); err != nil {
		return err
	}
	if err := t.addBundleFile(UnitsTable, 0o644, unitsTable(p)); err != nil {
		return err
	}
	script, err := installScript(p)
	if err != nil {
		return err
	}
	if err := t.addBundleFile("install.sh", 0o755, script); err != nil {
		return err
	}
	return bundleScripts(p, t)
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

// FileBytes is a file's content as the bundle holds it, placeholders and
// all, for renderers of other targets.
func FileBytes(f plan.File) ([]byte, error) { return fileBytes(f) }

func fileBytes(f plan.File) ([]byte, error) {
	switch f.Format {
	case plan.YAML:
		return marshalYAML(f.Value)
	case plan.JSON:
		return marshalJSON(f.Value)
	case plan.TOML:
		return marshalTOML(f.Value)
	}
	return f.Content, nil
}

func renderProxy(p *plan.Plan, t Tree) error {
	if err := checkRouteSettings(p, routeSettingUses[p.Proxy.Type]); err != nil {
		return err
	}
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
