package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// rtcVariants are configs with MatrixRTC on that between them write every
// key of LiveKit's config: the full example (a fixed node IP, TURN on) and
// the defaults behind each kind of proxy.
var rtcVariants = []struct{ name, example, extra string }{
	{"full", "full", ""},
	{"quickstart", "quickstart", "rtc: {enabled: true}\n"},
	{"nginx", "quickstart", "reverse_proxy: {type: nginx}\nrtc: {enabled: true, livekit: {turn: {enabled: true}}}\n"},
}

func buildRTC(t *testing.T, example, extra string) *Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", example+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, problems := Run("examples/"+example+".yaml", append(data, extra...))
	if len(problems) > 0 {
		t.Fatalf("%s with %q: %v", example, extra, problems)
	}
	return res
}

// TestLiveKitConfigKeys holds LiveKit's config.yaml against LiveKit's own
// Config struct (testdata/rtc/livekit-config-keys.txt): LiveKit reads the
// file strictly and stops at a key it does not know, so every key must be
// one of its, with a value of the kind it takes. make e2e-rtc starts the
// real server with the file.
func TestLiveKitConfigKeys(t *testing.T) {
	known := liveKitKeys(t)
	for _, v := range rtcVariants {
		t.Run(v.name, func(t *testing.T) {
			res := buildRTC(t, v.example, v.extra)
			file := findFile(t, res, "/livekit-server/config/config.yaml")
			var doc any
			if err := yaml.Unmarshal(res.Tree[file].Data, &doc); err != nil {
				t.Fatal(err)
			}
			checkLiveKitKeys(t, known, "", doc)
			cfg := doc.(map[string]any)
			if rooms, _ := cfg["room"].(map[string]any); rooms["auto_create"] != false {
				t.Errorf("room.auto_create is %v: any token holder could open rooms, not only the JWT service", rooms["auto_create"])
			}
		})
	}
}

// liveKitKeys reads the key table: path -> kind.
func liveKitKeys(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "rtc", "livekit-config-keys.txt"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		path, kind, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("bad line %q in livekit-config-keys.txt", line)
		}
		known[path] = kind
	}
	if len(known) < 50 {
		t.Fatalf("livekit-config-keys.txt lists %d keys; it should list LiveKit's whole config", len(known))
	}
	return known
}

func checkLiveKitKeys(t *testing.T, known map[string]string, prefix string, v any) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, val := range m {
		path := prefix + k
		kind, ok := known[path]
		if !ok {
			kind, ok = known[prefix+"*"]
			path = prefix + "*"
		}
		if !ok {
			t.Errorf("%s%s: not a key of LiveKit's config", prefix, k)
			continue
		}
		if got := yamlKind(val); !kindFits(kind, got) {
			t.Errorf("%s%s: LiveKit takes a %s, the config has a %s (%v)", prefix, k, kind, got, val)
		}
		checkLiveKitKeys(t, known, path+".", val)
	}
}

func yamlKind(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case int:
		return "int"
	case float64:
		return "float"
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}

// kindFits: a scalar struct (an IP, a port range) and a duration read
// strings or numbers; a float reads an integer.
func kindFits(want, got string) bool {
	switch want {
	case "scalar":
		return got == "string" || got == "int"
	case "duration":
		return got == "string" || got == "int"
	case "float":
		return got == "float" || got == "int"
	}
	return want == got
}

