package render

import (
	"errors"

	"github.com/matrixgen/matrixgen/internal/plan"
)

func renderApache(p *plan.Plan, t Tree) error {
	return errors.New("the apache renderer is not written yet")
}
