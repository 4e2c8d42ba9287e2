package compile

import (
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// The state compressor reaches Synapse's database as Synapse does, on the
// bundled server or an external one, with the password only as a
// placeholder install.sh fills.
func TestStateCompressorConnection(t *testing.T) {
	for _, c := range []struct {
		name, extra, want string
		after             string
	}{
		{"bundled", "", "host=matrix-postgres port=5432 dbname=synapse user=synapse password=__MATRIXGEN_SECRET_synapse-db-password__ sslmode=disable", "matrix-postgres.service"},
		{"external", "postgres:\n  mode: external\n  external: {host: db.example.org, database: matrix, user: hs}\n",
			"host=db.example.org port=5432 dbname=matrix user=hs password=__MATRIXGEN_SECRET_synapse-db-password__ sslmode=require", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := compileYAML(t, bridgesBase+c.extra+"maintenance:\n  state_compressor: {enabled: true, chunk_size: 7, chunks: 9}\n")
			i := slices.IndexFunc(p.Jobs, func(j plan.Job) bool { return j.Unit == stateCompressorUnit })
			if i < 0 {
				t.Fatal("no state compressor job")
			}
			job := p.Jobs[i]
			if !slices.Equal(job.Command, []string{"/matrix/bin/compress-state.sh"}) {
				t.Errorf("the job runs %q, want bin/compress-state.sh", job.Command)
			}
			sc := p.StateCompressor
			if sc == nil || sc.Network != "matrix" || sc.EnvFile != "/matrix/synapse-auto-compressor/env" || sc.ChunkSize != 7 || sc.Chunks != 9 ||
				!strings.HasPrefix(sc.Image, "registry.gitlab.com/etke.cc/rust-synapse-compress-state:") {
				t.Errorf("state compressor %+v", sc)
			}
			if c.after != "" && !slices.Contains(job.After, c.after) {
				t.Errorf("After=%q, want %s in it", job.After, c.after)
			}
			f, ok := planFile(p, "/matrix/synapse-auto-compressor/env")
			if !ok {
				t.Fatal("no environment file")
			}
			if got := string(f.Content); !strings.Contains(got, "POSTGRES_LOCATION="+c.want+"\n") {
				t.Errorf("environment file:\n%s\nwant POSTGRES_LOCATION=%s", got, c.want)
			}
			if f.Mode != 0o600 || !slices.Equal(f.Secrets, []string{"synapse-db-password"}) {
				t.Errorf("environment file mode %o, secrets %q; want 0600 with synapse-db-password", f.Mode, f.Secrets)
			}
			for _, s := range p.Secrets {
				if s.Name == "synapse-db-password" && !slices.Contains(s.Readers, stateCompressorUnit) {
					t.Errorf("synapse-db-password readers %q lack %s", s.Readers, stateCompressorUnit)
				}
			}
		})
	}
}
