//go:build e2e

package pipeline

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/render/kubernetes"
)

// TestKubernetesAPIServer applies every cluster output to a real API
// server: etcd and kube-apiserver on loopback (`make e2e-k8s` builds
// kube-apiserver from tools/kube-apiserver and unpacks etcd and kubectl
// from Debian sid), the Gateway API's CRDs of the release the renderer
// is built against installed, and `kubectl apply --dry-run=server -k` on
// each variant's output: the API server's defaulting, validation (the
// CRDs' schemas and rules included) and admission, strict about unknown
// fields. No kubelet runs, so no pod starts. The test stops the servers.
func TestKubernetesAPIServer(t *testing.T) {
	apiserver, etcd := os.Getenv("MATRIXGEN_KUBE_APISERVER"), os.Getenv("MATRIXGEN_ETCD")
	if apiserver == "" || etcd == "" {
		t.Skip("MATRIXGEN_KUBE_APISERVER or MATRIXGEN_ETCD is unset: `make e2e-k8s` builds and unpacks them and runs this test")
	}
	kubectl := consumers.RequireKubectl(t)
	dir := t.TempDir()
	started := time.Now()
	etcdURL := startEtcd(t, etcd, dir)
	kubeconfig := startAPIServer(t, apiserver, etcdURL, dir)
	t.Logf("etcd and kube-apiserver ready in %s", time.Since(started).Round(100*time.Millisecond))
	// run returns what kubectl prints on stdout; its warnings (stderr)
	// are logged.
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		if stderr.Len() > 0 {
			t.Logf("kubectl %s: %s", strings.Join(args, " "), stderr.String())
		}
		return stdout.String()
	}
	t.Logf("kube-apiserver %s", strings.TrimSpace(run(t, "version", "-o", "yaml")))
	crds := gatewayCRDs(t)
	run(t, "apply", "--server-side", "-f", crds)
	run(t, "wait", "--for", "condition=Established", "--timeout", "120s", "crd", "--all")

	var total time.Duration
	for _, v := range clusterVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+v.name)
			if err := bundle.Write(out, v.result.Tree); err != nil {
				t.Fatal(err)
			}
			// create-secrets.sh makes the namespace and the Secrets for
			// real, as before a deploy (a dry run of the namespace would
			// leave the other objects without one); the secrets an
			// operator provides come from a stand-in copy of a host.
			script := exec.Command(filepath.Join(out, kubernetes.SecretsScript), "--from", providedSecrets(t, v.result))
			script.Env = append(os.Environ(), "KUBECTL="+kubectl, "KUBECONFIG="+kubeconfig)
			if msg, err := script.CombinedOutput(); err != nil {
				t.Fatalf("create-secrets.sh: %v\n%s", err, msg)
			}
			for _, sec := range v.result.Plan.Secrets {
				name := strings.ReplaceAll(sec.Name, "_", "-")
				key := run(t, "-n", v.result.Plan.Cluster.Namespace, "get", "secret", name, "-o", "go-template={{range $k, $v := .data}}{{$k}}{{end}}")
				if key != sec.Name {
					t.Errorf("Secret %s holds the keys %q, want %s", name, key, sec.Name)
				}
			}
			begin := time.Now()
			applied := run(t, "apply", "--dry-run=server", "--validate=strict", "-k", out)
			took := time.Since(begin)
			total += took
			lines := strings.Count(strings.TrimSpace(applied), "\n") + 1
			objects := len(consumers.KustomizeFiles(t, out))
			if lines != objects {
				t.Errorf("kubectl apply answered for %d objects, the output holds %d:\n%s", lines, objects, applied)
			}
			t.Logf("%d objects applied (server dry run) in %s", objects, took.Round(time.Millisecond))
		})
	}
	t.Logf("every variant applied in %s", total.Round(time.Millisecond))
}

// providedSecrets is a stand-in copy of a host that holds, at their
// paths, the secrets an operator provides.
func providedSecrets(t *testing.T, res *Result) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range res.Plan.Secrets {
		var value []byte
		switch s.Kind {
		case plan.Provided:
			value = []byte("provided-" + rand.Text())
		case plan.ProvidedKey:
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			value = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		default:
			continue
		}
		hostPath := s.Path
		if hostPath == "" {
			hostPath = filepath.Join(res.Plan.Host.SecretsDir, s.Name)
		}
		target := filepath.Join(dir, hostPath)
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, value, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// gatewayCRDs is the directory of the standard channel's CRDs in the
// Gateway API module the renderer is built against.
func gatewayCRDs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("go list sigs.k8s.io/gateway-api: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	if _, err := os.Stat(filepath.Join(dir, "gateway.networking.k8s.io_httproutes.yaml")); err != nil {
		t.Fatalf("the Gateway API module has no CRDs: %v", err)
	}
	return dir
}

// startDaemon starts a server that the test stops at its end, first
// asking it to stop, and its output goes to a log that a failing test
// prints.
func startDaemon(t *testing.T, name, logPath string, args ...string) <-chan struct{} {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			if len(data) > 8000 {
				data = data[len(data)-8000:]
			}
			t.Logf("end of %s:\n%s", logPath, data)
		}
	})
	return done
}

func startEtcd(t *testing.T, bin, dir string) string {
	t.Helper()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	exited := startDaemon(t, bin, filepath.Join(dir, "etcd.log"),
		"--name", "e2e", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e2e="+peer, "--log-level", "warn")
	waitFor(t, "etcd", 60*time.Second, exited, func() error {
		resp, err := http.Get(client + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	return client
}

// startAPIServer starts kube-apiserver with a serving certificate of its
// own, a static token of the system:masters group and a key for service
// account tokens, and returns a kubeconfig for it.
func startAPIServer(t *testing.T, bin, etcdURL, dir string) string {
	t.Helper()
	caPEM, certPEM, keyPEM := servingCertificate(t)
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	token := rand.Text()
	files := map[string][]byte{
		"ca.crt":     caPEM,
		"server.crt": certPEM,
		"server.key": keyPEM,
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		"tokens.csv": []byte(token + `,e2e-admin,e2e-admin,"system:masters"` + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	exited := startDaemon(t, bin, filepath.Join(dir, "kube-apiserver.log"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file="+filepath.Join(dir, "server.crt"), "--tls-private-key-file="+filepath.Join(dir, "server.key"),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		// The kubernetes Service's endpoint may not be on loopback, and
		// nothing here needs it.
		"--endpoint-reconciler-type=none",
	)
	server := fmt.Sprintf("https://127.0.0.1:%d", port)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	waitFor(t, "kube-apiserver", 3*time.Minute, exited, func() error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body.String())
		}
		return nil
	})
	kubeconfig := filepath.Join(dir, "kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: e2e-admin
  user:
    token: %s
contexts:
- name: e2e
  context:
    cluster: e2e
    user: e2e-admin
current-context: e2e
`, server, filepath.Join(dir, "ca.crt"), token)
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

// servingCertificate makes a CA and a certificate it signs for 127.0.0.1.
func servingCertificate(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, serverKey := newKey(), newKey()
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "matrixgen e2e CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &serverKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(serverKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func waitFor(t *testing.T, what string, limit time.Duration, exited <-chan struct{}, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited before it was ready (its log follows)", what)
		default:
		}
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not ready after %s: %v", what, limit, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
