//go:build e2e

package boot

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBootStarts measures what docs/benchmarks.md reports of starting and
// restarting a bundle, without the client checks of TestBoot: a fresh
// install to the first client request answered, a no-op run, and a
// changed option that every Synapse process reads (a restart of them all)
// with what a client polling the API sees meanwhile. It prints the load
// average beside each figure, since other work on the machine changes
// them most.
func TestBootStarts(t *testing.T) {
	requireDocker(t)
	for _, example := range bootExamples {
		t.Run(example, func(t *testing.T) {
			for _, proxy := range bootProxies {
				t.Run(proxy, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
					defer cancel()
					logLoad(t)
					s := boot(ctx, t, example, proxy)
					logLoad(t)
					logStartCPU(ctx, t, s.host, "fresh install")
					t.Run("no-op install", func(t *testing.T) { checkNoOpInstall(ctx, t, s) })
					t.Run("option changed", func(t *testing.T) { checkOptionChange(ctx, t, s, example, settings(example, proxy)) })
					logLoad(t)
					logStartCPU(ctx, t, s.host, "option changed")
				})
			}
		})
	}
}

func logLoad(t *testing.T) {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("load average: %s", b)
	}
}

// logStartCPU reports the processor time each container of the host has
// used since it started. Starting Synapse's processes is CPU-bound on a
// small machine: their sum over the machine's cores is a floor under any
// start time, whatever the order of the starts.
func logStartCPU(ctx context.Context, t *testing.T, h *Host, after string) {
	usage, err := containerCPU(ctx, h)
	if err != nil {
		t.Logf("no processor time per container (%v)", err)
		return
	}
	var total, synapse time.Duration
	var lines []string
	processes := 0
	for name, used := range usage {
		total += used
		if strings.HasPrefix(name, "matrix-synapse") {
			synapse += used
			processes++
		}
		lines = append(lines, fmt.Sprintf("%-64s %6.1f s", name, used.Seconds()))
	}
	slices.Sort(lines)
	t.Logf("figure: processor time after %s: %.1f s in all containers, %.1f s in %d Synapse processes (%.1f s each); over %d cores at least %.1f s\n%s",
		after, total.Seconds(), synapse.Seconds(), processes, synapse.Seconds()/float64(max(processes, 1)),
		runtime.NumCPU(), total.Seconds()/float64(runtime.NumCPU()), strings.Join(lines, "\n"))
}

// containerCPU reads each running container's cpuacct.usage. The host
// shares this machine's cgroup v1 hierarchy, where Docker keeps one group
// per container under docker/.
func containerCPU(ctx context.Context, h *Host) (map[string]time.Duration, error) {
	out, err := h.Output(ctx, "sh", "-c", `for id in $(docker ps -q --no-trunc); do
	printf '%s %s\n' "$(docker inspect -f '{{.Name}}' "$id")" "$(cat "/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage")"
done`)
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	usage := map[string]time.Duration{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, ns, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("unexpected line %q", line)
		}
		usage[strings.TrimPrefix(name, "/")] = time.Duration(n)
	}
	return usage, nil
}
