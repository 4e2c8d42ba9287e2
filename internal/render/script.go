package render

import (
	"fmt"
	"sort"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// installData is what install.sh.tmpl prints. Values in heredoc tables are
// restricted by the schema to characters without meaning to sh (paths,
// names, modes); values in code pass through the sh escaper.
type installData struct {
	Domain, DataDir, User, Group, UID, GID, SecretsDir, HostEnv string
	Dirs                                                        dirSteps
	Secrets                                                     []secretRow
	Networks                                                    []string
	NetworkRows                                                 []networkRow
	NetworkFormat                                               string
	Units                                                       []unitRow
	InstallDocker                                               bool
	PoolRejoinSeconds                                           int
}

// dirSteps are install.sh's directory steps: every directory made in one
// call, then one call for each mode and each owner, rather than three for
// each directory (a bundle has dozens; each call is a process).
type dirSteps struct {
	Paths         []string
	Modes, Owners []dirGroup
}

type dirGroup struct {
	Key   string // a mode, or an owner column (see ownerName)
	Paths []string
}

func groupDirs(dirs []plan.Dir) dirSteps {
	var steps dirSteps
	add := func(groups []dirGroup, key, path string) []dirGroup {
		for i := range groups {
			if groups[i].Key == key {
				groups[i].Paths = append(groups[i].Paths, path)
				return groups
			}
		}
		return append(groups, dirGroup{key, []string{path}})
	}
	for _, dir := range dirs {
		steps.Paths = append(steps.Paths, dir.Path)
		steps.Modes = add(steps.Modes, fmt.Sprintf("%04o", dir.Mode.Perm()), dir.Path)
		steps.Owners = add(steps.Owners, ownerName(dir.Owner), dir.Path)
	}
	return steps
}

// networkRow is one line of install.sh's network table: the config's
// name for the network's addresses (host.networks.addresses.<role>), and
// its subnets and gateways, "-" for none.
type networkRow struct{ Name, Role, Subnet4, Gateway4, Subnet6, Gateway6 string }

// NetworkInspectFormat is the Go template install.sh gives docker network
// inspect: one "subnet gateway" line for each of the network's subnets,
// as install.sh's network table writes them.
const NetworkInspectFormat = "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{println}}{{end}}"

type secretRow struct{ Name, Kind, Length, Path, Import, Description string }

type fileRow struct{ Mode, Owner, Path, Secrets string }

type unitRow struct {
	Name      string
	Health    []plan.HealthCheck
	Timeout   int             // seconds: the longest of its health checks' timeouts
	Databases []plan.Database // made before the unit starts
}

// ownerName is the owner column of install.sh's tables: root, matrix (the
// configured user) or a numeric uid:gid.
func ownerName(owner string) string {
	if owner == "" {
		return "matrix"
	}
	return owner
}

func optionalID(id *int) string {
	if id == nil {
		return ""
	}
	return fmt.Sprint(*id)
}

var secretKinds = map[plan.SecretKind]string{
	plan.RandomToken: "random", plan.Provided: "provided", plan.SigningKey: "signing-key",
	plan.RSAKey: "rsa-key", plan.ProvidedKey: "provided-key", plan.MatrixPEMKey: "matrix-pem-key",
	plan.ECKey: "ec-key", plan.HexKey: "hex",
}

func installScript(p *plan.Plan) ([]byte, error) {
	if err := keysStayInTheirFiles(p); err != nil {
		return nil, err
	}
	h := p.Host
	d := installData{
		Domain: h.Domain, DataDir: h.DataDir, User: h.User, Group: h.Group,
		UID: optionalID(h.UID), GID: optionalID(h.GID), SecretsDir: h.SecretsDir, HostEnv: HostEnvFile(h),
		Networks: p.Networks, InstallDocker: h.InstallDocker, PoolRejoinSeconds: p.Proxy.PoolRejoinSeconds,
	}
	d.NetworkRows, d.NetworkFormat = networkRows(p), NetworkInspectFormat
	d.Dirs = groupDirs(p.Dirs)
	for _, s := range p.Secrets {
		d.Secrets = append(d.Secrets, secretRow{
			Name: s.Name, Kind: secretKinds[s.Kind], Length: fmt.Sprint(max(s.Length, 0)),
			Path: secretPath(h, s), Import: orDash(s.ImportFrom), Description: oneLine(s.Description),
		})
	}
	for _, s := range p.Services {
		row := unitRow{Name: s.Unit, Health: healthOf(p, s.Unit), Databases: databasesOf(p, s.Unit)}
		for _, h := range row.Health {
			row.Timeout = max(row.Timeout, h.Timeout)
		}
		d.Units = append(d.Units, row)
	}
	var b strings.Builder
	if err := parsed.ExecuteTemplate(&b, "install.sh.tmpl", d); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// keysStayInTheirFiles refuses a file that would have install.sh fill in a
// PEM key: its lines would break the file, and install.sh lets them
// through (check_secret is for secrets that are filled in).
func keysStayInTheirFiles(p *plan.Plan) error {
	kinds := map[string]plan.SecretKind{}
	for _, s := range p.Secrets {
		kinds[s.Name] = s.Kind
	}
	for _, f := range p.Files {
		for _, name := range f.Secrets {
			if kinds[name].IsPEMKey() {
				return fmt.Errorf("%s: secret %s is a PEM key, which a program must read from its own file, not filled in", f.Path, name)
			}
		}
	}
	return nil
}

// filesTable is FILES: every host file of the tree with its mode, owner and
// the secrets install.sh fills into it, in the order install.sh installs
// them. Paths are restricted by the schema to characters without meaning to
// sh, and hold no spaces.
func filesTable(p *plan.Plan, t Tree) []byte {
	var b strings.Builder
	for _, r := range installFiles(p, t) {
		fmt.Fprintf(&b, "%s %s %s %s\n", r.Mode, r.Owner, r.Path, r.Secrets)
	}
	return []byte(b.String())
}

// unitsTable is UNITS: every unit with its image, the units it requires
// (and is PartOf), its restart group and its stage, in start order.
// install.sh compares it with the table of the bundle applied before to
// pull only images that changed, starts the units of a stage together, and
// restarts a group's units one at a time.
func unitsTable(p *plan.Plan) []byte {
	services, stages := startOrder(p)
	var b strings.Builder
	for _, s := range services {
		fmt.Fprintf(&b, "%s %s %s %s %d\n", s.Unit, s.Image, orDash(strings.Join(s.Requires, ",")), orDash(s.RestartGroup), stages[s.Unit])
	}
	return []byte(b.String())
}

// installFiles lists every host file of the tree with its owner and the
// secrets install.sh fills into it.
func installFiles(p *plan.Plan, t Tree) []fileRow {
	fromPlan := map[string]plan.File{}
	for _, f := range p.Files {
		fromPlan[hostPath(f.Path)] = f
	}
	var rows []fileRow
	for _, path := range t.Paths() {
		if t[path].BundleOnly {
			continue
		}
		f := fromPlan[path]
		owner := "root"
		if _, ok := fromPlan[path]; ok {
			owner = ownerName(f.Owner)
		}
		rows = append(rows, fileRow{fmt.Sprintf("%04o", t[path].Mode.Perm()), owner, "/" + path, orDash(strings.Join(f.Secrets, ","))})
	}
	return rows
}

func secretPath(h plan.Host, s plan.Secret) string {
	if s.Path != "" {
		return s.Path
	}
	return h.SecretsDir + "/" + s.Name
}

func healthOf(p *plan.Plan, unit string) []plan.HealthCheck {
	var out []plan.HealthCheck
	for _, c := range p.Health {
		if c.Unit == unit {
			out = append(out, c)
		}
	}
	return out
}

func databasesOf(p *plan.Plan, owner string) []plan.Database {
	var out []plan.Database
	for _, db := range p.Databases {
		if db.Owner == owner {
			out = append(out, db)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// networkRows lists the networks with their addresses. The role names the
// options to change when the host has the network with other addresses.
func networkRows(p *plan.Plan) []networkRow {
	var rows []networkRow
	for _, n := range p.Networks {
		s, ok := p.Subnets[n]
		if !ok {
			panic("network " + n + " has no addresses")
		}
		rows = append(rows, networkRow{Name: n, Role: s.Role, Subnet4: s.IPv4, Gateway4: s.Gateway4,
			Subnet6: orDash(s.IPv6), Gateway6: orDash(s.Gateway6)})
	}
	return rows
}
