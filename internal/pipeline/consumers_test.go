package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/render"
)

// placeholderRE finds the secret placeholders install.sh fills on the host
// (plan.SecretPlaceholder). install.sh's own "${secret}" does not match.
var placeholderRE = regexp.MustCompile(`__MATRIXGEN_SECRET_([A-Za-z0-9._-]+)__`)

// secretChars is every punctuation character install.sh accepts in a secret
// (check_secret). The consumers see them all, so a format that cannot carry
// one of them fails here and not on a host whose operator chose that password.
// It starts with YAML indicators ("!" a tag, "&" an anchor), which only
// quoting keeps a plain string.
const secretChars = "!&*%@?^#,:=+/~._-"

// consumerSecret stands in for the value install.sh puts where a secret's
// placeholder was.
func consumerSecret(name string) string {
	return secretChars + "T3st" + strings.ReplaceAll(name, "-", "") + "Z9"
}

func fillPlaceholders(data []byte, value func(name string) string) []byte {
	return placeholderRE.ReplaceAllFunc(data, func(m []byte) []byte {
		return []byte(value(string(placeholderRE.FindSubmatch(m)[1])))
	})
}

func placeholderNames(data []byte) []string {
	var names []string
	for _, m := range placeholderRE.FindAllSubmatch(data, -1) {
		names = append(names, string(m[1]))
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// treePath is where a host path lives in the bundle and under --root.
func treePath(host string) string { return strings.TrimPrefix(host, "/") }

// consumerBundle is one example written out twice: as build writes it, and
// with its placeholders filled the way install.sh leaves the files on the host.
type consumerBundle struct {
	res  *Result
	out  string
	host string
	// filled is the tree as it is on the host.
	filled render.Tree
}

func newConsumerBundle(t *testing.T, name string) *consumerBundle {
	t.Helper()
	return consumerBundleOf(t, buildExample(t, name))
}

// consumerBundleOf writes a built bundle, and its copy with the secrets
// filled in, for the consumers.
func consumerBundleOf(t *testing.T, res *Result) *consumerBundle {
	t.Helper()
	dir := t.TempDir()
	b := &consumerBundle{res: res, out: filepath.Join(dir, "out"), host: filepath.Join(dir, "host"), filled: render.Tree{}}
	if err := bundle.Write(b.out, res.Tree); err != nil {
		t.Fatal(err)
	}
	for p, e := range res.Tree {
		e.Data = fillPlaceholders(e.Data, consumerSecret)
		b.filled[p] = e
	}
	if err := bundle.Write(b.host, b.filled); err != nil {
		t.Fatal(err)
	}
	return b
}

// isJob tells whether a unit file's name (without .service) is one of a
// host job's: its service or its timer.
func (b *consumerBundle) isJob(name string) bool {
	for _, j := range b.res.Plan.Jobs {
		if name == j.Unit || name == j.Unit+".timer" {
			return true
		}
	}
	return false
}

func (b *consumerBundle) service(unit string) (plan.Service, bool) {
	for _, s := range b.res.Plan.Services {
		if s.Unit == unit {
			return s, true
		}
	}
	return plan.Service{}, false
}

func (b *consumerBundle) planFile(treeP string) (plan.File, bool) {
	for _, f := range b.res.Plan.Files {
		if treePath(f.Path) == treeP {
			return f, true
		}
	}
	return plan.File{}, false
}

// hostSource is the host path a container sees at containerPath through
// the service's bind mounts.
func hostSource(s plan.Service, containerPath string) (string, plan.Mount, bool) {
	var best plan.Mount
	found := false
	for _, m := range s.Mounts {
		if (containerPath == m.Target || strings.HasPrefix(containerPath, m.Target+"/")) && len(m.Target) > len(best.Target) {
			best, found = m, true
		}
	}
	if !found {
		return "", best, false
	}
	return best.Source + strings.TrimPrefix(containerPath, best.Target), best, true
}

// existsOnHost reports whether install.sh puts something at host path p:
// a file of the bundle, a secret or a directory it creates.
func (b *consumerBundle) existsOnHost(p string) bool {
	if _, ok := b.res.Tree[treePath(p)]; ok {
		return true
	}
	for _, s := range b.res.Plan.Secrets {
		if secretHostPath(b.res.Plan.Host, s) == p {
			return true
		}
	}
	for _, d := range b.res.Plan.Dirs {
		if d.Path == p {
			return true
		}
	}
	return false
}

func secretHostPath(h plan.Host, s plan.Secret) string {
	if s.Path != "" {
		return s.Path
	}
	return path.Join(h.SecretsDir, s.Name)
}

func (b *consumerBundle) paths(match func(p string) bool) []string {
	var out []string
	for _, p := range b.res.Tree.Paths() {
		if match(p) {
			out = append(out, p)
		}
	}
	return out
}

func TestConsumers(t *testing.T) {
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newConsumerBundle(t, name)
			t.Run("systemd", b.checkSystemd)
			t.Run("shellcheck", b.checkShellcheck)
			if b.res.Plan.Homeserver.Implementation == "synapse" {
				// Other homeservers' configs are checked by their own
				// programs' code: TestHomeserverTOMLKeys, tools/dendrite.
				t.Run("synapse", b.checkSynapse)
			}
			t.Run("traefik", b.checkTraefik)
			t.Run("mas", b.checkMAS)
			t.Run("envfiles", b.checkEnvFiles)
			t.Run("docker-create", b.checkDockerCreate)
			t.Run("json", b.checkJSON)
			t.Run("modes", b.checkModes)
			t.Run("placeholders", b.checkPlaceholders)
			t.Run("prometheus", b.checkPrometheus)
			t.Run("grafana", b.checkGrafana)
		})
	}
}

