package kubernetes

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// How often the kubelet runs a pod's checks, in seconds. The startup probe
// asks often, so that a pod is ready soon after it is; readiness, which
// takes a pod out of its Service while it fails, a little less often;
// liveness, which restarts the container, seldom, and only after several
// failures in a row.
const (
	startupPeriod       = 5
	readinessPeriod     = 10
	readinessFailures   = 3
	livenessPeriod      = 30
	livenessFailures    = 3
	httpProbeTimeout    = 5
	commandProbeTimeout = 10 // a check that starts an interpreter (node, python3) takes its time
)

// probes turns the plan's health check of a service into the container's
// probes. The check install.sh waits for is what decides that the pod is
// started (within the same time install.sh allows), ready for requests,
// and alive. A service that has no check but serves ports is ready once
// its first port accepts connections, so that no Service sends a request
// to a pod before it listens; nothing says when such a service is dead,
// so it gets no liveness probe.
func (o *output) probes(s plan.Service, c *corev1.Container) error {
	check, ok := o.healthCheck(s.Unit)
	if !ok {
		if len(s.Listens) > 0 {
			c.ReadinessProbe = &corev1.Probe{
				ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(portName(s.Listens[0]))}},
				PeriodSeconds:    readinessPeriod,
				TimeoutSeconds:   httpProbeTimeout,
				FailureThreshold: readinessFailures,
			}
		}
		return nil
	}
	handler, err := probeHandler(s, check)
	if err != nil {
		return err
	}
	timeout := int32(httpProbeTimeout)
	if handler.Exec != nil {
		timeout = commandProbeTimeout
	}
	probe := func(period, failures int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: handler, PeriodSeconds: period, TimeoutSeconds: timeout, FailureThreshold: failures}
	}
	c.StartupProbe = probe(startupPeriod, int32(max(1, (check.Timeout+startupPeriod-1)/startupPeriod)))
	c.ReadinessProbe = probe(readinessPeriod, readinessFailures)
	c.LivenessProbe = probe(livenessPeriod, livenessFailures)
	return nil
}

func (o *output) healthCheck(unit string) (plan.HealthCheck, bool) {
	for _, h := range o.p.Health {
		if h.Unit == unit {
			return h, true
		}
	}
	return plan.HealthCheck{}, false
}

// probeHandler is the health check as the kubelet runs it. On the host the
// check is a command run inside the service's container (docker exec);
// in the pod it is the same command, or, for a plain HTTP request to a
// port the service serves (Synapse's /health on its listener), the
// kubelet's own request to that port, which costs the container no
// process.
func probeHandler(s plan.Service, check plan.HealthCheck) (corev1.ProbeHandler, error) {
	cmd := check.Command
	if len(cmd) < 4 || cmd[0] != "docker" || cmd[1] != "exec" || cmd[2] != s.Unit {
		return corev1.ProbeHandler{}, fmt.Errorf("the health check of %s runs %q on the host, where a pod can run only a command inside its container", s.Unit, cmd)
	}
	inside := cmd[3:]
	if get, ok := httpGet(s, inside); ok {
		return corev1.ProbeHandler{HTTPGet: get}, nil
	}
	return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: slices.Clone(inside)}}, nil
}

// The options of a request that only asks for a success status; any other
// option (a header, a method) keeps the check a command.
var statusOnly = map[string][]string{
	"curl": {"-fsS", "-o", "/dev/null"},
	"wget": {"-q", "-O", "/dev/null"},
}

// httpGet reads a check that fetches an http:// URL on loopback, at a
// port the service serves, with nothing but a status asked for.
func httpGet(s plan.Service, args []string) (*corev1.HTTPGetAction, bool) {
	if len(args) < 2 {
		return nil, false
	}
	opts, known := statusOnly[args[0]]
	if !known || !slices.Equal(args[1:len(args)-1], opts) {
		return nil, false
	}
	u, err := url.Parse(args[len(args)-1])
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || (u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1") {
		return nil, false
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, false
	}
	for _, l := range s.Listens {
		if l.Port == port {
			return &corev1.HTTPGetAction{Path: u.RequestURI(), Port: intstr.FromString(portName(l)), Scheme: corev1.URISchemeHTTP}, true
		}
	}
	// A port the service keeps to itself may listen on loopback only,
	// where the kubelet cannot reach it.
	return nil, false
}