// TestJWTServiceEnv holds the JWT service's environment against the
// variables lk-jwt-service documents (testdata/rtc/lk-jwt-service-env.txt),
// and its values against the rest of the bundle: the key and secret files
// are mounted secrets, LIVEKIT_URL is a WebSocket URL the proxy routes to
// LiveKit, and the well-known file and Synapse's transports name the
// URL the proxy routes to the service.
func TestJWTServiceEnv(t *testing.T) {
	doc := readJWTDoc(t)
	for _, v := range rtcVariants {
		t.Run(v.name, func(t *testing.T) {
			res := buildRTC(t, v.example, v.extra)
			svc := service(t, res.Plan, "matrix-livekit-jwt-service")
			env := envFile(t, res, svc)
			doc.check(t, env)
			for _, name := range []string{"LIVEKIT_KEY_FROM_FILE", "LIVEKIT_SECRET_FROM_FILE"} {
				if !slices.ContainsFunc(svc.Mounts, func(m plan.Mount) bool {
					return m.Target == env[name] && m.ReadOnly && strings.HasPrefix(m.Source, res.Plan.Host.SecretsDir+"/")
				}) {
					t.Errorf("%s=%s is no secret file mounted read-only", name, env[name])
				}
			}
			if want := res.Config.Domain; !slices.Contains(strings.Split(env["LIVEKIT_FULL_ACCESS_HOMESERVERS"], ","), want) {
				t.Errorf("LIVEKIT_FULL_ACCESS_HOMESERVERS=%s leaves out this server, %s", env["LIVEKIT_FULL_ACCESS_HOMESERVERS"], want)
			}
			lk := routedTo(t, res.Plan, env["LIVEKIT_URL"], "wss")
			if lk.Service != "matrix-livekit-server" || !lk.Settings.WebSocket {
				t.Errorf("LIVEKIT_URL %s reaches %s (WebSocket %v), want matrix-livekit-server with WebSocket", env["LIVEKIT_URL"], lk.Service, lk.Settings.WebSocket)
			}
			foci := wellKnownFoci(t, res)
			synapse := synapseTransports(t, res)
			if !slices.Equal(foci, synapse) || len(foci) != 1 {
				t.Fatalf("well-known rtc_foci %q and Synapse's matrix_rtc.transports %q should name the one JWT service", foci, synapse)
			}
			if jwt := routedTo(t, res.Plan, foci[0], "https"); jwt.Service != svc.Unit {
				t.Errorf("rtc_foci %s reaches %s, want %s", foci[0], jwt.Service, svc.Unit)
			}
		})
	}
}

type jwtDoc struct {
	vars       map[string]bool
	require    [][]string
	exclusive  [][]string
	deprecated map[string]bool
}

func readJWTDoc(t *testing.T) jwtDoc {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "rtc", "lk-jwt-service-env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := jwtDoc{vars: map[string]bool{}, deprecated: map[string]bool{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch fields[0] {
		case "var":
			d.vars[fields[1]] = true
		case "require":
			d.require = append(d.require, strings.Split(fields[1], "|"))
		case "exclusive":
			d.exclusive = append(d.exclusive, fields[1:])
		case "deprecated":
			d.deprecated[fields[1]] = true
		default:
			t.Fatalf("lk-jwt-service-env.txt: unknown line %q", sc.Text())
		}
	}
	return d
}

func (d jwtDoc) check(t *testing.T, env map[string]string) {
	t.Helper()
	for name := range env {
		switch {
		case !d.vars[name]:
			t.Errorf("%s is not a variable lk-jwt-service reads", name)
		case d.deprecated[name]:
			t.Errorf("%s is deprecated or for testing only", name)
		}
	}
	for _, any := range d.require {
		if !slices.ContainsFunc(any, func(n string) bool { return env[n] != "" }) {
			t.Errorf("none of %s is set; lk-jwt-service needs one", strings.Join(any, ", "))
		}
	}
	for _, group := range d.exclusive {
		var set []string
		for _, n := range group {
			if _, ok := env[n]; ok {
				set = append(set, n)
			}
		}
		if len(set) > 1 {
			t.Errorf("%s are set together; lk-jwt-service takes one of them", strings.Join(set, " and "))
		}
	}
}

func service(t *testing.T, p *plan.Plan, unit string) plan.Service {
	t.Helper()
	for _, s := range p.Services {
		if s.Unit == unit {
			return s
		}
	}
	t.Fatalf("no service %s", unit)
	return plan.Service{}
}

