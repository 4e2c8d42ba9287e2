package consumers

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// KubectlEnv names a kubectl to use instead of the one on PATH: Debian's
// stable release has none, so .ci/run unpacks the one of Debian's
// development release (scripts/kubectl.sh) and points here.
const KubectlEnv = "MATRIXGEN_KUBECTL"

// RequireKubectl returns the kubectl to check manifests with.
func RequireKubectl(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(KubectlEnv); p != "" {
		return p
	}
	path, err := exec.LookPath("kubectl")
	if err != nil {
		unavailable(t, "kubectl not installed; run scripts/kubectl.sh and set "+KubectlEnv+" to the path it prints")
	}
	return path
}

// Kustomize runs `kubectl kustomize DIR`, which builds the deploy that
// `kubectl apply -k DIR` would send (it needs no cluster), and returns
// the objects it printed.
func Kustomize(t testing.TB, dir string) []byte {
	t.Helper()
	kubectl := RequireKubectl(t)
	out, err := kustomizeOutput(kubectl, dir)
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, indent(out))
	}
	return []byte(out)
}

func kustomizeOutput(kubectl, dir string) (string, error) {
	// KUBECONFIG pointing nowhere: the check must not depend on a cluster.
	env := cleanEnv([]string{"KUBECONFIG="}, "KUBECONFIG="+os.DevNull)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stderr.String(), err
	}
	return stdout.String(), nil
}

// kinds maps each kind matrixgen writes to its typed struct.
var kinds = map[string]func() any{
	"Namespace":             func() any { return &corev1.Namespace{} },
	"ConfigMap":             func() any { return &corev1.ConfigMap{} },
	"Service":               func() any { return &corev1.Service{} },
	"PersistentVolumeClaim": func() any { return &corev1.PersistentVolumeClaim{} },
	"Deployment":            func() any { return &appsv1.Deployment{} },
	"StatefulSet":           func() any { return &appsv1.StatefulSet{} },
	"Ingress":               func() any { return &networkingv1.Ingress{} },
	"Gateway":               func() any { return &gatewayv1.Gateway{} },
	"HTTPRoute":             func() any { return &gatewayv1.HTTPRoute{} },
	"CronJob":               func() any { return &batchv1.CronJob{} },
}

// apiVersions is the group version each kind must name.
var apiVersions = map[string]string{
	"Namespace": "v1", "ConfigMap": "v1", "Service": "v1", "PersistentVolumeClaim": "v1",
	"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Ingress": "networking.k8s.io/v1",
	"Gateway": "gateway.networking.k8s.io/v1", "HTTPRoute": "gateway.networking.k8s.io/v1",
	"CronJob": "batch/v1",
}

// StrictObjects decodes every YAML document of a stream into the typed
// struct of its kind, refusing unknown and duplicate fields as the API
// server's strict field validation does, and returns "Kind/name" of each.
func StrictObjects(t testing.TB, name string, stream []byte) []string {
	t.Helper()
	objects, problems := strictObjects(stream)
	for _, p := range problems {
		t.Errorf("%s: %s", name, p)
	}
	return objects
}

func strictObjects(stream []byte) (objects, problems []string) {
	for i, doc := range splitDocuments(stream) {
		var head metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &head); err != nil {
			problems = append(problems, fmt.Sprintf("document %d: %v", i+1, err))
			continue
		}
		newObject, ok := kinds[head.Kind]
		if !ok {
			problems = append(problems, fmt.Sprintf("document %d: unexpected kind %q", i+1, head.Kind))
			continue
		}
		if head.APIVersion != apiVersions[head.Kind] {
			problems = append(problems, fmt.Sprintf("document %d: %s has apiVersion %q, want %q", i+1, head.Kind, head.APIVersion, apiVersions[head.Kind]))
		}
		obj := newObject()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			problems = append(problems, fmt.Sprintf("document %d (%s): %v", i+1, head.Kind, err))
			continue
		}
		meta := obj.(metav1.Object)
		if meta.GetName() == "" {
			problems = append(problems, fmt.Sprintf("document %d: %s without a name", i+1, head.Kind))
		}
		objects = append(objects, head.Kind+"/"+meta.GetName())
	}
	return objects, problems
}

// splitDocuments splits a YAML stream at its "---" lines.
func splitDocuments(stream []byte) [][]byte {
	var docs [][]byte
	for _, d := range strings.Split("\n"+string(stream), "\n---\n") {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// KustomizeFiles lists the files a kustomization.yaml names, relative to
// its directory, as kubectl would read them.
func KustomizeFiles(t testing.TB, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Strict: a key matrixgen does not mean to write is a mistake.
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Namespace  string   `json:"namespace"`
		Resources  []string `json:"resources"`
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k.Resources
}
