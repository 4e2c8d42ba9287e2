//go:build e2e

package boot

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The CA's certificate where Synapse reads it: /matrix/synapse/config on
// the host is /data in the container. install.sh removes only files that a
// bundle it applied had installed, so the operator's file stays.
const (
	federationCAOnHost      = "/matrix/synapse/config/federation-ca.pem"
	federationCAInContainer = "/data/federation-ca.pem"
)

// testFederation boots two bundles, alpha.test and beta.test, each on a
// host of its own, on one Docker network where each host answers to its
// server's names as DNS would, behind nginx with certificates from a test
// CA that both Synapses trust. A user of alpha creates a public room, a
// user of beta joins it by its alias, messages go both ways, and media
// uploaded on alpha is downloaded through beta.
func testFederation(t *testing.T) { federate(t, nil) }

// betaWorkers puts a federation reader and a federation sender on beta's
// side: inbound federation goes through the reader, outbound through the
// sender.
var betaWorkers = map[string]any{
	"synapse.workers.preset":            "little-federation-helper",
	"synapse.workers.federation_reader": 1,
}

// testFederationWorkers is testFederation with beta's federation traffic
// on workers; each worker's log must show that it carried its part.
func testFederationWorkers(t *testing.T) {
	beta := federate(t, betaWorkers)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for unit, pattern := range map[string]string{
		// alpha's transactions to beta (its message to bob) arrive at the reader...
		"matrix-synapse-worker-federation-reader-0": `PUT /_matrix/federation/v1/send/`,
		// ...and bob's message leaves by the sender, which alpha accepts.
		"matrix-synapse-worker-federation-sender-0": `TX \[alpha\.test\] .* got 200 response`,
	} {
		if out, _ := beta.host.Output(ctx, "journalctl", "--no-pager", "--output=cat", "--unit", unit, "--grep", pattern); strings.TrimSpace(out) == "" {
			t.Errorf("%s logged no line matching %q", unit, pattern)
		}
	}
	if out, _ := beta.host.Output(ctx, "journalctl", "--no-pager", "--output=cat", "--unit", "matrix-synapse", "--grep", `TX \[alpha\.test\]`); strings.TrimSpace(out) != "" {
		t.Errorf("beta's main process sent federation transactions itself, beside its federation sender:\n%s", out)
	}
}

// federate runs the federation scenario with beta's options changed, and
// returns beta for more checks.
func federate(t *testing.T, betaChanges map[string]any) *server {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	ca, err := NewCA("matrixgen federation test CA")
	if err != nil {
		t.Fatal(err)
	}
	network, subnet := federationNetwork(ctx, t)

	alpha := bootFederated(ctx, t, "alpha.test", network, subnet, ca, nil)
	beta := bootFederated(ctx, t, "beta.test", network, subnet, ca, betaChanges)
	registerUsers(ctx, t, alpha, "alice")
	registerUsers(ctx, t, beta, "bob")

	for _, pair := range [][2]*server{{alpha, beta}, {beta, alpha}} {
		checkDelegation(ctx, t, pair[0], ca)
		checkResolves(ctx, t, pair[1], pair[0])
	}
	if t.Failed() {
		t.FailNow()
	}

	out := runFederationClient(ctx, t, network, ca, alpha, beta,
		"federate", alpha.homeserver, alpha.domain, "alice", beta.homeserver, beta.domain, "bob", password)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var figures map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &figures); err != nil || figures["step"] != "figures" {
		t.Fatalf("the client's last line has no figures: %q", lines[len(lines)-1])
	}
	t.Logf("figure: federation: join of a room on alpha from beta by its alias: %.1f s", figures["join"])
	t.Logf("figure: federation: a message from alpha seen by sync on beta: %.1f s", figures["message_a_to_b"])
	t.Logf("figure: federation: a message from beta seen by sync on alpha: %.1f s", figures["message_b_to_a"])
	t.Logf("figure: federation: 2 MiB uploaded on alpha, downloaded through beta: %.1f s", figures["media_through_b"])
	return beta
}

// federationNetwork creates the network both hosts and the client share,
// and returns its name and subnet.
func federationNetwork(ctx context.Context, t *testing.T) (name, subnet string) {
	t.Helper()
	name = "matrixgen-e2e-federation-" + randomID()
	if err := docker(ctx, nil, "network", "create", name); err != nil {
		t.Fatal(err)
	}
	if !Keep() {
		// Registered first, so it runs after the hosts are removed.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = docker(ctx, nil, "network", "rm", name)
		})
	}
	out, err := dockerOutput(ctx, "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", name)
	if err != nil {
		t.Fatal(err)
	}
	subnet = strings.Fields(out)[0]
	t.Logf("federation network %s, subnet %s", name, subnet)
	return name, subnet
}

