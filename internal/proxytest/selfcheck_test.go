package proxytest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
	"github.com/matrixgen/matrixgen/internal/render"
)

// These tests run the bundle's bin/self-check.sh against each real
// webserver in front of stub backends, as it runs on a host: requests to
// the public hostnames on the proxy's ports with curl --resolve, the
// certificates read with openssl. systemctl and df are shims whose answers
// each case sets, and the backup's record is a file under --root. Each
// case breaks one thing and requires the script to fail exactly the checks
// that see it, and only those.

const (
	selfCheckHS      = "matrix.example.org"
	selfCheckElement = "element.example.org"
	// selfCheckCertDays is how long the test's certificates for nginx and
	// Apache are valid: less than the script's default of 14 days.
	selfCheckCertDays = 10
)

func selfCheckConfig(proxy string) string {
	return fmt.Sprintf(`domain: example.org
reverse_proxy: {type: %s}
element: {enabled: true}
well_known: {serve_base_domain: false}
backup: {enabled: true}
`, proxy)
}

// selfCheckRun is one proxy started for the self-check and the script
// generated for it.
type selfCheckRun struct {
	proxy  string
	setup  *proxytest.Setup
	script string // the generated self-check.sh, written out
	caFile string // trusts the proxy's certificates
	// okDays is a --cert-days the proxy's certificates pass.
	okDays int
	plan   *plan.Plan // as the script was generated from, before any tweak
	root   string     // --root: the host's files
	shims  string     // the directory of the systemctl and df shims, and their state
}

func TestSelfCheck(t *testing.T) {
	consumers.Require(t, "curl", "curl")
	consumers.Require(t, "openssl", "openssl")
	for _, proxy := range []string{"nginx", "caddy", "apache"} {
		t.Run(proxy, func(t *testing.T) {
			t.Parallel()
			r := startSelfCheck(t, proxy, nil)
			r.checkHealthy(t)
			r.checkUnitsDown(t)
			r.checkBackendFailures(t)
			r.checkCertificateDays(t)
			r.checkDiskFull(t)
			r.checkBackupAge(t)

			// The proxy's own configuration without the well-known
			// files' headers: the server file without CORS, the client
			// file without its content type.
			r = startSelfCheck(t, proxy, splitWellKnown)
			r.expect(t, "well-known headers missing", []string{"--cert-days", strconv.Itoa(r.okDays)}, map[string]string{
				"route well-known server on " + selfCheckHS: "Access-Control-Allow-Origin ''",
				"route well-known client on " + selfCheckHS: "Content-Type 'application/octet-stream'",
			})
		})
	}
}

// splitWellKnown replaces the route of the well-known files with one for
// each file, each without one of the headers browsers need.
func splitWellKnown(p *plan.Plan) {
	routes := slices.Clone(p.Routes)
	for i, r := range routes {
		if r.Host != selfCheckHS || r.PathPrefix != "/.well-known/matrix" {
			continue
		}
		server, client := r, r
		server.Name, server.PathPrefix = "well-known-server", "/.well-known/matrix/server"
		server.Settings.CORS = false
		client.Name, client.PathPrefix = "well-known-client", "/.well-known/matrix/client"
		client.Settings.Headers = nil
		server.Priority, client.Priority = r.Priority+10, r.Priority+10
		routes = slices.Concat(routes[:i], []plan.Route{server, client}, routes[i+1:])
		p.Routes = routes
		return
	}
	panic("no well-known route on " + selfCheckHS)
}

