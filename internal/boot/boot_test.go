//go:build e2e

package boot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/proxytest"
)

// The examples and proxies `make e2e` boots; `make e2e-smoke` runs
// TestBoot/quickstart/(traefik|nginx).
var (
	bootExamples = []string{"quickstart", "workers", "specialized"}
	bootProxies  = []string{"traefik", "nginx", "caddy", "apache"}
	// Examples with another homeserver than Synapse, and the name its
	// federation version answers with. Those whose images no recipe
	// builds here (continuwuity and Tuwunel are Rust) are not booted.
	otherHomeservers = map[string]string{"dendrite": "Dendrite"}
)

const (
	bundleOnHost = "/root/matrix-bundle"
	password     = "correct horse battery staple"
)

func TestBoot(t *testing.T) {
	requireDocker(t)
	for _, example := range bootExamples {
		t.Run(example, func(t *testing.T) {
			for _, proxy := range bootProxies {
				t.Run(proxy, func(t *testing.T) { bootAndConverse(t, example, proxy) })
			}
		})
	}
	t.Run("bridges", func(t *testing.T) { t.Run("traefik", testBridges) })
	for _, example := range slices.Sorted(maps.Keys(otherHomeservers)) {
		t.Run(example, func(t *testing.T) {
			for _, proxy := range bootProxies {
				t.Run(proxy, func(t *testing.T) { bootAndConverse(t, example, proxy) })
			}
		})
	}
}

// server is one booted bundle as the checks see it.
type server struct {
	host       *Host
	bundle     *Bundle
	web        *Web
	proxy      string
	domain     string
	homeserver string // https://matrix.example.org
	element    string // https://element.example.org
	ca         *CA    // signs the own webserver's certificates; nil: self-signed
}

// settings are what a boot changes in an example.
func settings(example, proxy string) map[string]any {
	set := map[string]any{"reverse_proxy.type": proxy}
	if _, other := otherHomeservers[example]; !other {
		// INFO puts Synapse's access log in the journal, where the worker
		// routing check finds which process served a request.
		set["synapse.log_level"] = "INFO"
	}
	return set
}

func examplePath(example string) string {
	return filepath.Join("..", "..", "examples", example+".yaml")
}

func bootAndConverse(t *testing.T, example, proxy string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s := boot(ctx, t, example, proxy)

	registerUsers(ctx, t, s, "alice", "bob", "router")
	t.Run("public endpoints", func(t *testing.T) { checkPublicEndpoints(ctx, t, s) })
	t.Run("upload limit", func(t *testing.T) { checkUploadLimit(ctx, t, s) })
	t.Run("slow upload", func(t *testing.T) { checkSlowUpload(ctx, t, s) })
	t.Run("conversation", func(t *testing.T) { converse(ctx, t, s, "alice", "bob") })
	t.Run("no-op install", func(t *testing.T) { checkNoOpInstall(ctx, t, s) })
	t.Run("option changed", func(t *testing.T) { checkOptionChange(ctx, t, s, example, settings(example, proxy)) })
	// Last: the vectors include logging out every session.
	t.Run("routing to workers", func(t *testing.T) { checkWorkerRouting(ctx, t, s) })
}

// boot does what an operator does on a fresh host: copy the bundle, run
// install.sh once, include the proxy config when it is their own webserver.
func boot(ctx context.Context, t *testing.T, example, proxy string) *server {
	t.Helper()
	return bootWith(ctx, t, example, proxy, nil)
}