// envFile reads the env file the unit passes to the container, as
// Docker does: NAME=VALUE lines, comments skipped.
func envFile(t *testing.T, res *Result, s plan.Service) map[string]string {
	t.Helper()
	file := findFile(t, res, "/matrixgen/env/"+s.Unit+".env")
	env := map[string]string{}
	for _, line := range strings.Split(string(res.Tree[file].Data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	if len(env) != len(s.Env) {
		t.Errorf("%s has %d variables, the plan %d", file, len(env), len(s.Env))
	}
	return env
}

// findFile finds the one tree path ending in suffix.
func findFile(t *testing.T, res *Result, suffix string) string {
	t.Helper()
	var found []string
	for p := range res.Tree {
		if strings.HasSuffix(p, suffix) {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("files ending in %s: %q, want one", suffix, found)
	}
	return found[0]
}

// routedTo finds the route a request for raw (a URL with scheme) takes,
// as the proxies choose: the highest priority route of its host and
// entrypoint whose prefix holds the path (with a "/" after it, as
// clients append their endpoints).
func routedTo(t *testing.T, p *plan.Plan, raw, scheme string) plan.ServedRoute {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != scheme || u.Host == "" {
		t.Fatalf("%q is not a %s URL", raw, scheme)
	}
	path := u.Path + "/"
	for _, r := range p.ServedRoutes() {
		if r.Host == u.Hostname() && r.Entrypoint == plan.EntrypointClient && r.PathPrefix != "" && strings.HasPrefix(path, r.PathPrefix) {
			return r
		}
	}
	t.Fatalf("no route serves %s", raw)
	return plan.ServedRoute{}
}

func wellKnownFoci(t *testing.T, res *Result) []string {
	t.Helper()
	file := findFile(t, res, "/.well-known/matrix/client")
	var doc struct {
		Foci []struct {
			Type string `json:"type"`
			URL  string `json:"livekit_service_url"`
		} `json:"org.matrix.msc4143.rtc_foci"`
	}
	if err := json.Unmarshal(res.Tree[file].Data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range doc.Foci {
		if f.Type != "livekit" {
			t.Errorf("rtc_foci entry of type %q", f.Type)
		}
		out = append(out, f.URL)
	}
	return out
}

func synapseTransports(t *testing.T, res *Result) []string {
	t.Helper()
	file := findFile(t, res, "/synapse/config/homeserver.yaml")
	var doc struct {
		RTC struct {
			Transports []struct {
				Type string `yaml:"type"`
				URL  string `yaml:"livekit_service_url"`
			} `yaml:"transports"`
		} `yaml:"matrix_rtc"`
		Experimental map[string]bool `yaml:"experimental_features"`
		MaxDelay     string          `yaml:"max_event_delay_duration"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(res.Tree[file].Data)).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	// Without MSC4143 Synapse does not serve the transports endpoint;
	// without a maximum delay it refuses delayed events, which calls
	// need to end a member's call when the client vanishes.
	for _, flag := range []string{"msc4143_enabled", "msc4222_enabled"} {
		if !doc.Experimental[flag] {
			t.Errorf("experimental_features.%s is not on", flag)
		}
	}
	if doc.MaxDelay == "" {
		t.Error("max_event_delay_duration is unset: Synapse refuses delayed events")
	}
	var out []string
	for _, tr := range doc.RTC.Transports {
		out = append(out, tr.URL)
	}
	return out
}

// TestApplyRTCChanges: matrixgen diff names the units a change to
// MatrixRTC restarts, and only those: turning it on starts the two new
// units and restarts Synapse, whose config gains the call settings; a
// change of LiveKit's ports or of who may open calls restarts the unit
// that reads it.
func TestApplyRTCChanges(t *testing.T) {
	const on = "rtc: {enabled: true}\n"
	base := buildVariant(t, "quickstart", on)
	for _, c := range []struct {
		name       string
		from, next builtBundle
		want       []string
	}{
		{"turned on", writeBundle(t, "quickstart", buildExample(t, "quickstart")), base, []string{
			"install /etc/systemd/system/matrix-livekit-jwt-service.service",
			"install /etc/systemd/system/matrix-livekit-server.service",
			"install /matrix/bin/backup.sh",
			"install /matrix/bin/restore.sh",
			"install /matrix/bin/self-check.sh",
			"install /matrix/client-element/config.json",
			"install /matrix/livekit-server/config/config.yaml",
			"install /matrix/livekit-server/config/keys.yaml",
			"install /matrix/matrixgen/env/matrix-livekit-jwt-service.env",
			"install /matrix/static-files/public/.well-known/matrix/client",
			"install /matrix/synapse/config/homeserver.yaml",
			"install /matrix/traefik/config/dynamic/matrixgen.yml",
			"daemon-reload",
			"pull docker.io/livekit/livekit-server:v1.13.5",
			"pull ghcr.io/element-hq/lk-jwt-service:0.6.0",
			"restart matrix-client-element",
			"start matrix-livekit-server",
			"start matrix-livekit-jwt-service",
			"restart matrix-synapse",
		}},
		{"media port", base, buildVariant(t, "quickstart", "rtc: {enabled: true, livekit: {udp_port: 7900}}\n"), []string{
			"install /etc/systemd/system/matrix-livekit-server.service",
			"install /matrix/livekit-server/config/config.yaml",
			"daemon-reload",
			"restart matrix-livekit-server",
		}},
		{"full access", base, buildVariant(t, "quickstart", "rtc: {enabled: true, jwt_service: {full_access_homeservers: [example.org, example.net]}}\n"), []string{
			"install /matrix/matrixgen/env/matrix-livekit-jwt-service.env",
			"restart matrix-livekit-jwt-service",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := decided(t, c.from, c.next); !slices.Equal(got, c.want) {
				t.Errorf("matrixgen diff decides\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}