const unitTreeDir = "etc/systemd/system"

func (b *consumerBundle) unitPaths() []string {
	return b.paths(func(p string) bool {
		return path.Dir(p) == unitTreeDir && (strings.HasSuffix(p, ".service") || strings.HasSuffix(p, ".timer"))
	})
}

func (b *consumerBundle) checkSystemd(t *testing.T) {
	var units, want, jobUnits []string
	for _, p := range b.unitPaths() {
		units = append(units, path.Base(p))
	}
	for _, j := range b.res.Plan.Jobs {
		jobUnits = append(jobUnits, j.Unit+".service", j.Unit+".timer")
	}
	for _, s := range b.res.Plan.Services {
		want = append(want, s.Unit+".service")
	}
	for _, j := range b.res.Plan.Jobs {
		want = append(want, j.Unit+".service", j.Unit+".timer")
	}
	sort.Strings(want)
	if !slices.Equal(units, want) {
		t.Errorf("unit files %q, want one per service and a service and a timer per job %q", units, want)
	}
	consumers.SystemdVerify(t, filepath.Join(b.out, filepath.FromSlash(unitTreeDir)), slices.DeleteFunc(units, func(u string) bool {
		return slices.Contains(jobUnits, u)
	}))
	if len(jobUnits) > 0 {
		// A job runs a script of the bundle: systemd looks for it in the
		// bundle as installed.
		consumers.SystemdVerifyRoot(t, b.host, jobUnits)
	}
}

func (b *consumerBundle) checkShellcheck(t *testing.T) {
	scripts := b.paths(func(p string) bool { return strings.HasSuffix(p, ".sh") })
	if !slices.Contains(scripts, "install.sh") {
		t.Fatalf("no install.sh at the top of the bundle; scripts: %q", scripts)
	}
	var files []string
	for _, p := range scripts {
		files = append(files, filepath.Join(b.out, filepath.FromSlash(p)))
	}
	consumers.Shellcheck(t, files...)
}

func (b *consumerBundle) checkSynapse(t *testing.T) {
	configs := b.paths(func(p string) bool { return path.Base(p) == "homeserver.yaml" })
	if len(configs) == 0 {
		t.Fatal("no homeserver.yaml in the bundle")
	}
	// Each worker reads its own file after homeserver.yaml; Synapse checks
	// both against the one schema.
	configs = append(configs, b.paths(func(p string) bool {
		return path.Base(path.Dir(p)) == "workers" && strings.HasSuffix(p, ".yaml") && strings.Contains(p, "/synapse/")
	})...)
	for _, p := range configs {
		consumers.SynapseSchema(t, synapseSchemaView(t, p, b.filled[p].Data))

		// A YAML reader must see exactly the secret install.sh wrote, whatever
		// characters it holds: the placeholder's quoting has to carry them.
		var raw, filled any
		if err := yaml.Unmarshal(b.res.Tree[p].Data, &raw); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := yaml.Unmarshal(b.filled[p].Data, &filled); err != nil {
			t.Fatalf("%s with secrets filled in: %v", p, err)
		}
		if want := fillValues(raw); !reflect.DeepEqual(filled, want) {
			t.Errorf("%s: with secrets filled in, YAML reads other values than the secrets:\n got %v\nwant %v", p, filled, want)
		}
		b.checkSynapsePaths(t, p, raw)
	}
}

// smtpPortRE is email.smtp_port as the marshaller writes it.
var smtpPortRE = regexp.MustCompile(`(?m)^(  smtp_port: )([0-9]+)$`)

// synapseSchemaView is homeserver.yaml as Synapse's schema should see it.
// The schema (v1.157) types email.smtp_port as string or null, yet Synapse
// hands the value to Twisted's connectTCP, which looks a string port up as a
// service name (socket.getservbyname("8025") fails): only an integer works,
// and the schema's own example is one. So the integer is required here and
// shown to the schema as the string it expects, on the same line.
func synapseSchemaView(t *testing.T, p string, data []byte) []byte {
	t.Helper()
	var hs struct {
		Email map[string]any `yaml:"email"`
	}
	if err := yaml.Unmarshal(data, &hs); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if port, ok := hs.Email["smtp_port"]; ok {
		if _, isInt := port.(int); !isInt {
			t.Errorf("%s: email.smtp_port is %T %v; Twisted takes only an integer", p, port, port)
		}
	}
	return streamWritersView(t, p, smtpPortRE.ReplaceAll(data, []byte(`$1"$2"`)))
}

