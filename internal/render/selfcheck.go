package render

import (
	"path"
	"slices"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// selfCheckData is what self-check.sh.tmpl prints; every value passes
// through the sh escaper.
type selfCheckData struct {
	Script       string
	Units        []string // service units, with their suffix
	Jobs         []string // jobs, without a suffix: their timer and service
	Probes       []probeRow
	Certificates []certificateRow
	Disks        []string // paths whose file systems must have room
	Backup       plan.Backup
}

// probeRow is a probe placed on the host: the address and port the
// proxy takes its entrypoint's requests on.
type probeRow struct {
	plan.Probe
	Scheme, Address string
	Port            int
}

type certificateRow struct {
	Host, Address string
	Port          int
}

// loopbackFor is where a request for an entrypoint bound to address goes
// from the host itself: the address, or loopback for every address.
func loopbackFor(address string) string {
	switch address {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return address
}

func newSelfCheckData(p *plan.Plan) selfCheckData {
	d := selfCheckData{Script: "self-check.sh"}
	for _, s := range p.Services {
		d.Units = append(d.Units, s.Unit+".service")
	}
	for _, j := range p.Jobs {
		d.Jobs = append(d.Jobs, j.Unit)
	}
	entrypoints := map[string]plan.Entrypoint{}
	for _, e := range p.Entrypoints {
		if e.HostPort != 0 {
			entrypoints[e.Name] = e
		}
	}
	for _, pr := range p.Probes {
		e, ok := entrypoints[pr.Entrypoint]
		if !ok {
			continue
		}
		row := probeRow{Probe: pr, Scheme: "http", Address: loopbackFor(e.HostAddress), Port: e.HostPort}
		if e.TLS {
			row.Scheme = "https"
		}
		d.Probes = append(d.Probes, row)
	}
	d.Certificates = certificateRows(p, entrypoints)
	d.Disks = []string{p.Host.DataDir}
	for _, dir := range []string{p.Homeserver.MediaStore, p.Homeserver.StoreDir} {
		if dir != "" && !slices.Contains(d.Disks, dir) {
			d.Disks = append(d.Disks, dir)
		}
	}
	if p.Backup != nil {
		d.Backup = *p.Backup
		if !slices.Contains(d.Disks, p.Backup.Directory) {
			d.Disks = append(d.Disks, p.Backup.Directory)
		}
	}
	return d
}

// certificateRows are the hostnames the proxy serves on TLS entrypoints,
// each once a port, in the order of the routes.
func certificateRows(p *plan.Plan, entrypoints map[string]plan.Entrypoint) []certificateRow {
	var out []certificateRow
	for _, r := range p.Routes {
		e, ok := entrypoints[r.Entrypoint]
		if !ok || !e.TLS || r.Host == "" {
			continue
		}
		row := certificateRow{Host: r.Host, Address: loopbackFor(e.HostAddress), Port: e.HostPort}
		if !slices.Contains(out, row) {
			out = append(out, row)
		}
	}
	return out
}

// renderSelfCheck adds bin/self-check.sh, which install.sh puts in
// DATA_DIR/bin with the other maintenance scripts.
func renderSelfCheck(p *plan.Plan, t Tree) error {
	d := newSelfCheckData(p)
	var b strings.Builder
	if err := parsed.ExecuteTemplate(&b, "self-check.sh.tmpl", d); err != nil {
		return err
	}
	return t.add(hostPath(path.Join(binDir(p.Host), d.Script)), 0o750, []byte(b.String()))
}
