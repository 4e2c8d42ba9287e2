package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/render/kubernetes"
)

// clusterGoldenSuffix marks the golden tree of an example's cluster output:
// golden/<example>-k8s/.
const clusterGoldenSuffix = "-k8s"

func buildCluster(t testing.TB, name string) *Result {
	t.Helper()
	path := filepath.Join("examples", name+".yaml")
	data, err := os.ReadFile(filepath.Join(repoRoot(t), path))
	if err != nil {
		t.Fatal(err)
	}
	return runCluster(t, path, data)
}

func runCluster(t testing.TB, path string, data []byte) *Result {
	t.Helper()
	res, problems := RunTarget(path, data, TargetKubernetes)
	if len(problems) > 0 {
		t.Fatalf("%s does not build for the cluster: %v", path, problems)
	}
	return res
}

// TestGoldenKubernetes compares each example's cluster output with
// golden/<example>-k8s/.
func TestGoldenKubernetes(t *testing.T) {
	root := repoRoot(t)
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			tree := buildCluster(t, name).Tree
			dir := filepath.Join(root, "golden", name+clusterGoldenSuffix)
			if *update {
				if err := bundle.Write(dir, tree); err != nil {
					t.Fatal(err)
				}
				return
			}
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("no golden tree for example %s's cluster output (create it with: %s): %v", name, updateHint, err)
			}
			compareGolden(t, dir, tree)
		})
	}
}

// TestDeterministicKubernetes rebuilds each example's cluster output, and
// builds it from the config with every mapping's keys reversed: the same
// bytes each time.
func TestDeterministicKubernetes(t *testing.T) {
	root := repoRoot(t)
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			first := buildCluster(t, name).Tree
			for range 3 {
				requireSameTree(t, "first build", first, "rebuild", buildCluster(t, name).Tree)
			}
			path := filepath.Join("examples", name+".yaml")
			data, err := os.ReadFile(filepath.Join(root, path))
			if err != nil {
				t.Fatal(err)
			}
			requireSameTree(t, path, first, "keys reversed", runCluster(t, path, reverseKeys(t, data)).Tree)
		})
	}
}

// TestConsumersKubernetes checks every example's cluster output with the
// programs that read it: kubectl builds the deploy from kustomization.yaml
// (what `kubectl apply -k` sends), every object it prints and every file
// decodes strictly into its typed struct, and shellcheck reads the secrets
// script and the init containers' programs.
func TestConsumersKubernetes(t *testing.T) {
	for _, v := range clusterVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			tree := v.result.Tree
			dir := filepath.Join(t.TempDir(), "out-k8s")
			if err := bundle.Write(dir, tree); err != nil {
				t.Fatal(err)
			}
			listed := consumers.KustomizeFiles(t, dir)
			var want []string
			for _, p := range tree.Paths() {
				if strings.HasSuffix(p, ".yaml") && p != kubernetes.KustomizationFile {
					want = append(want, p)
					consumers.StrictObjects(t, p, tree[p].Data)
				}
			}
			if !slices.Equal(listed, want) {
				t.Errorf("kustomization.yaml lists %v, the output holds %v", listed, want)
			}
			built := consumers.StrictObjects(t, "kubectl kustomize", consumers.Kustomize(t, dir))
			if len(built) != len(want) {
				t.Errorf("kubectl kustomize printed %d objects, the output holds %d", len(built), len(want))
			}
			scripts := []string{filepath.Join(dir, kubernetes.SecretsScript)}
			for i, script := range initScripts(t, tree) {
				p := filepath.Join(t.TempDir(), "init-"+string(rune('a'+i))+".sh")
				if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o644); err != nil {
					t.Fatal(err)
				}
				scripts = append(scripts, p)
			}
			consumers.Shellcheck(t, scripts...)
		})
	}
}