// startSelfCheck starts proxy in front of stubs that answer the
// self-check's requests as the real backends do, with tweak applied to
// the proxy's plan only: the script is generated from the plan as it was.
func startSelfCheck(t *testing.T, proxy string, tweak func(*plan.Plan)) *selfCheckRun {
	t.Helper()
	r := &selfCheckRun{proxy: proxy, root: t.TempDir(), shims: t.TempDir()}
	keep := func(p *plan.Plan) {
		copied := *p // tweak replaces the slices it changes
		r.plan = &copied
		if tweak != nil {
			tweak(p)
		}
	}
	switch proxy {
	case "caddy":
		c := startCaddy(t, caddyCase{config: selfCheckConfig(proxy), tweak: keep})
		r.setup = c.setup
		// Caddy's own CA, whose certificates last 12 hours.
		r.caFile = filepath.Join(c.dir, "data", "caddy", "pki", "authorities", "local", "root.crt")
		r.okDays = 0
	default:
		setup := proxytest.Compile(t, selfCheckConfig(proxy))
		r.setup = setup
		r.caFile = selfCheckCertificates(t, setup.Plan)
		r.okDays = selfCheckCertDays - 3
		keep(setup.Plan)
		if proxy == "nginx" {
			startNginx(t, nginxBinary(t), setup, nginxCase{name: "self-check", config: selfCheckConfig(proxy), tls: true})
		} else {
			startApache(t, setup)
		}
	}
	r.serveDocuments(t)
	r.writeScript(t)
	r.writeShims(t)
	r.recordBackup(t, time.Now().Add(-2*time.Hour))
	return r
}

// selfCheckCertificates writes certificates that a CA of the test's own
// signed for every hostname of the plan's routes, valid for
// selfCheckCertDays, and returns the CA's certificate.
func selfCheckCertificates(t *testing.T, p *plan.Plan) string {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "self-check test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, "CERTIFICATE", caDER)
	seen := map[string]bool{}
	for i, r := range p.Routes {
		if r.Host == "" || seen[r.Host] {
			continue
		}
		seen[r.Host] = true
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		leaf := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: r.Host}, DNSNames: []string{r.Host},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(selfCheckCertDays * 24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(dir, r.Host)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(sub, "fullchain.pem"), "CERTIFICATE", der)
		writePEM(t, filepath.Join(sub, "privkey.pem"), "EC PRIVATE KEY", keyDER)
	}
	p.Proxy.CertificateDir = dir
	return caFile
}

