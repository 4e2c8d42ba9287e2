package pipeline

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			tree := buildCluster(t, name).Tree
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

// initScripts are the programs of the init containers, each once.
func initScripts(t *testing.T, tree render.Tree) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range tree.Paths() {
		if !strings.HasPrefix(p, "deployments/") && !strings.HasPrefix(p, "statefulsets/") {
			continue
		}
		var w struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(tree[p].Data, &w); err != nil {
			t.Fatal(err)
		}
		for _, c := range w.Spec.Template.Spec.InitContainers {
			if script := c.Command[len(c.Command)-1]; !seen[script] {
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
		// Every secret a pod mounts is one the plan declares, by its host name.
		declared := map[string]bool{}
		for _, s := range res.Plan.Secrets {
			declared[s.Name] = true
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
	if !strings.HasPrefix(path, "deployments/") && !strings.HasPrefix(path, "statefulsets/") {
		return nil
	}
	var d appsv1.Deployment // a StatefulSet's pod template sits at the same place
	if err := yaml.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, v := range d.Spec.Template.Spec.Volumes {
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
	script := filepath.Join(dir, kubernetes.SecretsScript)
	if err := os.WriteFile(script, res.Tree[kubernetes.SecretsScript].Data, 0o755); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "cluster")
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	// The stand-in answers `-n NS get secret NAME`, `-n NS create secret
	// generic NAME --from-file=NAME=FILE` and the namespace calls.
	fake := filepath.Join(dir, "kubectl")
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
