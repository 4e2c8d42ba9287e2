//go:build e2e

package boot

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The secrets the playbook derives for vars.yml's generic key, computed
// apart from the importer, with Python, as Ansible's to_uuid does:
//
//	uuid.uuid5(uuid.UUID("361e6d51-faec-444a-9079-341386da8e2e"),
//	           hashlib.sha512(b"takeover-generic-key-3b9d1f:" + salt).hexdigest())
const (
	playbookSynapseDBPassword = "8458411c-068b-58fe-b6c4-c69b0ce55e34" // salt synapse.db
	playbookMacaroonSecret    = "eddaa8e8-a4ae-5af3-8c5f-66ebc40ed99b" // salt synapse.mac
	playbookTestdata          = "testdata/mdad-takeover"
)

// testMDADTakeover takes over a host the playbook set up, as
// docs/migrating-from-mdad.md tells the operator to: import-mdad with
// --secrets-dir, the secrets copied to /matrix/secrets, the playbook's
// network addresses put into the config, install.sh --no-start, the
// playbook's services stopped, install.sh. The users who talked before log
// in and see their messages and media, and the server keeps its signing
// key, its database and its users: nothing is created anew.
func testMDADTakeover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	work := t.TempDir()
	config, secrets := importPlaybookVars(ctx, t, work)

	set := settings("quickstart", "traefik")
	set["postgres.bundled.major"] = 17
	first, err := Build(config, set, filepath.Join(work, "first"))
	if err != nil {
		t.Fatal(err)
	}
	s := freshHost(ctx, t, first, "traefik")
	layOutPlaybookHost(ctx, t, s)
	registerOnPlaybookHost(ctx, t, s, "alice", "bob")
	direct := "http://" + s.host.Address + ":8008"
	conversation := runConversation(ctx, t, s, direct)
	before := serverIdentity(ctx, t, s)

	// What the operator reads on the host and puts into the config.
	if major := strings.TrimSpace(hostOutput(ctx, t, s, "cat", "/matrix/postgres/data/PG_VERSION")); major != "17" {
		t.Fatalf("the playbook's data is PostgreSQL %s, the bundle's 17", major)
	}
	subnet, gateway, _ := strings.Cut(strings.TrimSpace(hostOutput(ctx, t, s, "docker", "network", "inspect", "matrix",
		"--format", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}")), " ")
	set["host.networks.addresses.homeserver"] = map[string]any{"subnet": subnet, "gateway": gateway}
	takeover, err := Build(config, set, filepath.Join(work, "takeover"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.host.CopyIn(ctx, takeover.Dir, bundleOnHost); err != nil {
		t.Fatal(err)
	}
	s.bundle = takeover
	if err := s.host.CopyIn(ctx, secrets, "/matrix/secrets"); err != nil {
		t.Fatal(err)
	}
	runOnHost(ctx, t, s, "chmod", "0700", "/matrix/secrets")

	runOnHost(ctx, t, s, bundleOnHost+"/install.sh", "--no-start")
	runOnHost(ctx, t, s, "systemctl", "stop", "matrix-*.service")
	runOnHost(ctx, t, s, bundleOnHost+"/install.sh")
	s.waitForAPI(ctx, t)

	verifyKept(ctx, t, s, "alice", conversation)
	verifyKept(ctx, t, s, "bob", conversation)
	if after := serverIdentity(ctx, t, s); after != before {
		t.Errorf("the server changed under the bundle:\nbefore %s\nafter  %s", before, after)
	}
	for name, want := range map[string]string{
		"synapse-db-password":     playbookSynapseDBPassword,
		"synapse-macaroon-secret": playbookMacaroonSecret,
	} {
		if got := strings.TrimSpace(hostOutput(ctx, t, s, "cat", "/matrix/secrets/"+name)); got != want {
			t.Errorf("/matrix/secrets/%s holds %q, the playbook's value is %q", name, got, want)
		}
	}
}

// importPlaybookVars runs import-mdad on the playbook's vars.yml as the
// operator does, and returns the config and the secrets directory.
func importPlaybookVars(ctx context.Context, t *testing.T, dir string) (config, secrets string) {
	t.Helper()
	config, secrets = filepath.Join(dir, "matrix.yaml"), filepath.Join(dir, "secrets")
	cmd := exec.CommandContext(ctx, "go", "run", "../../cmd/matrixgen", "import-mdad",
		filepath.Join(playbookTestdata, "vars.yml"), "-o", config, "--secrets-dir", secrets)
	out, err := cmd.CombinedOutput()
	t.Logf("import-mdad:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(secrets, "synapse-db-password")); err != nil {
		t.Fatalf("import-mdad wrote no database password: %v", err)
	}
	return config, secrets
}

// layOutPlaybookHost sets the host up as the playbook leaves it
// (playbook-host.sh), with the images the bundle runs.
func layOutPlaybookHost(ctx context.Context, t *testing.T, s *server) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join(playbookTestdata, "playbook-host.sh"))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	out, err := s.host.Run(ctx, strings.NewReader(string(script)), "env",
		"DOMAIN="+s.domain,
		"POSTGRES_IMAGE="+postgresImage(s.bundle),
		"SYNAPSE_IMAGE="+s.bundle.Result.Config.Synapse.Image,
		"SUPERUSER_PASSWORD=takeover-superuser-5e2a7c",
		"DB_PASSWORD="+playbookSynapseDBPassword,
		"MACAROON_SECRET="+playbookMacaroonSecret,
		"REGISTRATION_SECRET=takeover-registration-8f4c",
		"sh", "-s")
	t.Logf("the playbook's layout (%.1f s):\n%s", time.Since(started).Seconds(), out)
	if err != nil {
		t.Fatalf("%v\n%s", err, s.host.Journal(ctx, "matrix-synapse"))
	}
}

// registerOnPlaybookHost registers users with Synapse's own tool, as the
// playbook's user registration does.
func registerOnPlaybookHost(ctx context.Context, t *testing.T, s *server, users ...string) {
	t.Helper()
	for _, user := range users {
		runOnHost(ctx, t, s, "docker", "exec", "matrix-synapse", "register_new_matrix_user",
			"--user", user, "--password", password, "--no-admin",
			"--shared-secret", "takeover-registration-8f4c", "http://127.0.0.1:8008")
	}
}

// runConversation is converse against another address of the homeserver.
func runConversation(ctx context.Context, t *testing.T, s *server, url string) kept {
	t.Helper()
	saved := s.homeserver
	defer func() { s.homeserver = saved }()
	s.homeserver = url
	return converse(ctx, t, s, "alice", "bob")
}

// serverIdentity is what a takeover must keep: the signing key, the
// database (its object ID changes if it is made anew) and its users.
func serverIdentity(ctx context.Context, t *testing.T, s *server) string {
	t.Helper()
	key := hostOutput(ctx, t, s, "sha256sum", "/matrix/synapse/config/"+s.domain+".signing.key")
	db := hostOutput(ctx, t, s, "docker", "exec", "matrix-postgres", "psql", "-h", "127.0.0.1", "-U", "matrix", "-d", "synapse",
		"-At", "-c", "SELECT (SELECT oid FROM pg_database WHERE datname = 'synapse') || ' ' || string_agg(name, ',' ORDER BY name) FROM users")
	return strings.Fields(key)[0] + " " + strings.TrimSpace(db)
}

func hostOutput(ctx context.Context, t *testing.T, s *server, args ...string) string {
	t.Helper()
	out, err := s.host.Output(ctx, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