// bootWith boots the example with options changed (dotted paths).
func bootWith(ctx context.Context, t *testing.T, example, proxy string, changes map[string]any) *server {
	t.Helper()
	set := settings(example, proxy)
	maps.Copy(set, changes)
	b, err := Build(examplePath(example), set, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := freshHost(ctx, t, b, proxy)
	started := time.Now()
	installFirst(ctx, t, s)
	s.waitForAPI(ctx, t)
	t.Logf("figure: fresh install to the first client request answered: %.1f s", time.Since(started).Seconds())
	return s
}

// freshHost boots a new host with the bundle's images loaded and the bundle
// copied to bundleOnHost; nothing is installed yet.
func freshHost(ctx context.Context, t *testing.T, b *Bundle, proxy string) *server {
	t.Helper()
	return freshHostOn(ctx, t, b, proxy, "")
}

// freshHostOn is freshHost on a network the test made, where the other
// containers resolve the host's names (StartHostOn); "" is one of its own.
func freshHostOn(ctx context.Context, t *testing.T, b *Bundle, proxy, network string, aliases ...string) *server {
	t.Helper()
	images := b.Images()
	ensureImages(ctx, t, append([]string{"host", "client"}, images...))

	started := time.Now()
	h, err := StartHostOn(ctx, t.Logf, network, aliases...)
	if !Keep() {
		t.Cleanup(h.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("figure: host %s booted in %.1f s", h.Name, time.Since(started).Seconds())

	started = time.Now()
	if err := h.LoadImages(ctx, images); err != nil {
		t.Fatal(err)
	}
	t.Logf("figure: %d images loaded into the host in %.1f s", len(images), time.Since(started).Seconds())
	if err := h.CopyIn(ctx, b.Dir, bundleOnHost); err != nil {
		t.Fatal(err)
	}
	cfg := b.Result.Config
	return &server{host: h, bundle: b, web: NewWeb(h.Address), proxy: proxy, domain: cfg.Domain,
		homeserver: "https://" + cfg.Hostnames.Homeserver, element: "https://" + cfg.Hostnames.Element}
}

// installFirst runs install.sh once, as on a new server, and sets up the
// operator's own webserver when the bundle has one.
func installFirst(ctx context.Context, t *testing.T, s *server, flags ...string) {
	t.Helper()
	out, err := s.host.Run(ctx, nil, append([]string{bundleOnHost + "/install.sh"}, flags...)...)
	if err != nil {
		t.Fatalf("the first install.sh failed:\n%v\n%s", err, failedUnits(ctx, s.host))
	}
	t.Logf("install.sh %s:\n%s", strings.Join(flags, " "), out)
	if s.proxy != "traefik" {
		cfg := s.bundle.Result.Config
		if err := SetUpWebserverWithCA(ctx, s.host, s.proxy, bundleOnHost, cfg.Domain, s.bundle.Hostnames(), s.ca); err != nil {
			t.Fatal(err)
		}
	}
}

// waitForAPI waits until the client API answers through the proxy.
func (s *server) waitForAPI(ctx context.Context, t *testing.T) {
	t.Helper()
	_, err := Eventually(ctx, 3*time.Minute,
		func() (*Response, error) { return s.web.Get(ctx, s.homeserver+"/_matrix/client/versions") },
		func(r *Response) bool { return r.Status == http.StatusOK })
	if err != nil {
		t.Fatalf("the client API never answered: %v\n%s", err, failedUnits(ctx, s.host))
	}
}

func registerUsers(ctx context.Context, t *testing.T, s *server, users ...string) {
	t.Helper()
	for _, user := range users {
		out, err := s.host.Run(ctx, strings.NewReader(password+"\n"), "/matrix/bin/register-user.sh", user)
		if err != nil {
			t.Fatalf("register-user.sh %s: %v", user, err)
		}
		t.Logf("register-user.sh %s: %s", user, strings.TrimSpace(out))
	}
}

func checkPublicEndpoints(ctx context.Context, t *testing.T, s *server) {
	get := func(url string) *Response {
		t.Helper()
		r, err := s.web.Get(ctx, url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		return r
	}
	// The base domain is this host's when the bundle serves it, or when
	// the own webserver has the well-known snippet (boot's set-up does).
	bases := []string{s.homeserver}
	if s.proxy != "traefik" || s.bundle.Result.Config.WellKnown.ServeBaseDomain {
		bases = append(bases, "https://"+s.domain)
	}
	for _, base := range bases {
		var client struct {
			Homeserver struct {
				BaseURL string `json:"base_url"`
			} `json:"m.homeserver"`
		}
		r := get(base + "/.well-known/matrix/client")
		if err := r.JSON(&client); err != nil || client.Homeserver.BaseURL != s.homeserver {
			t.Errorf("%s/.well-known/matrix/client: %s (base_url %q, want %q)", base, r, client.Homeserver.BaseURL, s.homeserver)
		}
		if cors := r.Header.Get("Access-Control-Allow-Origin"); cors != "*" {
			t.Errorf("%s/.well-known/matrix/client: Access-Control-Allow-Origin %q, want *", base, cors)
		}
	}
	var server struct {
		Server string `json:"m.server"`
	}
	if r := get(bases[len(bases)-1] + "/.well-known/matrix/server"); r.JSON(&server) != nil || server.Server == "" {
		t.Errorf("/.well-known/matrix/server: %s", r)
	}

	var version struct {
		Server struct {
			Name string `json:"name"`
		} `json:"server"`
	}
	federation := s.homeserver + ":8448/_matrix/federation/v1/version"
	wantName := "Synapse"
	if name, other := otherHomeservers[s.bundle.Result.Config.Homeserver.Implementation]; other {
		wantName = name
	}
	if r := get(federation); r.JSON(&version) != nil || version.Server.Name != wantName {
		t.Errorf("federation version on 8448: %s, want server name %s", r, wantName)
	}

	var elementConfig struct {
		Default map[string]any `json:"default_server_config"`
	}
	if r := get(s.element + "/config.json"); r.JSON(&elementConfig) != nil || elementConfig.Default == nil {
		t.Errorf("Element's config.json: %s", r)
	}

	// Synapse's admin API is for the allow list (loopback) only; a
	// homeserver without it has no route there at all.
	if r := get(s.homeserver + "/_synapse/admin/v1/server_version"); r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
		t.Errorf("admin API from outside the allow list: %s, want 403 or 404", r)
	}

	// Port 80: to HTTPS on the same name, without a port a user cannot reach.
	if s.proxy == "traefik" {
		r := get("http://" + strings.TrimPrefix(s.homeserver, "https://") + "/_matrix/client/versions?x=1")
		want := s.homeserver + "/_matrix/client/versions?x=1"
		if r.Status/100 != 3 || r.Header.Get("Location") != want {
			t.Errorf("http:// on port 80: %d Location %q, want a redirect to %q", r.Status, r.Header.Get("Location"), want)
		}
	}
}

// checkUploadLimit sends a file over Synapse's limit: the client must get
// 413, from the proxy or Synapse, not a broken connection or a 502.
func checkUploadLimit(ctx context.Context, t *testing.T, s *server) {
	token := login(ctx, t, s, "alice")
	size := s.bundle.MaxUploadBytes() + 1<<20
	r, err := s.web.Do(ctx, http.MethodPost, s.homeserver+"/_matrix/media/v3/upload?filename=big.bin", token,
		strings.NewReader(strings.Repeat("x", int(size))), size)
	if err != nil {
		t.Fatalf("upload of %d bytes: %v", size, err)
	}
	// The Matrix error a client can show, as Synapse would send it.
	if r.Status != http.StatusRequestEntityTooLarge || r.Errcode() != "M_TOO_LARGE" ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("upload of %d bytes over the %d byte limit: %s (Content-Type %q), want 413 M_TOO_LARGE in JSON",
			size, s.bundle.MaxUploadBytes(), r, r.Header.Get("Content-Type"))
	}
}

// checkSlowUpload sends a file within the limit for longer than the 60 s
// that proxies default their read timeouts to, as a slow uplink would.
func checkSlowUpload(ctx context.Context, t *testing.T, s *server) {
	if os.Getenv("MATRIXGEN_E2E_SLOW") == "0" {
		t.Skip("MATRIXGEN_E2E_SLOW=0")
	}
	token := login(ctx, t, s, "alice")
	const rate, seconds = 32 << 10, 66
	size := int64(rate * seconds)
	started := time.Now()
	r, err := s.web.Do(ctx, http.MethodPost, s.homeserver+"/_matrix/media/v3/upload?filename=slow.bin", token,
		NewSlowReader(size, rate), size)
	if err != nil {
		t.Fatalf("slow upload: %v after %.0f s", err, time.Since(started).Seconds())
	}
	if r.Status != http.StatusOK {
		t.Errorf("slow upload of %d bytes at %d B/s: %s after %.0f s, want 200", size, rate, r, time.Since(started).Seconds())
	}
	t.Logf("figure: slow upload of %d bytes took %.1f s", size, time.Since(started).Seconds())
}

func login(ctx context.Context, t *testing.T, s *server, user string) string {
	t.Helper()
	token, err := s.web.Login(ctx, s.homeserver, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// kept is what a conversation left on the server, for later checks.
type kept struct {
	RoomID     string `json:"room_id"`
	ContentURI string `json:"content_uri"`
	SHA256     string `json:"sha256"`
}

// converse runs the matrix-nio conversation in the client container.
func converse(ctx context.Context, t *testing.T, s *server, alice, bob string) kept {
	t.Helper()
	out := runClient(ctx, t, s, "converse", s.homeserver, s.domain, alice, bob, password)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var k kept
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &k); err != nil || k.RoomID == "" {
		t.Fatalf("the conversation's last line names no room: %q", lines[len(lines)-1])
	}
	return k
}

// verifyKept checks with the client that user still sees what a
// conversation left: its messages and its media.
func verifyKept(ctx context.Context, t *testing.T, s *server, user string, k kept) {
	t.Helper()
	runClient(ctx, t, s, "verify", s.homeserver, user, password, k.RoomID, k.ContentURI, k.SHA256)
}

// runClient runs client.py in the client container on the host's network,
// with every hostname resolving to the host, and fails the test when it
// fails.
func runClient(ctx context.Context, t *testing.T, s *server, args ...string) string {
	t.Helper()
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	run := []string{"run", "--rm", "--network", s.host.Network, "-v", testdata + ":/e2e:ro"}
	for _, name := range append(s.bundle.Hostnames(), s.domain) {
		run = append(run, "--add-host", name+":"+s.host.Address)
	}
	run = append(run, ClientImage, "python3", "/e2e/client.py")
	started := time.Now()
	out, err := exec.CommandContext(ctx, "docker", append(run, args...)...).CombinedOutput()
	t.Logf("client %s (%.1f s):\n%s", args[0], time.Since(started).Seconds(), out)
	if err != nil {
		t.Fatalf("client %s failed: %v\n%s", args[0], err, failedUnits(ctx, s.host))
	}
	return string(out)
}

// checkNoOpInstall runs install.sh again on an unchanged bundle: nothing
// may restart, and the client API keeps answering.
func checkNoOpInstall(ctx context.Context, t *testing.T, s *server) {
	before := mainPIDs(ctx, t, s.host)
	started := time.Now()
	out, err := s.host.Run(ctx, nil, bundleOnHost+"/install.sh")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("figure: no-op install.sh took %.1f s:\n%s", time.Since(started).Seconds(), out)
	if after := mainPIDs(ctx, t, s.host); after != before {
		t.Errorf("a no-op install.sh restarted units:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if r, err := s.web.Get(ctx, s.homeserver+"/_matrix/client/versions"); err != nil || r.Status != http.StatusOK {
		t.Errorf("client API after a no-op install.sh: %v %v", r, err)
	}
}

// checkOptionChange raises the upload limit, installs the new bundle over
// the old one, as an operator's rsync and install.sh do, and measures what
// a client polling the API sees meanwhile.
func checkOptionChange(ctx context.Context, t *testing.T, s *server, example string, settings map[string]any) {
	settings["homeserver.max_upload_size_mb"] = 2 * s.bundle.Result.Config.Homeserver.MaxUploadSizeMB
	changed, err := Build(examplePath(example), settings, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.host.CopyIn(ctx, changed.Dir, bundleOnHost); err != nil {
		t.Fatal(err)
	}
	poll := pollAPI(ctx, s)
	started := time.Now()
	out, err := s.host.Run(ctx, nil, bundleOnHost+"/install.sh")
	took := time.Since(started)
	stats := poll()
	t.Logf("figure: option changed: install.sh took %.1f s; %d of %d client requests failed (%s), longest gap %.1f s",
		took.Seconds(), stats.failed, stats.sent, stats, stats.longestGap.Seconds())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("install.sh after a changed option:\n%s", out)
	if proxy := changed.Result.Plan.Proxy.Unit; stats.failed > 0 && proxy != "" {
		// What the proxy said while clients failed tells whose the gap was.
		journal, _ := s.host.Output(ctx, "journalctl", "--no-pager", "--output=short-precise",
			"--since=@"+strconv.FormatInt(started.Unix(), 10), "--unit", proxy)
		t.Logf("journal of %s during the change:\n%s", proxy, journal)
	}
	s.waitForAPI(ctx, t)
	s.bundle = changed
}

type pollStats struct {
	sent, failed int
	longestGap   time.Duration  // without a successful answer
	failures     map[string]int // by status, or by error
}

// String tells what the failed requests got, e.g. "503: 12, timeout: 1".
func (p pollStats) String() string {
	var parts []string
	for _, what := range slices.Sorted(maps.Keys(p.failures)) {
		parts = append(parts, fmt.Sprintf("%s: %d", what, p.failures[what]))
	}
	return strings.Join(parts, ", ")
}

// pollAPI asks the client API for its versions ten times a second until
// the returned function is called, which returns what it saw.
func pollAPI(ctx context.Context, s *server) func() pollStats {
	done := make(chan struct{})
	result := make(chan pollStats)
	go func() {
		stats := pollStats{failures: map[string]int{}}
		lastOK := time.Now()
		for {
			select {
			case <-done:
				result <- stats
				return
			case <-time.After(100 * time.Millisecond):
			}
			stats.sent++
			requestCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			r, err := s.web.Get(requestCtx, s.homeserver+"/_matrix/client/versions")
			cancel()
			if err == nil && r.Status == http.StatusOK {
				lastOK = time.Now()
				continue
			}
			stats.failed++
			stats.longestGap = max(stats.longestGap, time.Since(lastOK))
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				stats.failures["timeout"]++
			case err != nil:
				stats.failures["error"]++
			default:
				stats.failures[strconv.Itoa(r.Status)]++
			}
		}
	}()
	return func() pollStats { close(done); return <-result }
}

// mainPIDs lists each matrix unit with its main process: a restart changes it.
func mainPIDs(ctx context.Context, t *testing.T, h *Host) string {
	out, err := h.Output(ctx, "sh", "-c",
		`for u in $(systemctl list-units --no-legend --plain 'matrix-*.service' | cut -d' ' -f1); do echo "$u $(systemctl show -p MainPID --value "$u")"; done`)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// failedUnits describes what did not run, for a failure's message.
func failedUnits(ctx context.Context, h *Host) string {
	var b strings.Builder
	failed, _ := h.Output(ctx, "systemctl", "list-units", "--no-legend", "--plain", "--state=failed,activating", "matrix-*")
	fmt.Fprintf(&b, "units not running:\n%s", failed)
	for _, line := range strings.Split(strings.TrimSpace(failed), "\n") {
		if unit, _, _ := strings.Cut(line, " "); unit != "" {
			fmt.Fprintf(&b, "\n--- journal of %s\n%s", unit, h.Journal(ctx, unit))
		}
	}
	return b.String()
}

func ensureImages(ctx context.Context, t *testing.T, refs []string) {
	t.Helper()
	started := time.Now()
	cmd := exec.CommandContext(ctx, "../../scripts/e2e/images.sh", refs...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("images.sh: %v\n%s", err, out)
	}
	if len(out) > 0 {
		t.Logf("images.sh (%.1f s):\n%s", time.Since(started).Seconds(), out)
	}
}

// requireDocker stops the test when no Docker engine answers: skipped on a
// developer's machine, failed in CI, where .ci/run starts one.
func requireDocker(t *testing.T) {
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Docker engine answers (docker info: %v); .ci/run starts dockerd", err)
		}
		t.Skip("no Docker engine answers: apt-get install docker.io mmdebstrap, then start dockerd")
	}
}

// checkWorkerRouting sends each request of ../shared/routes/route-vectors.tsv
// through the proxy, marked with a query parameter of its own, and finds
// the mark in the access log of the process the route table names for it:
// the proxy's config and Synapse's worker configs must agree.
func checkWorkerRouting(ctx context.Context, t *testing.T, s *server) {
	routes := s.bundle.Result.Plan.Routes
	if !hasWorkerRoutes(routes) {
		t.Skip("no workers")
	}
	token := login(ctx, t, s, "router")
	hostname := strings.TrimPrefix(s.homeserver, "https://")
	want := map[string][]string{} // mark → units
	for i, v := range proxytest.Vectors(t) {
		entrypoint, base := plan.EntrypointClient, s.homeserver
		if proxytest.IsFederation(v.Path) {
			entrypoint, base = plan.EntrypointFederation, s.homeserver+":8448"
		}
		route, ok := RouteFor(routes, entrypoint, hostname, v.Path)
		// Synapse answers /health without an access log line.
		if !ok || v.Path == "/health" {
			continue
		}
		mark := fmt.Sprintf("e2e%04d", i)
		want[mark] = Services(route)
		url := base + v.Path + "?timeout=0&e2e_mark=" + mark
		if _, err := s.web.Do(ctx, v.Method, url, token, nil, 0); err != nil {
			t.Errorf("%s %s: %v", v.Method, v.Path, err)
		}
	}
	served := marksByUnit(ctx, t, s.host)
	wrong := 0
	for mark, units := range want {
		if got := served[mark]; !slices.Contains(units, got) {
			wrong++
			t.Errorf("request %s was served by %q; the route table names %v", mark, got, units)
		}
	}
	t.Logf("%d requests, %d served by a process the route table does not name", len(want), wrong)
}

func hasWorkerRoutes(routes []plan.Route) bool {
	for _, r := range routes {
		for _, unit := range Services(r) {
			if strings.HasPrefix(unit, "matrix-synapse-worker-") {
				return true
			}
		}
	}
	return false
}

var markPattern = regexp.MustCompile(`e2e_mark=(e2e[0-9]{4})`)

// marksByUnit reads the journal of every Synapse process and says which
// one logged each mark.
func marksByUnit(ctx context.Context, t *testing.T, h *Host) map[string]string {
	units, err := h.Output(ctx, "sh", "-c", `systemctl list-units --no-legend --plain 'matrix-synapse*.service' | cut -d' ' -f1`)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]string{}
	for _, unit := range strings.Fields(units) {
		journal, err := h.Output(ctx, "journalctl", "--no-pager", "--output=cat", "--unit", unit, "--grep", "e2e_mark=")
		if err != nil && journal == "" {
			continue // no match: journalctl exits 1
		}
		for _, m := range markPattern.FindAllStringSubmatch(journal, -1) {
			served[m[1]] = strings.TrimSuffix(unit, ".service")
		}
	}
	return served
}
