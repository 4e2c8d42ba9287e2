package validate

import (
	"fmt"
	"github.com/matrixgen/matrixgen/internal/diag"
	"os"
	"testing"
)

func TestZZ(t *testing.T) {
	for _, src := range []string{
		"domain: example.org\ntraefik:\n  acme_email: a@example.org\n",
		"domain: Example.org\nversion: 2\nsynapse:\n  max_upload_size_mb: 0\n  presense: true\n  registration: {mode: opne}\n  extra: {a: 1}\ntraefik: {acme_email: nope}\nhost: {uid: x}\n",
		"domain: example.org\ndomain: x.org\n",
		"traefik: {acme_email: a@b.org}\n",
		"well_known: {support: {contacts: [{role: m.role.admin, matrixid: '@a:b.org'}]}}\n",
		"domain: example.org\ntraefik: {acme_email: a@b.org}\nsynapse: {registration: {mode: open}}\npostgres: {mode: external}\n",
		"a: &x [1]\nb: *x\n",
		"domain: example.org\n\tx: 1\n",
	} {
		c, l := Load("t.yaml", []byte(src))
		fmt.Println("----")
		diag.Print(os.Stdout, l, "")
		if c != nil {
			fmt.Printf("%+v\n", *c)
		}
	}
}