// initScripts are the shell programs of the init containers and of the
// CronJobs' containers, each once.
func initScripts(t *testing.T, tree render.Tree) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range tree.Paths() {
		var containers []corev1.Container
		switch {
		case strings.HasPrefix(p, "deployments/"), strings.HasPrefix(p, "statefulsets/"):
			var w struct {
				Spec struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(tree[p].Data, &w); err != nil {
				t.Fatal(err)
			}
			containers = w.Spec.Template.Spec.InitContainers
		case strings.HasPrefix(p, "cronjobs/"):
			var cj batchv1.CronJob
			if err := yaml.Unmarshal(tree[p].Data, &cj); err != nil {
				t.Fatal(err)
			}
			containers = cj.Spec.JobTemplate.Spec.Template.Spec.Containers
		}
		for _, c := range containers {
			if len(c.Command) != 3 || c.Command[0] != "/bin/sh" || c.Command[1] != "-c" {
				t.Errorf("%s: container %s runs %q, not a shell program", p, c.Name, c.Command)
				continue
			}
			if script := c.Command[2]; !seen[script] {
				seen[script] = true
				out = append(out, script)
			}
		}
	}
	return out
}

// TestKubernetesNoSecrets: the cluster output names secrets and never
// holds one: no Secret object, and no file holds a value create-secrets.sh
// would make, only placeholders and references.
func TestKubernetesNoSecrets(t *testing.T) {
	for _, name := range exampleNames(t) {
		res := buildCluster(t, name)
		for _, p := range res.Tree.Paths() {
			if strings.Contains(string(res.Tree[p].Data), "kind: Secret\n") {
				t.Errorf("%s: %s is a Secret object", name, p)
			}
		}
		// Every secret a pod mounts is one the plan declares, by its host
		// name with "-" for "_", which object names cannot hold.
		declared := map[string]bool{}
		for _, s := range res.Plan.Secrets {
			declared[strings.ReplaceAll(s.Name, "_", "-")] = true
		}
		for _, p := range res.Tree.Paths() {
			for _, ref := range secretRefs(t, p, res.Tree[p].Data) {
				if !declared[ref] {
					t.Errorf("%s: %s refers to secret %q, which the plan does not declare", name, p, ref)
				}
			}
		}
	}
}

func secretRefs(t *testing.T, path string, data []byte) []string {
	var pod corev1.PodSpec
	switch {
	case strings.HasPrefix(path, "deployments/"), strings.HasPrefix(path, "statefulsets/"):
		var d appsv1.Deployment // a StatefulSet's pod template sits at the same place
		if err := yaml.Unmarshal(data, &d); err != nil {
			t.Fatal(err)
		}
		pod = d.Spec.Template.Spec
	case strings.HasPrefix(path, "cronjobs/"):
		var cj batchv1.CronJob
		if err := yaml.Unmarshal(data, &cj); err != nil {
			t.Fatal(err)
		}
		pod = cj.Spec.JobTemplate.Spec.Template.Spec
	default:
		return nil
	}
	var refs []string
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			refs = append(refs, v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					refs = append(refs, s.Secret.Name)
				}
			}
		}
	}
	for _, c := range append(pod.InitContainers, pod.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				refs = append(refs, e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	// A Secret must be named so that create-secrets.sh can create it.
	for _, r := range refs {
		if errs := validation.IsDNS1123Subdomain(r); len(errs) > 0 {
			t.Errorf("%s: secret %q cannot be the name of a Secret: %v", path, r, errs)
		}
	}
	return refs
}

// TestKubernetesWorkloads holds the shape of the workers example's cluster
// output: a workload and a Service for each service but the proxy, the
// bundled database a StatefulSet, the media store shared by every Synapse
// process and so ReadWriteMany, and every HTTPRoute within the Gateway
// API's limit of rules.
func TestKubernetesWorkloads(t *testing.T) {
	res := buildCluster(t, "workers")
	tree := res.Tree
	for _, s := range res.Plan.Services {
		wantSet := res.Plan.Postgres != nil && s.Unit == res.Plan.Postgres.Unit
		deployment := "deployments/" + s.Address + ".yaml"
		statefulSet := "statefulsets/" + s.Address + ".yaml"
		_, hasDeployment := tree[deployment]
		_, hasSet := tree[statefulSet]
		switch {
		case s.Unit == res.Plan.Proxy.Unit:
			if hasDeployment || hasSet {
				t.Errorf("the proxy %s runs in the cluster, where the gateway takes its place", s.Unit)
			}
		case wantSet && !hasSet, !wantSet && !hasDeployment:
			t.Errorf("service %s: no %s", s.Unit, map[bool]string{true: statefulSet, false: deployment}[wantSet])
		}
	}
	var claim corev1.PersistentVolumeClaim
	if err := yaml.UnmarshalStrict(tree["persistentvolumeclaims/synapse-storage.yaml"].Data, &claim); err != nil {
		t.Fatal(err)
	}
	if got := claim.Spec.AccessModes; !slices.Equal(got, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}) {
		t.Errorf("the media store's claim has access modes %v, want ReadWriteMany", got)
	}
	if got := claim.Spec.Resources.Requests.Storage().String(); got != res.Plan.Cluster.MediaSize {
		t.Errorf("the media store's claim requests %s, want kubernetes.media_size %s", got, res.Plan.Cluster.MediaSize)
	}
	routes := 0
	for _, p := range tree.Paths() {
		if strings.HasPrefix(p, "httproutes/") {
			routes++
			if n := bytes.Count(tree[p].Data, []byte("\n  - backendRefs:")) + bytes.Count(tree[p].Data, []byte("\n  - matches:")); n > 16 {
				t.Errorf("%s has %d rules; the Gateway API allows 16", p, n)
			}
		}
	}
	if routes < 2 {
		t.Errorf("%d HTTPRoutes for the workers' route table; expected it spread over several", routes)
	}
}

