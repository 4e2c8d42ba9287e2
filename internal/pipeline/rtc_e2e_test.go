//go:build e2e

package pipeline

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// TestLiveKitStarts starts the real LiveKit server (make e2e-rtc builds it
// from tools/livekit and sets MATRIXGEN_LIVEKIT) with the LiveKit config
// and key file each rtc variant generates, and waits until it answers its
// health check. LiveKit reads its config strictly, so a key it does not
// know, a value of the wrong kind or a key file it refuses stops it here.
//
// The test changes only where LiveKit listens: free loopback ports, the
// loopback address announced and bound, and no ICE/TCP listener, which
// LiveKit can only open on every address. The secrets are filled in as
// install.sh fills them.
func TestLiveKitStarts(t *testing.T) {
	bin := os.Getenv("MATRIXGEN_LIVEKIT")
	if bin == "" {
		t.Skip("MATRIXGEN_LIVEKIT is unset: `make e2e-rtc` builds LiveKit's server and runs this test")
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	for _, v := range rtcVariants {
		t.Run(v.name, func(t *testing.T) {
			res := buildRTC(t, v.example, v.extra)
			dir := t.TempDir()
			keys := fillSecrets(t, res, findFile(t, res, "/livekit-server/config/keys.yaml"))
			if err := os.WriteFile(filepath.Join(dir, "keys.yaml"), keys, 0o600); err != nil {
				t.Fatal(err)
			}
			var cfg map[string]any
			if err := yaml.Unmarshal(res.Tree[findFile(t, res, "/livekit-server/config/config.yaml")].Data, &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg["key_file"] != liveKitKeysPath {
				t.Fatalf("key_file is %v, want %s, where the unit mounts the key file", cfg["key_file"], liveKitKeysPath)
			}
			port := onLoopback(t, cfg, filepath.Join(dir, "keys.yaml"))
			data, err := yaml.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			configPath := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(configPath, data, 0o600); err != nil {
				t.Fatal(err)
			}
			checkLiveKitHealthy(t, bin, configPath, port)
		})
	}
}

// liveKitKeysPath is where the unit mounts the key file.
const liveKitKeysPath = "/etc/livekit/keys.yaml"

// fillSecrets replaces a file's placeholders with values in the alphabet
// install.sh makes them from.
func fillSecrets(t *testing.T, res *Result, path string) []byte {
	t.Helper()
	data := string(res.Tree[path].Data)
	for i, s := range res.Plan.Secrets {
		data = strings.ReplaceAll(data, plan.SecretPlaceholder(s.Name), fmt.Sprintf("%sTest%02dxYz0123456789abcdefghijklmnopqrstu", strings.ReplaceAll(s.Name, "-", ""), i))
	}
	if strings.Contains(data, "__MATRIXGEN_SECRET_") {
		t.Fatalf("%s keeps a placeholder after filling: %s", path, data)
	}
	return []byte(data)
}

// onLoopback moves every listener of cfg to loopback, on free ports, and
// returns the HTTP port.
func onLoopback(t *testing.T, cfg map[string]any, keyFile string) int {
	t.Helper()
	cfg["key_file"] = keyFile
	port := freeTCP(t)
	cfg["port"] = port
	cfg["bind_addresses"] = []any{"127.0.0.1"}
	rtc := cfg["rtc"].(map[string]any)
	delete(rtc, "use_external_ip") // STUN would ask a server on the Internet
	rtc["node_ip"] = "127.0.0.1"
	rtc["tcp_port"] = 0
	rtc["udp_port"] = freeUDP(t)
	rtc["enable_loopback_candidate"] = true
	rtc["ips"] = map[string]any{"includes": []any{"127.0.0.1/32"}}
	if turn, ok := cfg["turn"].(map[string]any); ok {
		turn["udp_port"] = freeUDP(t)
		turn["bind_addresses"] = []any{"127.0.0.1"}
		first := freeUDP(t)
		turn["relay_range_start"], turn["relay_range_end"] = first, first
	}
	return port
}

func freeTCP(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func freeUDP(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// checkLiveKitHealthy runs LiveKit until GET / answers 200 "OK", which it
// does once the node has published its first stats, or fails with what
// LiveKit printed.
func checkLiveKitHealthy(t *testing.T, bin, configPath string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", configPath)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer"
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("LiveKit stopped (%v) before answering %s:\n%s", err, url, log.String())
		case <-ctx.Done():
			t.Fatalf("LiveKit did not answer 200 OK at %s within 90s (last: %s):\n%s", url, last, log.String())
		case <-time.After(250 * time.Millisecond):
		}
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		last = fmt.Sprintf("%d %q", resp.StatusCode, body)
		if resp.StatusCode == http.StatusOK && string(body) == "OK" {
			t.Logf("LiveKit answered %s: %s", url, last)
			return
		}
	}
}
