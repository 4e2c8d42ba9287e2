package render

import (
	"errors"

	"github.com/matrixgen/matrixgen/internal/plan"
)

func renderCaddy(p *plan.Plan, t Tree) error {
	return errors.New("the caddy renderer is not written yet")
}
