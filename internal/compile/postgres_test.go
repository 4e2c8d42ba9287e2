package compile

import (
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// TestPlanPostgres: the plan names the bundled server, its major version
// and its data directory for the maintenance and upgrade scripts, and
// names none when the databases are on an external server.
func TestPlanPostgres(t *testing.T) {
	p := compileYAML(t, bridgesBase+"postgres:\n  bundled:\n    major: 16\n")
	want := plan.Postgres{Unit: "matrix-postgres", Major: 16, DataDir: "/matrix/postgres/data"}
	if p.Postgres == nil || *p.Postgres != want {
		t.Errorf("Postgres = %+v, want %+v", p.Postgres, want)
	}
	svc, _ := planService(p, want.Unit)
	if svc.Image != "docker.io/library/postgres:16-alpine" {
		t.Errorf("image %s does not run major %d", svc.Image, want.Major)
	}
	external := compileYAML(t, bridgesBase+"postgres:\n  mode: external\n  external:\n    host: db.example.net\n")
	if external.Postgres != nil {
		t.Errorf("external server: Postgres = %+v, want nil", external.Postgres)
	}
}
