// Package pipeline runs the stages in order: validate, compile, render. Each
// stage runs only when the one before it found no problem, and nothing here
// touches the disk: writing is the caller's last step.
package pipeline

import (
	"fmt"

	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/render/kubernetes"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// Result is what every stage produced.
type Result struct {
	Config *config.Config
	Plan   *plan.Plan
	Tree   render.Tree
	// Warnings are about the config: what works but should change.
	Warnings diag.List
}

// The targets a Plan is rendered for.
const (
	TargetHost       = "host"       // one host: systemd units, Docker, install.sh
	TargetKubernetes = "kubernetes" // manifests for kubectl apply -k
)

// Targets lists the targets, the default first.
var Targets = []string{TargetHost, TargetKubernetes}

// Run builds the host bundle for one config file's contents.
func Run(file string, data []byte) (*Result, diag.List) {
	return RunTarget(file, data, TargetHost)
}

// RunTarget builds the output of one target for one config file's contents.
func RunTarget(file string, data []byte, target string) (*Result, diag.List) {
	cfg, src, problems := validate.LoadSource(file, data)
	if len(problems) > 0 {
		return nil, problems
	}
	p, problems := compile.Compile(cfg)
	if len(problems) > 0 {
		// Compile knows options by path only; the user reads them by line.
		for i := range problems {
			problems[i] = src.Locate(problems[i])
		}
		return nil, append(problems, src.Warnings()...).Sorted()
	}
	renderers := map[string]func(*plan.Plan) (render.Tree, error){TargetHost: render.Render, TargetKubernetes: kubernetes.Render}
	renderTarget, ok := renderers[target]
	if !ok {
		return nil, diag.List{{Subject: diag.Range{File: file}, Summary: fmt.Sprintf("no target %q", target)}}
	}
	tree, err := renderTarget(p)
	if err != nil {
		// Validation restricts every value to what the formats can carry,
		// so a render error is a gap in validation: report it, don't panic.
		return nil, diag.List{{Subject: diag.Range{File: file}, Summary: fmt.Sprintf("cannot render the bundle: %v", err)}}
	}
	return &Result{Config: cfg, Plan: p, Tree: tree, Warnings: src.Warnings()}, nil
}
