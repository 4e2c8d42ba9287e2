// Package boot runs a bundle on a real host: a container with systemd as
// PID 1 and a Docker engine inside it, on a Docker network of its own. The
// boot tests (build tag e2e, `make e2e`) install a bundle there the way an
// operator does and talk to it the way a Matrix client does.
package boot

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// HostImage is the systemd host that scripts/e2e/images.sh builds.
const HostImage = "matrixgen-e2e/host:latest"

// ClientImage has matrix-nio, for the conversation a user would have.
const ClientImage = "matrixgen-e2e/client:latest"

// Host is one booted machine. Its address is on a network only it and the
// test's client use.
type Host struct {
	Name    string // container name
	Network string
	Volume  string // its /var/lib/docker
	Address string // on Network
	Logf    func(format string, args ...any)

	aliases    []string // its names on Network, for the other containers there
	ownNetwork bool     // Stop removes Network
}

// StartHost boots a fresh host and waits until systemd and Docker run.
// Stop removes it with its network and volume.
func StartHost(ctx context.Context, logf func(string, ...any)) (*Host, error) {
	return StartHostOn(ctx, logf, "")
}

// StartHostOn boots a fresh host on network, a Docker network the caller
// created and removes, where the other containers resolve each of aliases
// to the host, as DNS would resolve a server's names. An empty network is
// one of the host's own, which Stop removes.
func StartHostOn(ctx context.Context, logf func(string, ...any), network string, aliases ...string) (*Host, error) {
	id := randomID()
	h := &Host{Name: "matrixgen-e2e-host-" + id, Network: network, Volume: "matrixgen-e2e-docker-" + id, Logf: logf, aliases: aliases}
	if network == "" {
		h.Network, h.ownNetwork = "matrixgen-e2e-"+id, true
		if err := docker(ctx, nil, "network", "create", h.Network); err != nil {
			return h, err
		}
	}
	if err := docker(ctx, nil, "volume", "create", h.Volume); err != nil {
		return h, err
	}
	if err := docker(ctx, nil, h.runArgs()...); err != nil {
		return h, err
	}
	address, err := dockerOutput(ctx, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", h.Name)
	if err != nil {
		return h, err
	}
	h.Address = strings.TrimSpace(address)
	return h, h.waitBooted(ctx)
}

// runArgs are the flags that let systemd and Docker run in a container that
// is not --privileged: this kind of machine's root lacks CAP_SYS_RESOURCE,
// which --privileged asks for.
func (h *Host) runArgs() []string {
	args := []string{"run", "--detach", "--name", h.Name, "--hostname", "matrix-host", "--network", h.Network}
	for _, alias := range h.aliases {
		args = append(args, "--network-alias", alias)
	}
	return append(args,
		"--cap-add=ALL", "--cap-drop=SYS_RESOURCE",
		"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
		"--security-opt", "systempaths=unconfined",
		"--device-cgroup-rule=a *:* rwm", "--cgroupns=host",
		"-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
		"-v", h.Volume+":/var/lib/docker",
		"--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
		HostImage)
}

func (h *Host) waitBooted(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		state, _ := h.Output(ctx, "systemctl", "is-system-running")
		state = strings.TrimSpace(state)
		if state == "running" || state == "degraded" {
			if _, err := h.Output(ctx, "docker", "info", "--format", "{{.ServerVersion}}"); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			failed, _ := h.Output(ctx, "systemctl", "--failed", "--no-legend")
			return fmt.Errorf("host %s did not boot in 2 minutes (systemd: %q; failed units: %s)", h.Name, state, failed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Stop removes the host, its Docker volume and its network when it is the
// host's own.
func (h *Host) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_ = docker(ctx, nil, "rm", "--force", "--volumes", h.Name)
	_ = docker(ctx, nil, "volume", "rm", "--force", h.Volume)
	if h.ownNetwork {
		_ = docker(ctx, nil, "network", "rm", h.Network)
	}
}

// Run runs a command on the host with stdin, and returns what it printed,
// both streams together, for the test's log.
func (h *Host) Run(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", "--interactive", h.Name}, args...)...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s on the host: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), err
}

// Output runs a command on the host and returns its standard output.
func (h *Host) Output(ctx context.Context, args ...string) (string, error) {
	return dockerOutput(ctx, append([]string{"exec", h.Name}, args...)...)
}

// LoadImages copies images from this machine's Docker into the host's, as
// an operator would with a registry mirror or `docker load`; those the
// host has already stay as they are.
func (h *Host) LoadImages(ctx context.Context, refs []string) error {
	var missing []string
	for _, ref := range refs {
		if _, err := h.Run(ctx, nil, "docker", "image", "inspect", ref); err != nil {
			missing = append(missing, ref)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	save := exec.CommandContext(ctx, "docker", append([]string{"save"}, missing...)...)
	load := exec.CommandContext(ctx, "docker", "exec", "--interactive", h.Name, "docker", "load", "--quiet")
	pipe, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	var errs bytes.Buffer
	save.Stderr, load.Stderr = &errs, &errs
	if err := save.Start(); err != nil {
		return err
	}
	loadErr := load.Run()
	if err := save.Wait(); err != nil {
		return fmt.Errorf("docker save: %w: %s", err, errs.String())
	}
	if loadErr != nil {
		return fmt.Errorf("docker load on the host: %w: %s", loadErr, errs.String())
	}
	return nil
}

// CopyIn copies a directory of this machine to dir on the host.
func (h *Host) CopyIn(ctx context.Context, src, dir string) error {
	if _, err := h.Output(ctx, "mkdir", "-p", dir); err != nil {
		return err
	}
	return docker(ctx, nil, "cp", src+"/.", h.Name+":"+dir)
}

// Journal returns the host's journal of one unit, for a failure's report.
func (h *Host) Journal(ctx context.Context, unit string) string {
	out, _ := h.Output(ctx, "journalctl", "--no-pager", "--lines=80", "--unit", unit)
	return out
}

func docker(ctx context.Context, stdin io.Reader, args ...string) error {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func dockerOutput(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func randomID() string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Keep reports whether hosts are kept after a test, for looking around:
// MATRIXGEN_E2E_KEEP=1.
func Keep() bool { return os.Getenv("MATRIXGEN_E2E_KEEP") == "1" }