// streamWritersView shows the schema each stream_writers entry as one
// worker name. The schema (v1.157) types every entry as a single name, yet
// Synapse reads a name or a list of names (WriterLocations converts one to
// the other), and the events stream is sharded only through a list. So
// each entry must be a non-empty list of names here, and the schema checks
// its first name and everything else in the file as it is.
func streamWritersView(t *testing.T, p string, data []byte) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) != 1 {
		t.Fatalf("%s: %v", p, err)
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "stream_writers" {
			continue
		}
		writers := top.Content[i+1]
		for j := 0; j+1 < len(writers.Content); j += 2 {
			names := writers.Content[j+1]
			if names.Kind != yaml.SequenceNode || len(names.Content) == 0 || names.Content[0].Kind != yaml.ScalarNode {
				t.Errorf("%s: stream_writers.%s is not a list of worker names", p, writers.Content[j].Value)
				continue
			}
			writers.Content[j+1] = names.Content[0]
		}
		out, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return data
}

// fillValues replaces placeholders inside every string of a decoded document.
func fillValues(v any) any {
	switch v := v.(type) {
	case string:
		return string(fillPlaceholders([]byte(v), consumerSecret))
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = fillValues(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = fillValues(x)
		}
		return out
	}
	return v
}

// checkSynapsePaths follows every file path in homeserver.yaml through the
// container's mounts to the host: a path that leads nowhere is a server that
// does not start, or a media store that vanishes with the container.
func (b *consumerBundle) checkSynapsePaths(t *testing.T, p string, doc any) {
	var synapse plan.Service
	found := false
	for _, s := range b.res.Plan.Services {
		if _, m, ok := containerPathOf(s, "/"+p); ok && m.Source != "" {
			synapse, found = s, true
		}
	}
	if !found {
		t.Errorf("%s: no container mounts it", p)
		return
	}
	top, _ := doc.(map[string]any)
	var keys []string
	for k := range top {
		if strings.HasSuffix(k, "_path") || k == "log_config" || k == "worker_log_config" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		containerPath, _ := top[k].(string)
		host, m, ok := hostSource(synapse, containerPath)
		switch {
		case !ok:
			t.Errorf("%s: %s: %q is on no mount of %s", p, k, containerPath, synapse.Unit)
		case !b.existsOnHost(host):
			t.Errorf("%s: %s: %q is %s on the host, which install.sh does not create", p, k, containerPath, host)
		case k == "media_store_path" && m.ReadOnly:
			t.Errorf("%s: %s: %q is on a read-only mount", p, k, containerPath)
		}
	}
}

// containerPathOf is where service s sees host path p, through which mount.
func containerPathOf(s plan.Service, p string) (string, plan.Mount, bool) {
	for _, m := range s.Mounts {
		if p == m.Source || strings.HasPrefix(p, m.Source+"/") {
			return m.Target + strings.TrimPrefix(p, m.Source), m, true
		}
	}
	return "", plan.Mount{}, false
}

func (b *consumerBundle) checkTraefik(t *testing.T) {
	pl := b.res.Plan
	if pl.Proxy.Type != "traefik" {
		if traefik := b.paths(func(p string) bool { return strings.Contains(p, "/traefik/") }); len(traefik) > 0 {
			t.Errorf("the proxy is %s, yet the bundle has Traefik files %q", pl.Proxy.Type, traefik)
		}
		t.Logf("the proxy is %s, not Traefik: nothing for Traefik to read", pl.Proxy.Type)
		return
	}
	proxy, ok := b.service(pl.Proxy.Unit)
	if !ok {
		t.Fatalf("no service %s for the proxy", pl.Proxy.Unit)
	}
	static := b.traefikStatic(t, proxy)

	dynDir := treePath(pl.Proxy.ConfigDir) + "/"
	dynamic := b.paths(func(p string) bool { return strings.HasPrefix(p, dynDir) })
	if len(dynamic) == 0 {
		t.Fatalf("no dynamic configuration under %s", dynDir)
	}
	for _, p := range dynamic {
		if !strings.HasSuffix(p, ".yml") && !strings.HasSuffix(p, ".yaml") {
			t.Errorf("%s: Traefik's file provider reads only .yml, .yaml and .toml", p)
			continue
		}
		consumers.TraefikSchema(t, b.res.Tree[p].Data)
		b.checkTraefikReferences(t, p, static, proxy)
	}
}

type traefikStaticConfig struct {
	EntryPoints map[string]struct {
		Address string `yaml:"address"`
	} `yaml:"entryPoints"`
	Providers struct {
		File struct {
			Directory string `yaml:"directory"`
		} `yaml:"file"`
	} `yaml:"providers"`
	CertificatesResolvers map[string]struct {
		ACME struct {
			Storage       string `yaml:"storage"`
			HTTPChallenge *struct {
				EntryPoint string `yaml:"entryPoint"`
			} `yaml:"httpChallenge"`
		} `yaml:"acme"`
	} `yaml:"certificatesResolvers"`
}

