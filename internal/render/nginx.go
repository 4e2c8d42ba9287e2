package render

import (
	"errors"

	"github.com/matrixgen/matrixgen/internal/plan"
)

func renderNginx(p *plan.Plan, t Tree) error {
	return errors.New("the nginx renderer is not written yet")
}