// TestKubernetesStrictPools: a pool that must keep a key on one server
// sends the route to its first server only, since a Gateway cannot hash;
// a least-connections pool keeps all its servers.
func TestKubernetesStrictPools(t *testing.T) {
	res := buildCluster(t, "workers")
	var strict, spread *plan.Route
	for i, r := range res.Plan.Routes {
		switch {
		case r.Balance.Strict && strict == nil:
			strict = &res.Plan.Routes[i]
		case r.Balance.By == plan.BalanceLeastConn && spread == nil:
			spread = &res.Plan.Routes[i]
		}
	}
	if strict == nil || spread == nil {
		t.Fatal("the workers example has no strict pool or no least-connections pool any more; pick another example")
	}
	rules := map[string][]string{} // rule name -> backends
	for _, p := range res.Tree.Paths() {
		if !strings.HasPrefix(p, "httproutes/") {
			continue
		}
		var hr struct {
			Spec struct {
				Rules []struct {
					Name        string `json:"name"`
					BackendRefs []struct {
						Name string `json:"name"`
					} `json:"backendRefs"`
				} `json:"rules"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(res.Tree[p].Data, &hr); err != nil {
			t.Fatal(err)
		}
		for _, r := range hr.Spec.Rules {
			for _, b := range r.BackendRefs {
				rules[r.Name] = append(rules[r.Name], b.Name)
			}
		}
	}
	if got := rules[strict.Name]; len(got) != 1 || got[0]+":"+strconv.Itoa(strict.Backends[0].Port) != strict.Backends[0].Upstream {
		t.Errorf("strict pool route %s goes to %v, want only %s", strict.Name, got, strict.Backends[0].Upstream)
	}
	if got := rules[spread.Name]; len(got) != len(spread.Backends) {
		t.Errorf("least-connections route %s goes to %v, want all %d servers", spread.Name, got, len(spread.Backends))
	}
}

// TestKubernetesSecretsScript runs create-secrets.sh against a stand-in
// kubectl that keeps secrets as files: it makes every missing secret once,
// keeps those the cluster has, and takes a host's own from --from.
func TestKubernetesSecretsScript(t *testing.T) {
	res := buildCluster(t, "quickstart")
	dir := t.TempDir()
	script, store, fake := secretsScriptWithFakeKubectl(t, res, dir)
	// A host's signing key, to be moved, and one secret the cluster has.
	host := filepath.Join(dir, "host")
	keyPath := ""
	for _, s := range res.Plan.Secrets {
		if s.Kind == plan.SigningKey {
			keyPath = s.Path
		}
	}
	if err := os.MkdirAll(filepath.Join(host, filepath.Dir(keyPath)), 0o700); err != nil {
		t.Fatal(err)
	}
	hostKey := "ed25519 a_host c2lnbmluZ2tleW9mdGhlaG9zdA\n"
	if err := os.WriteFile(filepath.Join(host, keyPath), []byte(hostKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "synapse-form-secret"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "--from", host)
	cmd.Env = append(os.Environ(), "KUBECTL="+fake)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create-secrets.sh: %v\n%s", err, out)
	}
	created, err := os.ReadFile(filepath.Join(store, ".created"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range res.Plan.Secrets {
		if s.Name != "synapse-form-secret" {
			want = append(want, s.Name)
		}
	}
	got := strings.Fields(string(created))
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("created %v, want %v (every secret but the one the cluster had)", got, want)
	}
	if data, _ := os.ReadFile(filepath.Join(store, "synapse-signing-key")); string(data) != hostKey {
		t.Errorf("the signing key in the cluster is %q, want the host's %q", data, hostKey)
	}
	if data, _ := os.ReadFile(filepath.Join(store, "synapse-form-secret")); string(data) != "kept" {
		t.Errorf("an existing secret was replaced: %q", data)
	}
	for _, s := range res.Plan.Secrets {
		if s.Kind == plan.RandomToken {
			data, _ := os.ReadFile(filepath.Join(store, s.Name))
			if s.Name != "synapse-form-secret" && len(data) != s.Length {
				t.Errorf("secret %s has %d characters, want %d", s.Name, len(data), s.Length)
			}
		}
	}
	// A second run keeps everything.
	if err := os.Remove(filepath.Join(store, ".created")); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(script)
	cmd.Env = append(os.Environ(), "KUBECTL="+fake)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create-secrets.sh again: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(store, ".created")); err == nil {
		t.Error("a second run created secrets again")
	}
}

// secretsScriptWithFakeKubectl writes the output's create-secrets.sh and
// a stand-in kubectl that keeps secrets as files in store, each created
// one's name appended to store/.created.
func secretsScriptWithFakeKubectl(t *testing.T, res *Result, dir string) (script, store, fake string) {
	t.Helper()
	script = filepath.Join(dir, kubernetes.SecretsScript)
	if err := os.WriteFile(script, res.Tree[kubernetes.SecretsScript].Data, 0o755); err != nil {
		t.Fatal(err)
	}
	store = filepath.Join(dir, "cluster")
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	// The stand-in answers `-n NS get secret NAME`, `-n NS create secret
	// generic NAME --from-file=NAME=FILE` and the namespace calls.
	fake = filepath.Join(dir, "kubectl")
	if err := os.WriteFile(fake, []byte(`#!/bin/sh
store=`+store+`
[ "$1" = -n ] && shift 2
case "$1 $2" in
"get secret") [ -f "$store/$3" ] ;;
"create secret") file=${5#--from-file=$4=}; cp "$file" "$store/$4"; echo "$4" >>"$store/.created" ;;
"get namespace" | "create namespace") exit 0 ;;
*) echo "unexpected: $*" >&2; exit 3 ;;
esac
`), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, store, fake
}

// TestKubernetesSecretsImport: a secret the config imports from a file of
// an earlier installation (synapse.signing_key_import) is taken from that
// file, as install.sh takes it; without the file, a new one is made, as
// on a host.
func TestKubernetesSecretsImport(t *testing.T) {
	dir := t.TempDir()
	oldKey := filepath.Join(dir, "old", "example.org.signing.key")
	res := buildClusterExtra(t, "quickstart", "synapse:\n  signing_key_import: "+oldKey+"\n")
	script, store, fake := secretsScriptWithFakeKubectl(t, res, dir)
	run := func() {
		t.Helper()
		cmd := exec.Command(script)
		cmd.Env = append(os.Environ(), "KUBECTL="+fake)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("create-secrets.sh: %v\n%s", err, out)
		}
	}

	run()
	made, err := os.ReadFile(filepath.Join(store, "synapse-signing-key"))
	if err != nil || !strings.HasPrefix(string(made), "ed25519 a_") {
		t.Fatalf("without the file to import, the signing key is %q (%v), want a new one", made, err)
	}

	if err := os.RemoveAll(store); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	const key = "ed25519 a_old b2xkc2lnbmluZ2tleW9mdGhlaG9zdA\n"
	if err := os.MkdirAll(filepath.Dir(oldKey), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(oldKey, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	run()
	if data, _ := os.ReadFile(filepath.Join(store, "synapse-signing-key")); string(data) != key {
		t.Errorf("the signing key in the cluster is %q, want the imported %q", data, key)
	}
}

// clusterVariant is a config whose cluster output the tests check beyond
// the examples: the parts no example has.
type clusterVariant struct {
	name   string
	result *Result
}

// clusterExtras append to an example what it lacks: bridges beside
// workers (the internal client API) and Ingress objects instead of the
// Gateway API.
var clusterExtras = []struct{ name, example, extra string }{
	{"workers-bridge", "workers", "bridges:\n  heisenbridge:\n    type: heisenbridge\n    owner: \"@admin:example.org\"\n"},
	{"quickstart-ingress", "quickstart", "kubernetes:\n  routes: ingress\n"},
}

func buildClusterExtra(t testing.TB, example, extra string) *Result {
	t.Helper()
	path := filepath.Join("examples", example+".yaml")
	data, err := os.ReadFile(filepath.Join(repoRoot(t), path))
	if err != nil {
		t.Fatal(err)
	}
	return runCluster(t, path, append(data, "\n"+extra...))
}

// clusterVariants are every example and the extras.
func clusterVariants(t testing.TB) []clusterVariant {
	var out []clusterVariant
	for _, name := range exampleNames(t) {
		out = append(out, clusterVariant{name, buildCluster(t, name)})
	}
	for _, e := range clusterExtras {
		out = append(out, clusterVariant{e.name, buildClusterExtra(t, e.example, e.extra)})
	}
	return out
}

// podOf reads the pod template and strategy of a workload of the output.
func podOf(t *testing.T, tree render.Tree, path string) (corev1.PodSpec, appsv1.DeploymentStrategy) {
	t.Helper()
	entry, ok := tree[path]
	if !ok {
		t.Fatalf("no %s", path)
	}
	var d appsv1.Deployment // a StatefulSet's pod template sits at the same place
	if err := yaml.Unmarshal(entry.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec, d.Spec.Strategy
}

// TestKubernetesProbes: every service's health check of the plan becomes
// its container's probes: a startup probe that allows as long as
// install.sh waits, and readiness and liveness. Synapse's processes are
// asked for /health on their listener by the kubelet itself; the other
// checks run their command in the container. A service without a check
// that serves ports is ready once it accepts connections. A Deployment
// that can roll starts its new pod before it stops the old one.
func TestKubernetesProbes(t *testing.T) {
	for _, name := range []string{"workers", "full", "bridges"} {
		t.Run(name, func(t *testing.T) {
			res := buildCluster(t, name)
			checks := map[string]plan.HealthCheck{}
			for _, h := range res.Plan.Health {
				checks[h.Unit] = h
			}
			httpChecks := 0
			for _, s := range res.Plan.Services {
				if s.Unit == res.Plan.Proxy.Unit {
					continue
				}
				name := s.Address
				if name == "" {
					name = s.Unit // a service on the host's network
				}
				path := "deployments/" + name + ".yaml"
				if res.Plan.Postgres != nil && s.Unit == res.Plan.Postgres.Unit {
					path = "statefulsets/" + name + ".yaml"
				}
				pod, strategy := podOf(t, res.Tree, path)
				c := pod.Containers[0]
				for _, init := range pod.InitContainers {
					if init.StartupProbe != nil || init.ReadinessProbe != nil || init.LivenessProbe != nil {
						t.Errorf("%s: init container %s has probes", s.Unit, init.Name)
					}
				}
				if strings.HasPrefix(path, "deployments/") && strategy.Type != appsv1.RecreateDeploymentStrategyType {
					if ru := strategy.RollingUpdate; strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 || ru.MaxSurge == nil || ru.MaxSurge.IntValue() != 1 {
						t.Errorf("%s: strategy %+v, want a rolling update with maxUnavailable 0 and maxSurge 1", s.Unit, strategy)
					}
				}
				check, hasCheck := checks[s.Unit]
				if !hasCheck {
					if c.StartupProbe != nil || c.LivenessProbe != nil {
						t.Errorf("%s has no health check in the plan, but startup or liveness probes", s.Unit)
					}
					if len(s.Listens) > 0 && (c.ReadinessProbe == nil || c.ReadinessProbe.TCPSocket == nil) {
						t.Errorf("%s serves ports but has no TCP readiness probe: %+v", s.Unit, c.ReadinessProbe)
					}
					continue
				}
				if c.StartupProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe == nil {
					t.Errorf("%s: health check %q without all three probes", s.Unit, check.Command)
					continue
				}
				if allowed := int(c.StartupProbe.PeriodSeconds * c.StartupProbe.FailureThreshold); allowed < check.Timeout {
					t.Errorf("%s: the startup probe allows %ds, install.sh waits %ds", s.Unit, allowed, check.Timeout)
				}
				if !probeHandlersEqual(c.ReadinessProbe.ProbeHandler, c.StartupProbe.ProbeHandler) {
					t.Errorf("%s: readiness and startup probes ask different things", s.Unit)
				}
				h := c.ReadinessProbe.ProbeHandler
				switch {
				case h.HTTPGet != nil:
					httpChecks++
					if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == h.HTTPGet.Port.StrVal }) {
						t.Errorf("%s: the HTTP probe asks port %q, which the container does not name", s.Unit, h.HTTPGet.Port.String())
					}
					if !strings.HasSuffix(check.Command[len(check.Command)-1], h.HTTPGet.Path) {
						t.Errorf("%s: the HTTP probe asks %s, the health check %q", s.Unit, h.HTTPGet.Path, check.Command)
					}
				case h.Exec != nil:
					if want := check.Command[3:]; !slices.Equal(h.Exec.Command, want) {
						t.Errorf("%s: the probe runs %q, the health check %q", s.Unit, h.Exec.Command, want)
					}
				default:
					t.Errorf("%s: probe %+v is neither a request nor a command", s.Unit, h)
				}
			}
			if name == "workers" {
				// The main process and every worker with an HTTP listener.
				want := 0
				for _, h := range res.Plan.Health {
					if strings.HasPrefix(h.Unit, "matrix-synapse") {
						want++
					}
				}
				if httpChecks < want || want < 2 {
					t.Errorf("%d HTTP probes, want one for each of the %d Synapse processes with a health check", httpChecks, want)
				}
			}
		})
	}
}

func probeHandlersEqual(a, b corev1.ProbeHandler) bool {
	x, _ := yaml.Marshal(a)
	y, _ := yaml.Marshal(b)
	return bytes.Equal(x, y)
}

// TestKubernetesCronJobs: the host's timers become CronJobs on the same
// schedule that never run twice at once and are not retried, as a timer's
// failed service stays failed. The vacuum reaches every database of the
// bundled server as its owner; the backup writes to a claim of its own at
// the host's backup directory and reads the media store's claim.
func TestKubernetesCronJobs(t *testing.T) {
	res := buildCluster(t, "full")
	if len(res.Plan.Jobs) < 2 {
		t.Fatalf("the full example has %d jobs; it should have the backup and the vacuum", len(res.Plan.Jobs))
	}
	wantSchedules := map[string]string{}
	for _, j := range res.Plan.Jobs {
		switch j.Schedule {
		case "*-*-* 02:15:00":
			wantSchedules[j.Unit] = "15 2 * * *"
		case "Sun *-*-* 04:30:00":
			wantSchedules[j.Unit] = "30 4 * * 0"
		case "*-*-* 03:30:00":
			wantSchedules[j.Unit] = "30 3 * * *"
		default:
			t.Fatalf("job %s: schedule %q is not one this test knows; update it", j.Unit, j.Schedule)
		}
	}
	cronJobs := map[string]batchv1.CronJob{}
	for _, j := range res.Plan.Jobs {
		path := "cronjobs/" + j.Unit + ".yaml"
		entry, ok := res.Tree[path]
		if !ok {
			t.Errorf("job %s: no %s", j.Unit, path)
			continue
		}
		var cj batchv1.CronJob
		if err := yaml.UnmarshalStrict(entry.Data, &cj); err != nil {
			t.Fatal(err)
		}
		cronJobs[j.Unit] = cj
		spec := cj.Spec
		if spec.Schedule != wantSchedules[j.Unit] {
			t.Errorf("%s: schedule %q, want %q (from %q)", j.Unit, spec.Schedule, wantSchedules[j.Unit], j.Schedule)
		}
		if spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("%s: concurrencyPolicy %q, want Forbid", j.Unit, spec.ConcurrencyPolicy)
		}
		if b := spec.JobTemplate.Spec.BackoffLimit; b == nil || *b != 0 {
			t.Errorf("%s: a failed run is retried (backoffLimit %v)", j.Unit, b)
		}
		pod := spec.JobTemplate.Spec.Template.Spec
		if pod.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s: restartPolicy %q", j.Unit, pod.RestartPolicy)
		}
		script := pod.Containers[0].Command[2]
		if c := res.Plan.StateCompressor; c != nil && j.Unit == c.Container {
			checkCompressorPod(t, res, pod)
			continue
		}
		if img := pod.Containers[0].Image; img != serviceImage(t, res, res.Plan.Postgres.Unit) {
			t.Errorf("%s: image %s, want the bundled server's own (its pg_dump and vacuumdb)", j.Unit, img)
		}
		for _, d := range res.Plan.Databases {
			if !strings.Contains(script, " "+d.Name+" "+d.Role+" "+d.PasswordSecret) {
				t.Errorf("%s: does not reach database %s as %s", j.Unit, d.Name, d.Role)
			}
		}
	}
	backup := cronJobs["matrix-backup"].Spec.JobTemplate.Spec.Template.Spec
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range backup.Containers[0].VolumeMounts {
		mounts[m.MountPath] = m
	}
	if m, ok := mounts[res.Plan.Backup.Directory]; !ok || m.Name != "backups" || m.ReadOnly {
		t.Errorf("the backup does not write the claim backups at %s: %+v", res.Plan.Backup.Directory, mounts)
	}
	if _, ok := res.Tree["persistentvolumeclaims/backups.yaml"]; !ok {
		t.Error("no claim for the backups")
	}
	media := false
	for path, m := range mounts {
		if strings.HasPrefix(res.Plan.Homeserver.MediaStore, path+"/") {
			media = m.ReadOnly
		}
	}
	if !media {
		t.Errorf("the backup does not read the media store %s: %+v", res.Plan.Homeserver.MediaStore, mounts)
	}
	script := backup.Containers[0].Command[2]
	for _, want := range []string{"format 1", "SHA256SUMS", "--exclude-table-data=e2e_one_time_keys_json", "KEEP_LOCAL=" + strconv.Itoa(res.Plan.Backup.KeepLocal)} {
		if !strings.Contains(script, want) {
			t.Errorf("the backup's script lacks %q", want)
		}
	}
}

// checkCompressorPod: the state compressor's own image, reaching Synapse's
// database as its role with the password from its mounted secret.
func checkCompressorPod(t *testing.T, res *Result, pod corev1.PodSpec) {
	t.Helper()
	c := res.Plan.StateCompressor
	if img := pod.Containers[0].Image; img != c.Image {
		t.Errorf("state compressor: image %s, want %s", img, c.Image)
	}
	i := slices.IndexFunc(res.Plan.Databases, func(d plan.Database) bool { return d.Name == c.Database })
	if i < 0 {
		t.Fatalf("the state compressor's database %s is not in the plan", c.Database)
	}
	db := res.Plan.Databases[i]
	script := pod.Containers[0].Command[2]
	for _, want := range []string{"exec synapse_auto_compressor", "dbname=" + db.Name + " user=" + db.Role,
		fmt.Sprintf("-c %d -n %d", c.ChunkSize, c.Chunks), db.PasswordSecret} {
		if !strings.Contains(script, want) {
			t.Errorf("state compressor: the script lacks %q:\n%s", want, script)
		}
	}
	mounted := slices.ContainsFunc(pod.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool {
		return strings.HasSuffix(m.MountPath, "/"+db.PasswordSecret) && m.ReadOnly
	})
	if !mounted {
		t.Errorf("state compressor: secret %s is not mounted", db.PasswordSecret)
	}
}

func serviceImage(t *testing.T, res *Result, unit string) string {
	t.Helper()
	for _, s := range res.Plan.Services {
		if s.Unit == unit {
			return s.Image
		}
	}
	t.Fatalf("no service %s", unit)
	return ""
}

// TestKubernetesInternalAPI: with workers, the bridges call the client
// API at the proxy's internal address; in the cluster that address is a
// Service of the same name and port, whose HTTPRoutes (parent: the
// Service) are the internal routes of the plan, and which without a mesh
// reaches the main process, the internal routes' catch-all.
func TestKubernetesInternalAPI(t *testing.T) {
	res := buildClusterExtra(t, "workers", clusterExtras[0].extra)
	var internal []plan.Route
	for _, r := range res.Plan.Routes {
		if r.Entrypoint == plan.EntrypointInternal {
			internal = append(internal, r)
		}
	}
	if len(internal) < 2 {
		t.Fatalf("%d internal routes; the variant should have the internal client API", len(internal))
	}
	var bridgeURL string
	for _, s := range res.Plan.Services {
		if s.Unit == "matrix-heisenbridge" {
			bridgeURL = s.Command[len(s.Command)-1]
		}
	}
	host, port, ok := strings.Cut(strings.TrimPrefix(bridgeURL, "http://"), ":")
	if !ok {
		t.Fatalf("heisenbridge calls %q", bridgeURL)
	}
	var svc corev1.Service
	if err := yaml.UnmarshalStrict(res.Tree["services/"+host+".yaml"].Data, &svc); err != nil {
		t.Fatalf("no Service %s for the bridges' homeserver URL %s: %v", host, bridgeURL, err)
	}
	fallback := internal[len(internal)-1]
	if len(svc.Spec.Ports) != 1 || strconv.Itoa(int(svc.Spec.Ports[0].Port)) != port || svc.Spec.Ports[0].TargetPort.IntValue() != fallback.Port {
		t.Errorf("Service %s has ports %+v, want %s to the catch-all's %d", host, svc.Spec.Ports, port, fallback.Port)
	}
	if got := svc.Spec.Selector["app.kubernetes.io/name"]; got+":"+strconv.Itoa(fallback.Port) != fallback.Upstream {
		t.Errorf("Service %s selects %q, want the catch-all's %s", host, got, fallback.Upstream)
	}
	rules := map[string]bool{}
	for _, p := range res.Tree.Paths() {
		if !strings.HasPrefix(p, "httproutes/") {
			continue
		}
		var hr struct {
			Spec struct {
				ParentRefs []struct {
					Kind string `json:"kind"`
					Name string `json:"name"`
				} `json:"parentRefs"`
				Hostnames []string `json:"hostnames"`
				Rules     []struct {
					Name string `json:"name"`
				} `json:"rules"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(res.Tree[p].Data, &hr); err != nil {
			t.Fatal(err)
		}
		if len(hr.Spec.ParentRefs) != 1 || hr.Spec.ParentRefs[0].Kind != "Service" {
			continue
		}
		if hr.Spec.ParentRefs[0].Name != host || len(hr.Spec.Hostnames) > 0 {
			t.Errorf("%s: parent %+v, hostnames %v; want the Service %s and none", p, hr.Spec.ParentRefs, hr.Spec.Hostnames, host)
		}
		for _, r := range hr.Spec.Rules {
			rules[r.Name] = true
		}
	}
	for _, r := range internal {
		if !rules[r.Name] {
			t.Errorf("internal route %s is in no HTTPRoute of the Service %s", r.Name, host)
		}
	}
}