func writePEM(t *testing.T, file, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// selfCheckDocuments are what the real backends answer to the script's
// requests. The static file server types the well-known files by their
// extension, which they lack: the proxy must set the content type.
var selfCheckDocuments = map[string]struct{ contentType, body string }{
	"/.well-known/matrix/server":     {"application/octet-stream", `{"m.server": "matrix.example.org:8448"}`},
	"/.well-known/matrix/client":     {"application/octet-stream", `{"m.homeserver": {"base_url": "https://matrix.example.org"}}`},
	"/_matrix/client/versions":       {"application/json", `{"versions": ["v1.11"]}`},
	"/_matrix/federation/v1/version": {"application/json", `{"server": {"name": "Synapse", "version": "1.0"}}`},
	"/config.json":                   {"application/json", `{"default_server_config": {}}`},
	"/.well-known/matrix/support":    {"application/octet-stream", `{"contacts": []}`},
}

// serveDocuments has the stub behind each probe's route answer as its
// backend does.
func (r *selfCheckRun) serveDocuments(t *testing.T) {
	t.Helper()
	if len(r.plan.Probes) == 0 {
		t.Fatal("the plan has no probes")
	}
	for _, pr := range r.plan.Probes {
		doc, ok := selfCheckDocuments[pr.Path]
		if !ok {
			t.Fatalf("the test has no document for %s", pr.Path)
		}
		r.stub(t, pr).Serve(pr.Path, doc.contentType, []byte(doc.body))
	}
}

// stub is the stub behind the route the proxy takes the probe's request
// by: the matching route of its host and entrypoint with the highest
// priority.
func (r *selfCheckRun) stub(t *testing.T, pr plan.Probe) *proxytest.Stub {
	t.Helper()
	var best *plan.Route
	for i, route := range r.plan.Routes {
		if route.Host != pr.Host || route.Entrypoint != pr.Entrypoint {
			continue
		}
		m := route.Match()
		matches := strings.HasPrefix(pr.Path, m.Value)
		if m.Regex {
			matches = regexp.MustCompile(m.Value).MatchString(pr.Path)
		}
		if matches && (best == nil || route.Priority > best.Priority) {
			best = &r.plan.Routes[i]
		}
	}
	if best == nil {
		t.Fatalf("no route takes %s%s", pr.Host, pr.Path)
	}
	s := r.setup.Stubs[fmt.Sprintf("%s:%d", best.Service, best.Port)]
	if s == nil {
		t.Fatalf("no stub for %s:%d", best.Service, best.Port)
	}
	return s
}

func (r *selfCheckRun) probe(t *testing.T, name string) plan.Probe {
	t.Helper()
	for _, pr := range r.plan.Probes {
		if pr.Name == name {
			return pr
		}
	}
	t.Fatalf("no probe %q", name)
	return plan.Probe{}
}

func (r *selfCheckRun) writeScript(t *testing.T) {
	t.Helper()
	tree, err := render.Render(r.plan)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	rel := path.Join(strings.TrimPrefix(r.plan.Host.DataDir, "/"), "bin", "self-check.sh")
	e, ok := tree[rel]
	if !ok {
		t.Fatalf("the bundle has no %s", rel)
	}
	r.script = filepath.Join(t.TempDir(), "self-check.sh")
	if err := os.WriteFile(r.script, e.Data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// The shims answer as systemd and df do, from files in their directory:
// state.UNIT holds a unit's state (active when missing), and df.full
// names the one path whose file system is nearly full.
const (
	systemctlShim = `#!/bin/sh
# systemctl is-active UNIT | systemctl is-failed --quiet UNIT
dir=$(dirname "$0")
verb=$1
shift
[ "$1" = --quiet ] && shift
state=active
[ -f "$dir/state.$1" ] && state=$(cat "$dir/state.$1")
case $verb in
is-active) echo "$state"; [ "$state" = active ] ;;
is-failed) [ "$state" = failed ] ;;
*) echo "systemctl shim: $verb" >&2; exit 2 ;;
esac
`
	dfShim = `#!/bin/sh
# df -P PATH, in 1024-byte blocks: half free, or 3% where df.full says.
dir=$(dirname "$0")
[ "$1" = -P ] || { echo "df shim: $*" >&2; exit 2; }
echo "Filesystem 1024-blocks Used Available Capacity Mounted on"
if [ -f "$dir/df.full" ] && [ "$2" = "$(cat "$dir/df.full")" ]; then
	echo "/dev/vdb 104857600 101711872 3145728 97% /srv"
else
	echo "/dev/vda 104857600 52428800 52428800 50% /"
fi
`
)

func (r *selfCheckRun) writeShims(t *testing.T) {
	t.Helper()
	for name, body := range map[string]string{"systemctl": systemctlShim, "df": dfShim} {
		if err := os.WriteFile(filepath.Join(r.shims, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *selfCheckRun) setShim(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.shims, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (r *selfCheckRun) clearShim(t *testing.T, file string) {
	t.Helper()
	if err := os.Remove(filepath.Join(r.shims, file)); err != nil {
		t.Fatal(err)
	}
}

// recordBackup writes the record of a backup that succeeded at when, as
// scheduled-backup.sh does.
func (r *selfCheckRun) recordBackup(t *testing.T, when time.Time) {
	t.Helper()
	stamp := filepath.Join(r.root, filepath.FromSlash(r.plan.Backup.StampFile))
	if err := os.MkdirAll(filepath.Dir(stamp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stamp, []byte(strconv.FormatInt(when.Unix(), 10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkLine is one line of the script's report.
type checkLine struct{ status, detail string }

// run runs the script with args and returns its report by check name,
// the check names in order, and its exit status.
func (r *selfCheckRun) run(t *testing.T, args ...string) (map[string]checkLine, []string, int, string) {
	t.Helper()
	args = append([]string{r.script, "--ca-file", r.caFile, "--root", r.root}, args...)
	cmd := exec.Command("sh", args...)
	cmd.Env = append(os.Environ(), "PATH="+r.shims+":"+os.Getenv("PATH"), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("self-check.sh: %v", err)
	}
	report := map[string]checkLine{}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		status, rest, _ := strings.Cut(line, " ")
		if status != "ok" && status != "FAIL" {
			continue // the summary
		}
		name, detail, _ := strings.Cut(strings.TrimSpace(rest), ": ")
		report[name] = checkLine{status, detail}
		names = append(names, name)
	}
	return report, names, code, string(out)
}

// wantChecks are the checks the script must make for this plan, named
// from the plan, not from the script.
func (r *selfCheckRun) wantChecks() []string {
	var out []string
	for _, s := range r.plan.Services {
		out = append(out, "unit "+s.Unit+".service")
	}
	out = append(out, "unit matrix-backup.timer")
	for _, name := range []string{
		"well-known client on " + selfCheckHS, "well-known server on " + selfCheckHS,
		"Element's config.json", "client API versions on " + selfCheckHS, "federation API version on " + selfCheckHS,
	} {
		out = append(out, "route "+name)
	}
	for _, e := range r.plan.Entrypoints {
		if e.HostPort == 0 {
			continue
		}
		for _, host := range []string{selfCheckHS, selfCheckElement} {
			if host == selfCheckHS || e.Name == plan.EntrypointClient {
				out = append(out, fmt.Sprintf("certificate %s:%d", host, e.HostPort))
			}
		}
	}
	out = append(out, "disk "+r.plan.Host.DataDir, "disk "+r.plan.Homeserver.MediaStore, "disk "+r.plan.Backup.Directory, "backup")
	return out
}

// expect runs the script and requires every check of wantChecks, each
// ok except those of fail, which must fail with a detail holding the text
// given; and the exit status to say whether any failed.
func (r *selfCheckRun) expect(t *testing.T, what string, args []string, fail map[string]string) {
	t.Helper()
	start := time.Now()
	report, names, code, out := r.run(t, args...)
	t.Logf("%s: %d checks in %s", what, len(names), time.Since(start).Round(time.Millisecond))
	wrong := false
	for _, name := range r.wantChecks() {
		line, ok := report[name]
		want, failing := fail[name]
		switch {
		case !ok:
			t.Errorf("%s: no check %q", what, name)
			wrong = true
		case failing && (line.status != "FAIL" || !strings.Contains(line.detail, want)):
			t.Errorf("%s: %s: %s %s; want FAIL with %q", what, name, line.status, line.detail, want)
			wrong = true
		case !failing && line.status != "ok":
			t.Errorf("%s: %s: %s %s; want ok", what, name, line.status, line.detail)
			wrong = true
		}
	}
	for name := range fail {
		if _, ok := report[name]; !ok {
			t.Errorf("%s: no check %q", what, name)
		}
	}
	if len(names) != len(report) {
		t.Errorf("%s: a check is reported twice", what)
		wrong = true
	}
	if wantCode := map[bool]int{true: 1, false: 0}[len(fail) > 0]; code != wantCode {
		t.Errorf("%s: exit status %d, want %d", what, code, wantCode)
		wrong = true
	}
	if wrong || testing.Verbose() {
		t.Logf("%s: self-check.sh said:\n%s", what, out)
	}
}

func (r *selfCheckRun) okArgs() []string { return []string{"--cert-days", strconv.Itoa(r.okDays)} }

func (r *selfCheckRun) checkHealthy(t *testing.T) {
	r.expect(t, "healthy", r.okArgs(), nil)
}

func (r *selfCheckRun) checkUnitsDown(t *testing.T) {
	r.setShim(t, "state.matrix-synapse.service", "failed")
	r.expect(t, "Synapse down", r.okArgs(), map[string]string{"unit matrix-synapse.service": "failed"})
	r.clearShim(t, "state.matrix-synapse.service")

	r.setShim(t, "state.matrix-backup.service", "failed")
	r.expect(t, "backup run failed", r.okArgs(), map[string]string{"unit matrix-backup.timer": "last run of matrix-backup.service failed"})
	r.clearShim(t, "state.matrix-backup.service")

	r.setShim(t, "state.matrix-backup.timer", "inactive")
	r.expect(t, "backup timer stopped", r.okArgs(), map[string]string{"unit matrix-backup.timer": "inactive"})
	r.clearShim(t, "state.matrix-backup.timer")
}

// downStatus is what the proxy answers when its backend refuses the
// connection: Apache's mod_proxy says 503, the others 502.
func (r *selfCheckRun) downStatus() string {
	if r.proxy == "apache" {
		return ": 503, want 200"
	}
	return ": 502, want 200"
}

func (r *selfCheckRun) checkBackendFailures(t *testing.T) {
	element := r.stub(t, r.probe(t, "Element's config.json"))
	element.Stop()
	r.expect(t, "Element down", r.okArgs(), map[string]string{"route Element's config.json": r.downStatus()})
	element.Restart(t)

	element.ServeStatus("/config.json", http.StatusNotFound, "text/html", []byte("<h1>not found</h1>"))
	r.expect(t, "Element without config.json", r.okArgs(), map[string]string{"route Element's config.json": ": 404, want 200"})
	doc := selfCheckDocuments["/config.json"]
	element.Serve("/config.json", doc.contentType, []byte(doc.body))

	versions := r.probe(t, "client API versions on "+selfCheckHS)
	synapse := r.stub(t, versions)
	synapse.Serve(versions.Path, "application/json", []byte(`{"errcode": "M_UNRECOGNIZED"}`))
	r.expect(t, "versions without versions", r.okArgs(), map[string]string{"route client API versions on " + selfCheckHS: `holds no "versions"`})
	doc = selfCheckDocuments[versions.Path]
	synapse.Serve(versions.Path, doc.contentType, []byte(doc.body))

	federation := r.probe(t, "federation API version on "+selfCheckHS)
	federationStub := r.stub(t, federation)
	federationStub.Stop()
	r.expect(t, "federation listener down", r.okArgs(), map[string]string{"route federation API version on " + selfCheckHS: r.downStatus()})
	federationStub.Restart(t)
}

func (r *selfCheckRun) checkCertificateDays(t *testing.T) {
	fail := map[string]string{}
	for _, name := range r.wantChecks() {
		if strings.HasPrefix(name, "certificate ") {
			fail[name] = "less than 14 days left"
		}
	}
	r.expect(t, "certificates expiring", nil, fail)
}

func (r *selfCheckRun) checkDiskFull(t *testing.T) {
	media := r.plan.Homeserver.MediaStore
	r.setShim(t, "df.full", r.root+media)
	r.expect(t, "media disk full", r.okArgs(), map[string]string{"disk " + media: "3% free"})
	r.clearShim(t, "df.full")
}

func (r *selfCheckRun) checkBackupAge(t *testing.T) {
	r.recordBackup(t, time.Now().Add(-50*time.Hour))
	r.expect(t, "old backup", r.okArgs(), map[string]string{"backup": "last succeeded 50 hours ago"})
	stamp := filepath.Join(r.root, filepath.FromSlash(r.plan.Backup.StampFile))
	if err := os.Remove(stamp); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "no backup yet", r.okArgs(), map[string]string{"backup": "no scheduled backup has succeeded yet"})
	r.recordBackup(t, time.Now().Add(-2*time.Hour))
}
