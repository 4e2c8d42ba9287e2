package render

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/templates"
)

const (
	unitDir = "/etc/systemd/system"
	// docker is found through PATH by env, so a host with the CLI in
	// /usr/local/bin works as well as one with /usr/bin/docker.
	dockerEnv = "/usr/bin/env"
	// userSentinel stands for the matrix user's uid:gid in the argv until
	// the unit is written; the real word expands variables install.sh keeps
	// in the host env file, which is why it cannot pass through the escaper.
	userSentinel = "--user=MATRIXGEN-HOST-USER"
	userFromEnv  = "--user=${MATRIX_UID}:${MATRIX_GID}"
)

// parsed holds every template, parsed once per process.
var parsed = template.Must(template.New("").Funcs(template.FuncMap{
	"join":    strings.Join,
	"sh":      escape.Shell,
	"shWords": escape.ShellWords,
}).ParseFS(templates.Files, "*.tmpl"))

// unitData is what the unit template prints; every field is already
// escaped for systemd.
type unitData struct {
	Description, Docker, Name, Create, HostEnv string
	Requires, PartOf, Wants, After, Connect    []string
	Notes                                      []string
	StopTimeout, TimeoutStop                   int
}

// HostEnvFile is where install.sh records the matrix user's uid and gid
// for the units to read.
func HostEnvFile(h plan.Host) string { return path.Join(h.DataDir, "matrixgen", "host.env") }

func unitPath(unit string) string { return path.Join(unitDir, unit+".service") }

func envFilePath(h plan.Host, unit string) string {
	return path.Join(h.DataDir, "matrixgen", "env", unit+".env")
}

func renderUnits(p *plan.Plan, t Tree) error {
	for _, s := range p.Services {
		if len(s.Env) > 0 {
			data, err := envFile(s.Env)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Unit, err)
			}
			if err := t.add(hostPath(envFilePath(p.Host, s.Unit)), 0o644, data, s.Unit); err != nil {
				return err
			}
		}
		unit, err := unitFile(p, s)
		if err != nil {
			return err
		}
		if err := t.add(hostPath(unitPath(s.Unit)), 0o644, unit, s.Unit); err != nil {
			return err
		}
	}
	return nil
}

func envFile(env []plan.EnvVar) ([]byte, error) {
	sorted := append([]plan.EnvVar(nil), env...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var b strings.Builder
	b.WriteString(generatedHeader)
	for _, e := range sorted {
		line, err := escape.EnvFileValue(e.Name, e.Value)
		if err != nil {
			return nil, err
		}
		b.WriteString(line + "\n")
	}
	return []byte(b.String()), nil
}

func unitFile(p *plan.Plan, s plan.Service) ([]byte, error) {
	docker := []string{dockerEnv, "docker"}
	after := append([]string{"docker.service"}, s.Requires...)
	after = append(after, s.Wants...)
	d := unitData{
		Description: escape.SystemdValue(s.Description),
		Docker:      escape.SystemdArgv(docker),
		Name:        s.Unit,
		Create:      createLine(p, s),
		Requires:    append([]string{"docker.service"}, suffix(s.Requires)...),
		PartOf:      suffix(s.Requires), // restarting a dependency restarts its dependants
		Wants:       suffix(s.Wants),
		After:       suffix(after),
		StopTimeout: s.StopTimeout,
		TimeoutStop: s.StopTimeout + 30,
	}
	d.After[0] = "docker.service"
	if !s.Security.ImageUser && !fixedIDs(p.Host) {
		d.HostEnv = HostEnvFile(p.Host)
	}
	if s.Security.Why != "" {
		d.Notes = []string{escape.SystemdValue("hardening relaxed: " + s.Security.Why)}
	}
	if !s.HostNetwork {
		for _, n := range s.Networks[min(1, len(s.Networks)):] {
			connect := append(slices.Clone(docker), "network", "connect")
			if alias, ok := networkAlias(s); ok {
				connect = append(connect, "--alias", alias)
			}
			d.Connect = append(d.Connect, escape.SystemdArgv(append(connect, n, s.Unit)))
		}
	}
	var b strings.Builder
	if err := parsed.ExecuteTemplate(&b, "unit.service.tmpl", d); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

func suffix(units []string) []string {
	out := make([]string, len(units))
	for i, u := range units {
		if !strings.Contains(u, ".") {
			u += ".service"
		}
		out[i] = u
	}
	return out
}

// createLine is the docker create command of a service, hardened: no
// capabilities, no privilege gain, read-only root, the matrix user, and
// logs straight to journald through the attached start.
func createLine(p *plan.Plan, s plan.Service) string {
	args := []string{dockerEnv, "docker", "create", "--rm", "--name=" + s.Unit, "--log-driver=none"}
	if !s.Security.ImageUser {
		args = append(args, userArg(p.Host))
	}
	args = append(args, "--cap-drop=ALL")
	for _, c := range s.Security.CapAdd {
		args = append(args, "--cap-add="+c)
	}
	args = append(args, "--security-opt=no-new-privileges")
	if !s.Security.WritableRoot {
		args = append(args, "--read-only")
	}
	for _, t := range s.Tmpfs {
		args = append(args, "--tmpfs="+t+":rw,noexec,nosuid,size=64m")
	}
	if s.HostNetwork {
		args = append(args, "--network=host")
	} else if len(s.Networks) > 0 {
		args = append(args, "--network="+s.Networks[0])
		if alias, ok := networkAlias(s); ok {
			args = append(args, "--network-alias="+alias)
		}
	}
	for _, pub := range s.Publish {
		host := fmt.Sprint(pub.HostPort)
		if pub.HostAddress != "" {
			host = bracketIPv6(pub.HostAddress) + ":" + host
		}
		args = append(args, fmt.Sprintf("--publish=%s:%d/%s", host, pub.ContainerPort, pub.Protocol))
	}
	if len(s.Env) > 0 {
		args = append(args, "--env-file="+envFilePath(p.Host, s.Unit))
	}
	if s.EnvFile != "" {
		args = append(args, "--env-file="+s.EnvFile)
	}
	for _, m := range s.Mounts {
		mount := "--mount=type=bind,src=" + m.Source + ",dst=" + m.Target
		if m.ReadOnly {
			mount += ",readonly"
		}
		args = append(args, mount)
	}
	if s.Entrypoint != "" {
		args = append(args, "--entrypoint="+s.Entrypoint)
	}
	args = append(args, s.Image)
	args = append(args, s.Command...)
	line := escape.SystemdArgv(args)
	return strings.Replace(line, userSentinel, userFromEnv, 1)
}

// networkAlias is the name other containers reach s by when it is not the
// container's own name (a unit name no hostname may carry); Docker's DNS
// answers for both on every network the container joins.
func networkAlias(s plan.Service) (string, bool) {
	return s.Address, s.Address != "" && s.Address != s.Unit
}

func fixedIDs(h plan.Host) bool { return h.UID != nil && h.GID != nil }

func userArg(h plan.Host) string {
	if fixedIDs(h) {
		return fmt.Sprintf("--user=%d:%d", *h.UID, *h.GID)
	}
	return userSentinel
}