// traefikStatic finds the static configuration through the proxy's
// command line and mounts, the way Traefik finds it, and checks that the
// entrypoints, published ports, file provider and ACME storage fit together.
func (b *consumerBundle) traefikStatic(t *testing.T, proxy plan.Service) traefikStaticConfig {
	t.Helper()
	var configFile string
	for _, arg := range proxy.Command {
		if v, ok := strings.CutPrefix(arg, "--configFile="); ok {
			configFile = v
		}
	}
	host, _, ok := hostSource(proxy, configFile)
	if configFile == "" || !ok {
		t.Fatalf("%s: no --configFile on a mount in %q", proxy.Unit, proxy.Command)
	}
	entry, ok := b.res.Tree[treePath(host)]
	if !ok {
		t.Fatalf("%s reads %s (%s on the host), which is not in the bundle", proxy.Unit, configFile, host)
	}
	var static traefikStaticConfig
	dec := yaml.NewDecoder(bytes.NewReader(entry.Data))
	dec.KnownFields(false)
	if err := dec.Decode(&static); err != nil {
		t.Fatalf("%s: %v", host, err)
	}

	ports := map[int]string{}
	for name, ep := range static.EntryPoints {
		_, port, err := net.SplitHostPort(ep.Address)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			t.Errorf("%s: entrypoint %s: address %q is not [host]:port", host, name, ep.Address)
			continue
		}
		ports[n] = name
	}
	// Each public entrypoint must reach the Traefik entrypoint the routes
	// name, through the port Docker publishes.
	for _, e := range b.res.Plan.Entrypoints {
		got, ok := static.EntryPoints[e.ProxyName]
		if !ok {
			t.Errorf("%s: no entrypoint %q for the %s role", host, e.ProxyName, e.Name)
			continue
		}
		i := slices.IndexFunc(proxy.Publish, func(pub plan.Publish) bool {
			return pub.HostPort == e.HostPort && pub.HostAddress == e.HostAddress && pub.Protocol == "tcp"
		})
		if i < 0 {
			t.Errorf("%s does not publish %s:%d, where the %s role is served", proxy.Unit, e.HostAddress, e.HostPort, e.Name)
		} else if name := ports[proxy.Publish[i].ContainerPort]; name != e.ProxyName {
			t.Errorf("%s: host port %d reaches container port %d, which is entrypoint %q, not %q (address %q)",
				host, e.HostPort, proxy.Publish[i].ContainerPort, name, e.ProxyName, got.Address)
		}
	}
	for _, pub := range proxy.Publish {
		if _, ok := ports[pub.ContainerPort]; !ok {
			t.Errorf("%s publishes host port %d onto container port %d, where no entrypoint listens", proxy.Unit, pub.HostPort, pub.ContainerPort)
		}
	}

	dir, _, ok := hostSource(proxy, static.Providers.File.Directory)
	if !ok || dir != b.res.Plan.Proxy.ConfigDir {
		t.Errorf("%s: the file provider reads %q, which is %q on the host; routes are written to %s",
			host, static.Providers.File.Directory, dir, b.res.Plan.Proxy.ConfigDir)
	}

	resolver, ok := static.CertificatesResolvers[b.res.Plan.Proxy.CertResolver]
	if !ok {
		t.Fatalf("%s: no certificate resolver %q", host, b.res.Plan.Proxy.CertResolver)
	}
	if _, m, ok := hostSource(proxy, resolver.ACME.Storage); !ok || m.ReadOnly {
		t.Errorf("%s: ACME storage %q is not on a writable mount: certificates would be requested again on every start", host, resolver.ACME.Storage)
	}
	if ch := resolver.ACME.HTTPChallenge; ch != nil {
		// Let's Encrypt sends HTTP-01 challenges to port 80 and nowhere else.
		served := false
		for _, pub := range proxy.Publish {
			if pub.HostPort == 80 && pub.Protocol == "tcp" && ports[pub.ContainerPort] == ch.EntryPoint {
				served = true
			}
		}
		if !served {
			t.Errorf("%s: HTTP challenge on entrypoint %q, which is not published on host port 80", host, ch.EntryPoint)
		}
	}
	return static
}