// federationSettings are what an operator of a closed federation changes
// in the quickstart, all through synapse.extra:
//   - federation_custom_ca_list: trust the CA that signed the other
//     servers' certificates (Synapse verifies them; the default trusts the
//     system's CAs only);
//   - ip_range_whitelist: the servers' network, which is private, and
//     Synapse's default ip_range_blacklist refuses private addresses for
//     federation too;
//   - trusted_key_servers: none; matrix.org, the default notary, is not
//     reachable, so each server fetches the other's keys from it.
func federationSettings(domain, subnet string) map[string]any {
	set := settings("quickstart", lifecycleProxy)
	set["domain"] = domain
	set["synapse.extra"] = map[string]any{
		"federation_custom_ca_list": []string{federationCAInContainer},
		"ip_range_whitelist":        []string{subnet},
		"trusted_key_servers":       []any{},
	}
	return set
}

// bootFederated boots the quickstart for domain on the shared network, with
// its names (the domain, the homeserver's and Element's) as the host's
// aliases there, and the CA's certificate where Synapse reads it.
func bootFederated(ctx context.Context, t *testing.T, domain, network, subnet string, ca *CA, changes map[string]any) *server {
	t.Helper()
	set := federationSettings(domain, subnet)
	maps.Copy(set, changes)
	b, err := Build(examplePath("quickstart"), set, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	aliases := append(b.Hostnames(), domain)
	s := freshHostOn(ctx, t, b, lifecycleProxy, network, aliases...)
	s.ca = ca
	if _, err := s.host.Run(ctx, strings.NewReader(string(ca.PEM)), "sh", "-c",
		"mkdir -p "+filepath.Dir(federationCAOnHost)+" && cat >"+federationCAOnHost+" && chmod 0644 "+federationCAOnHost); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	installFirst(ctx, t, s)
	s.waitForAPI(ctx, t)
	t.Logf("figure: %s: fresh install to the first client request answered: %.1f s", domain, time.Since(started).Seconds())
	return s
}

// checkDelegation asks s the way another server does, verifying its
// certificates against the CA: /.well-known/matrix/server on the base
// domain names the homeserver's name and federation port, where the
// federation API answers.
func checkDelegation(ctx context.Context, t *testing.T, s *server, ca *CA) {
	t.Helper()
	web := NewWebTrusting(s.host.Address, ca.Pool())
	r, err := web.Get(ctx, "https://"+s.domain+"/.well-known/matrix/server")
	if err != nil {
		t.Errorf("%s's well-known, verified against the CA: %v", s.domain, err)
		return
	}
	var delegation struct {
		Server string `json:"m.server"`
	}
	want := strings.TrimPrefix(s.homeserver, "https://") + ":8448"
	if err := r.JSON(&delegation); err != nil || delegation.Server != want {
		t.Errorf("https://%s/.well-known/matrix/server: %s, want m.server %q", s.domain, r, want)
		return
	}
	r, err = web.Get(ctx, "https://"+delegation.Server+"/_matrix/federation/v1/version")
	if err != nil || r.Status != 200 {
		t.Errorf("federation version at %s, verified against the CA: %v %v", delegation.Server, r, err)
	}
}

// checkResolves finds out whether from's Synapse, in a container of its
// host's Docker, resolves to's names to to's host: its Docker's DNS
// forwards what it does not know to the host's resolver, which is the
// shared network's.
func checkResolves(ctx context.Context, t *testing.T, from, to *server) {
	t.Helper()
	for _, name := range []string{to.domain, strings.TrimPrefix(to.homeserver, "https://")} {
		out, err := from.host.Output(ctx, "docker", "exec", "matrix-synapse", "python3", "-c",
			"import socket, sys; print(socket.gethostbyname(sys.argv[1]))", name)
		if got := strings.TrimSpace(out); err != nil || got != to.host.Address {
			t.Errorf("%s's Synapse resolves %s to %q (%v), want %s, %s's host", from.domain, name, got, err, to.host.Address, to.domain)
		}
	}
}

// runFederationClient runs client.py in the client container on the
// shared network, where the hosts' aliases resolve, trusting only the CA.
func runFederationClient(ctx context.Context, t *testing.T, network string, ca *CA, alpha, beta *server, args ...string) string {
	t.Helper()
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(caDir, "ca.pem"), ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	run := []string{"run", "--rm", "--network", network, "-v", testdata + ":/e2e:ro", "-v", caDir + ":/ca:ro",
		"--env", "MATRIX_CA=/ca/ca.pem", ClientImage, "python3", "/e2e/client.py"}
	started := time.Now()
	out, err := exec.CommandContext(ctx, "docker", append(run, args...)...).CombinedOutput()
	t.Logf("client %s (%.1f s):\n%s", args[0], time.Since(started).Seconds(), out)
	if err != nil {
		for _, s := range []*server{alpha, beta} {
			t.Logf("--- %s: %s\n--- journal of matrix-synapse\n%s", s.domain, failedUnits(ctx, s.host), s.host.Journal(ctx, "matrix-synapse"))
		}
		t.Fatalf("client %s failed: %v", args[0], err)
	}
	return string(out)
}