type traefikDynamicConfig struct {
	HTTP struct {
		Routers map[string]struct {
			EntryPoints []string `yaml:"entryPoints"`
			Service     string   `yaml:"service"`
			Middlewares []string `yaml:"middlewares"`
			TLS         *struct {
				CertResolver string `yaml:"certResolver"`
			} `yaml:"tls"`
		} `yaml:"routers"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `yaml:"url"`
				} `yaml:"servers"`
			} `yaml:"loadBalancer"`
		} `yaml:"services"`
		Middlewares map[string]any `yaml:"middlewares"`
	} `yaml:"http"`
}

// checkTraefikReferences follows every name in the dynamic configuration to
// what it names. Traefik reports a dangling one only in its log, as a 404;
// a backend on no shared network or port is a 502.
func (b *consumerBundle) checkTraefikReferences(t *testing.T, p string, static traefikStaticConfig, proxy plan.Service) {
	var dyn traefikDynamicConfig
	if err := yaml.Unmarshal(b.res.Tree[p].Data, &dyn); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	names := slices.Sorted(maps.Keys(dyn.HTTP.Routers))
	for _, name := range names {
		r := dyn.HTTP.Routers[name]
		for _, ep := range r.EntryPoints {
			if _, ok := static.EntryPoints[ep]; !ok {
				t.Errorf("%s: router %s: no entrypoint %q in the static configuration", p, name, ep)
			}
		}
		if _, ok := dyn.HTTP.Services[r.Service]; !ok {
			t.Errorf("%s: router %s: no service %q", p, name, r.Service)
		}
		for _, mw := range r.Middlewares {
			if _, ok := dyn.HTTP.Middlewares[mw]; !ok {
				t.Errorf("%s: router %s: no middleware %q", p, name, mw)
			}
		}
		if r.TLS != nil {
			if _, ok := static.CertificatesResolvers[r.TLS.CertResolver]; !ok {
				t.Errorf("%s: router %s: no certificate resolver %q", p, name, r.TLS.CertResolver)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(dyn.HTTP.Middlewares)) {
		// An errors middleware fetches its page from a service of its own.
		errorPage, _ := dyn.HTTP.Middlewares[name].(map[string]any)["errors"].(map[string]any)
		if service, ok := errorPage["service"].(string); ok {
			if _, ok := dyn.HTTP.Services[service]; !ok {
				t.Errorf("%s: middleware %s: no service %q", p, name, service)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(dyn.HTTP.Services)) {
		servers := dyn.HTTP.Services[name].LoadBalancer.Servers
		if len(servers) == 0 {
			t.Errorf("%s: service %s has no server", p, name)
		}
		for _, srv := range servers {
			b.checkBackend(t, p, name, srv.URL, proxy)
		}
	}
}

func (b *consumerBundle) checkBackend(t *testing.T, p, name, rawURL string, proxy plan.Service) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Port() == "" {
		t.Errorf("%s: service %s: url %q has no port", p, name, rawURL)
		return
	}
	port, _ := strconv.Atoi(u.Port())
	for _, s := range b.res.Plan.Services {
		if s.Address != u.Hostname() {
			continue
		}
		if !slices.ContainsFunc(s.Listens, func(l plan.Listen) bool { return l.Port == port }) {
			t.Errorf("%s: service %s: %s listens on %v, not on %d", p, name, s.Unit, s.Listens, port)
		}
		shared := slices.ContainsFunc(s.Networks, func(n string) bool { return slices.Contains(proxy.Networks, n) })
		if !shared {
			t.Errorf("%s: service %s: %s (networks %q) shares no network with %s (networks %q)", p, name, s.Unit, s.Networks, proxy.Unit, proxy.Networks)
		}
		return
	}
	t.Errorf("%s: service %s: no container answers to %q", p, name, u.Hostname())
}

func (b *consumerBundle) checkEnvFiles(t *testing.T) {
	pl := b.res.Plan
	envDir := treePath(path.Join(pl.Host.DataDir, "matrixgen", "env")) + "/"
	withEnv := map[string]bool{}
	for _, p := range b.paths(func(p string) bool { return strings.Contains(p, "/matrixgen/env/") }) {
		unit := strings.TrimSuffix(path.Base(p), ".env")
		s, ok := b.service(unit)
		if !ok || !strings.HasPrefix(p, envDir) {
			t.Errorf("%s: env file of no service", p)
			continue
		}
		withEnv[unit] = true
		got := consumers.DockerEnvFile(t, filepath.Join(b.host, filepath.FromSlash(p)))
		want := map[string]string{}
		for _, e := range s.Env {
			want[e.Name] = e.Value
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: docker reads %q, the plan's env of %s is %q", p, got, unit, want)
		}
	}
	for _, s := range pl.Services {
		if len(s.Env) > 0 && !withEnv[s.Unit] {
			t.Errorf("%s has env %q but no env file under %s", s.Unit, s.Env, envDir)
		}
		if s.EnvFile == "" {
			continue
		}
		// The service's own env file holds secrets: it must exist once
		// install.sh is done, parse as docker's, carry exactly the secrets
		// and not shadow the plan's env.
		p := treePath(s.EnvFile)
		if _, ok := b.res.Tree[p]; !ok {
			t.Errorf("%s reads env file %s, which is not in the bundle", s.Unit, s.EnvFile)
			continue
		}
		raw := consumers.DockerEnvFile(t, filepath.Join(b.out, filepath.FromSlash(p)))
		got := consumers.DockerEnvFile(t, filepath.Join(b.host, filepath.FromSlash(p)))
		want := map[string]string{}
		for k, v := range raw {
			want[k] = string(fillPlaceholders([]byte(v), consumerSecret))
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s with secrets filled in: docker reads %q, want %q", p, got, want)
		}
		for _, e := range s.Env {
			if _, dup := raw[e.Name]; dup {
				t.Errorf("%s: %s is also in the plan's env of %s; docker keeps only one", p, e.Name, s.Unit)
			}
		}
	}
	for _, p := range b.paths(func(p string) bool { return path.Base(p) == "env-secret" }) {
		if !slices.ContainsFunc(pl.Services, func(s plan.Service) bool { return treePath(s.EnvFile) == p }) {
			t.Errorf("%s: no service reads it", p)
		}
	}
}

// unitLines returns the logical lines of a unit file.
func unitLines(data []byte) []string {
	var lines []string
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		cur += sc.Text()
		if strings.HasSuffix(cur, `\`) {
			cur = strings.TrimSuffix(cur, `\`) + " "
			continue
		}
		lines = append(lines, cur)
		cur = ""
	}
	return lines
}

const (
	createPrefix = "ExecStartPre=/usr/bin/env docker create "
	hostUser     = "${MATRIX_UID}:${MATRIX_GID}"
	relaxedNote  = "# hardening relaxed:"
)

// createArgs decodes a unit's docker create line into docker's argv
// (without "docker"), with the uid:gid systemd takes from the host env file.
func (b *consumerBundle) createArgs(t *testing.T, p string) ([]string, []string) {
	t.Helper()
	lines := unitLines(b.res.Tree[p].Data)
	var creates []string
	for _, l := range lines {
		if strings.HasPrefix(l, createPrefix) {
			creates = append(creates, strings.TrimPrefix(l, "ExecStartPre="))
		}
	}
	if len(creates) != 1 {
		t.Fatalf("%s: %d lines starting %q, want 1", p, len(creates), createPrefix)
	}
	line := creates[0]
	if strings.Contains(line, hostUser) {
		envFile := "EnvironmentFile=" + render.HostEnvFile(b.res.Plan.Host)
		if !slices.Contains(lines, envFile) {
			t.Errorf("%s: uses %s without %s, so systemd passes it on literally", p, hostUser, envFile)
		}
		line = strings.ReplaceAll(line, hostUser, "1000:1000")
	}
	words, err := escape.SystemdSplit(line)
	if err != nil {
		t.Fatalf("%s: cannot split the create line: %v\n%s", p, err, line)
	}
	if len(words) < 3 || words[0] != "/usr/bin/env" || words[1] != "docker" {
		t.Fatalf("%s: create line starts %q", p, words[:min(len(words), 3)])
	}
	return words[2:], lines
}

func (b *consumerBundle) checkDockerCreate(t *testing.T) {
	for _, p := range b.unitPaths() {
		unit := strings.TrimSuffix(path.Base(p), ".service")
		if b.isJob(unit) {
			continue // runs on the host, no container
		}
		s, ok := b.service(unit)
		if !ok {
			t.Errorf("%s: unit of no service", p)
			continue
		}
		args, lines := b.createArgs(t, p)
		for i, a := range args {
			// The docker CLI reads env files while it parses: give it the
			// host's copy, which exists once install.sh is done.
			if f, ok := strings.CutPrefix(a, "--env-file="); ok {
				if _, inTree := b.filled[treePath(f)]; !inTree {
					t.Errorf("%s: --env-file=%s is not in the bundle", p, f)
				}
				args[i] = "--env-file=" + filepath.Join(b.host, filepath.FromSlash(treePath(f)))
			}
		}
		consumers.DockerCreateArgs(t, args)
		checkHardening(t, p, s, args, lines)
	}
}

// checkHardening asserts the restrictions every container runs under; a
// unit gives one up only with a "# hardening relaxed:" note saying why.
func checkHardening(t *testing.T, p string, s plan.Service, args, lines []string) {
	t.Helper()
	relaxed := slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, relaxedNote) })
	image := slices.Index(args, s.Image)
	if image < 0 {
		t.Errorf("%s: image %s not on the create line %q", p, s.Image, args)
		return
	}
	flags := args[1:image]
	for _, a := range flags {
		if !strings.HasPrefix(a, "--") {
			t.Errorf("%s: %q before the image is not a --flag=value (a flag's value is taken for the image otherwise)", p, a)
		}
	}
	has := func(flag string) bool { return slices.Contains(flags, flag) }
	for _, want := range []string{"--cap-drop=ALL", "--security-opt=no-new-privileges", "--log-driver=none", "--name=" + s.Unit} {
		if !has(want) {
			t.Errorf("%s: no %s on the create line", p, want)
		}
	}
	if !has("--read-only") && !relaxed {
		t.Errorf("%s: no --read-only and no %q note saying why", p, relaxedNote)
	}
	if has("--privileged") {
		t.Errorf("%s: --privileged", p)
	}
	if has("--network=host") != s.HostNetwork {
		t.Errorf("%s: --network=host is %v, the plan says HostNetwork=%v", p, has("--network=host"), s.HostNetwork)
	}
	var users []string
	for _, a := range flags {
		if u, ok := strings.CutPrefix(a, "--user="); ok {
			users = append(users, u)
		}
		if strings.HasPrefix(a, "--cap-add=") && !relaxed {
			t.Errorf("%s: %s without a %q note saying why", p, a, relaxedNote)
		}
	}
	switch {
	case len(users) == 0 && !relaxed:
		t.Errorf("%s: no --user and no %q note saying whose user the container runs as", p, relaxedNote)
	case len(users) == 0 && !s.Security.ImageUser:
		t.Errorf("%s: no --user, but the plan does not ask for the image's own user", p)
	case len(users) > 1:
		t.Errorf("%s: --user given %d times: %q", p, len(users), users)
	case len(users) == 1:
		if uid, _, _ := strings.Cut(users[0], ":"); uid == "0" || uid == "root" || uid == "" {
			t.Errorf("%s: runs as %q", p, users[0])
		}
	}
	start := "ExecStart=/usr/bin/env docker start --attach " + s.Unit
	if !slices.Contains(lines, start) {
		t.Errorf("%s: no %q", p, start)
	}
}

func (b *consumerBundle) checkJSON(t *testing.T) {
	files := b.paths(func(p string) bool {
		return strings.HasSuffix(p, ".json") || strings.Contains(p, "/.well-known/matrix/")
	})
	if len(files) == 0 {
		t.Fatal("no JSON files in the bundle")
	}
	docs := map[string]map[string]any{}
	for _, p := range files {
		var doc map[string]any
		if err := json.Unmarshal(b.filled[p].Data, &doc); err != nil {
			t.Errorf("%s: not a JSON object: %v", p, err)
			continue
		}
		docs[p] = doc
	}
	var hsURL string
	for p := range b.res.Tree {
		if path.Base(p) == "homeserver.yaml" {
			var hs struct {
				PublicBaseURL string `yaml:"public_baseurl"`
			}
			if err := yaml.Unmarshal(b.res.Tree[p].Data, &hs); err != nil {
				t.Fatal(err)
			}
			hsURL = strings.TrimSuffix(hs.PublicBaseURL, "/")
		}
	}
	if hsURL == "" {
		// Another homeserver has no public URL of its own: its client
		// API is where the route table sends /_matrix/client.
		for _, r := range b.res.Plan.Routes {
			if r.Service == b.res.Plan.Homeserver.Unit && r.Entrypoint == plan.EntrypointClient && r.PathPrefix == "/_matrix" {
				hsURL = "https://" + r.Host
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(docs)) {
		doc := docs[p]
		switch {
		case strings.HasSuffix(p, "/.well-known/matrix/server"):
			server, _ := doc["m.server"].(string)
			if server == "" {
				t.Errorf("%s: no m.server: %v", p, doc)
				continue
			}
			b.checkDelegation(t, p, server)
		case strings.HasSuffix(p, "/.well-known/matrix/client"):
			base := nested(doc, "m.homeserver", "base_url")
			if base == "" {
				t.Errorf("%s: no m.homeserver.base_url: %v", p, doc)
				continue
			}
			if base != hsURL {
				t.Errorf("%s: base_url %q, homeserver.yaml's public_baseurl is %q", p, base, hsURL)
			}
			b.checkClientURL(t, p, base)
		case strings.HasSuffix(p, "/ketesa/config/config.json"):
			if base, _ := doc["restrictBaseUrl"].(string); base != hsURL {
				t.Errorf("%s: restrictBaseUrl %q, homeserver.yaml's public_baseurl is %q", p, base, hsURL)
			}
		case path.Base(p) == "config.json":
			if base := nested(doc, "default_server_config", "m.homeserver", "base_url"); base != hsURL {
				t.Errorf("%s: default_server_config base_url %q, homeserver.yaml's public_baseurl is %q", p, base, hsURL)
			}
		}
	}
}

func nested(doc map[string]any, keys ...string) string {
	var v any = doc
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// routeServing finds the route the proxy uses for a request on an
// entrypoint role for host and path: the highest-priority matching prefix
// or regex.
func (b *consumerBundle) routeServing(role, host, reqPath string) (plan.Route, plan.Entrypoint, bool) {
	pl := b.res.Plan
	i := slices.IndexFunc(pl.Entrypoints, func(e plan.Entrypoint) bool { return e.Name == role })
	if i < 0 {
		return plan.Route{}, plan.Entrypoint{}, false
	}
	var best plan.Route
	found := false
	for _, r := range pl.Routes {
		prefixOK := r.PathPrefix == "/" || reqPath == r.PathPrefix || strings.HasPrefix(reqPath, strings.TrimSuffix(r.PathPrefix, "/")+"/")
		if r.PathRegex != "" {
			prefixOK = regexp.MustCompile(r.PathRegex).MatchString(reqPath)
		}
		if r.Entrypoint == role && r.Host == host && prefixOK && (!found || r.Priority > best.Priority) {
			best, found = r, true
		}
	}
	return best, pl.Entrypoints[i], found
}

// checkPublicPort compares the port a URL names with the port its
// entrypoint is served on. Behind a TLS terminator (no TLS entrypoint) the
// public port is the terminator's, which the bundle does not know.
func checkPublicPort(t *testing.T, p, what string, port int, ep plan.Entrypoint) {
	t.Helper()
	if ep.TLS && ep.HostPort != port {
		t.Errorf("%s: %s names port %d, but the %s entrypoint is served on %d", p, what, port, ep.Name, ep.HostPort)
	}
}

// checkDelegation follows /.well-known/matrix/server the way another
// homeserver does, to the port and the backend that must answer federation.
func (b *consumerBundle) checkDelegation(t *testing.T, p, server string) {
	host, portText, err := net.SplitHostPort(server)
	if err != nil {
		host, portText = server, "8448"
	}
	port, _ := strconv.Atoi(portText)
	r, ep, ok := b.routeServing(plan.EntrypointFederation, host, "/_matrix/federation/v1/version")
	if !ok {
		t.Errorf("%s: m.server %q: nothing routes federation requests for %s", p, server, host)
		return
	}
	checkPublicPort(t, p, fmt.Sprintf("m.server %q", server), port, ep)
	s, _ := b.service(r.Service)
	hs := b.res.Plan.Homeserver
	oneport := r.Service == hs.Unit && r.Port == hs.FederationPort
	if !oneport && !slices.ContainsFunc(s.Listens, func(l plan.Listen) bool { return l.Port == r.Port && l.Name == "federation" }) {
		t.Errorf("%s: m.server %q: route %s sends federation to %s:%d, not a federation listener (%v)", p, server, r.Name, r.Service, r.Port, s.Listens)
	}
}

func (b *consumerBundle) checkClientURL(t *testing.T, p, base string) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" {
		t.Errorf("%s: base_url %q is not an https URL", p, base)
		return
	}
	port := 443
	if u.Port() != "" {
		port, _ = strconv.Atoi(u.Port())
	}
	r, ep, ok := b.routeServing(plan.EntrypointClient, u.Hostname(), u.Path+"/_matrix/client/versions")
	if !ok {
		t.Errorf("%s: base_url %q: nothing routes client requests there", p, base)
		return
	}
	checkPublicPort(t, p, fmt.Sprintf("base_url %q", base), port, ep)
	s, _ := b.service(r.Service)
	if !slices.ContainsFunc(s.Listens, func(l plan.Listen) bool { return l.Port == r.Port && l.Name == "client" }) {
		t.Errorf("%s: base_url %q: route %s sends clients to %s:%d, not a client listener (%v)", p, base, r.Name, r.Service, r.Port, s.Listens)
	}
}

func (b *consumerBundle) checkModes(t *testing.T) {
	for _, p := range b.res.Tree.Paths() {
		e := b.res.Tree[p]
		if e.Mode.Perm()&0o022 != 0 {
			t.Errorf("%s: mode %04o is writable by group or others", p, e.Mode.Perm())
		}
		if names := placeholderNames(e.Data); len(names) > 0 && e.Mode.Perm() != 0o600 {
			t.Errorf("%s: holds secrets %q once installed, but has mode %04o, want 0600", p, names, e.Mode.Perm())
		}
	}
}

// checkPlaceholders ties every placeholder to a secret install.sh makes and
// to the file's list of secrets it fills: one it does not fill reaches the
// service as a literal password.
func (b *consumerBundle) checkPlaceholders(t *testing.T) {
	pl := b.res.Plan
	secrets := map[string]plan.Secret{}
	for _, s := range pl.Secrets {
		secrets[s.Name] = s
	}
	for _, p := range b.res.Tree.Paths() {
		names := placeholderNames(b.res.Tree[p].Data)
		if len(names) == 0 {
			continue
		}
		f, ok := b.planFile(p)
		if !ok {
			t.Errorf("%s: holds placeholders %q but is no host file of the plan", p, names)
			continue
		}
		if listed := slices.Sorted(slices.Values(f.Secrets)); !slices.Equal(listed, names) {
			t.Errorf("%s: holds placeholders %q, install.sh fills %q", p, names, listed)
		}
		for _, n := range names {
			s, ok := secrets[n]
			switch {
			case !ok:
				t.Errorf("%s: placeholder of undeclared secret %q", p, n)
			case secretHostPath(pl.Host, s) != path.Join(pl.Host.SecretsDir, n):
				// Synapse's signing key is such a key file, read by path.
				t.Errorf("%s: secret %s lives at %s, but install.sh fills placeholders from %s", p, n, secretHostPath(pl.Host, s), pl.Host.SecretsDir)
			}
		}
	}
}
