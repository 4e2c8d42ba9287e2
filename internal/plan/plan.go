// Package plan is the compiled form of a config: plain data that every
// renderer reads and none writes. It knows no file format and no component;
// where a thing runs (host, address) is data, so that renderers for several
// hosts can later read the same Plan.
package plan

import (
	"io/fs"
	"regexp/syntax"
	"strings"
)

// Plan is everything one deployment consists of.
type Plan struct {
	Host        Host
	Networks    []string
	Services    []Service
	Entrypoints []Entrypoint
	Routes      []Route
	Files       []File
	Dirs        []Dir
	Secrets     []Secret
	Databases   []Database
	// Health lists what install.sh waits for after starting units, in order.
	Health []HealthCheck
	// Proxy says which reverse proxy serves Routes and where its
	// route-derived configuration goes.
	Proxy Proxy
	// Homeserver is what the maintenance scripts back up, restore and
	// import into.
	Homeserver Homeserver
	// Postgres is the bundled database server; nil when the databases
	// are on an external one.
	Postgres *Postgres
	// AuthService is the authentication service Synapse delegates logins
	// to, for the script that moves Synapse's accounts into it; nil when
	// Synapse keeps its own logins.
	AuthService *AuthService

	// Jobs are the commands the host runs on a schedule.
	Jobs []Job
	// Probes are the requests bin/self-check.sh sends to the public
	// routes through the proxy, with the answers a working server gives.
	Probes []Probe
	// Backup is how the scheduled backup runs; nil when none is.
	Backup *Backup
	// StateCompressor is how bin/compress-state.sh runs Synapse's state
	// compressor; nil when it is off.
	StateCompressor *StateCompressor
	// Subnets holds the addresses of each network of Networks, by name:
	// install.sh creates the networks with them, so that they are known
	// before the host has them.
	Subnets map[string]Subnets
	// Cluster is what the Kubernetes target needs beyond the rest of
	// the Plan; the host bundle does not read it.
	Cluster Cluster
}

// Cluster places the deployment in a Kubernetes cluster.
type Cluster struct {
	Namespace    string
	StorageClass string // "" for the cluster's default class
	// MediaSize is the volume size of the directory holding
	// Homeserver.MediaStore; DataSize that of every other data volume.
	MediaSize, DataSize string
	Routes              string // ClusterGateway or ClusterIngress
	GatewayClass        string
	TLSSecret           string // the certificate of every public hostname
	IngressClass        string // "" for the cluster's default class
	// Requests holds what each service's and each job's container asks
	// the scheduler for, by unit.
	Requests map[string]Resources
}

// How the cluster target exposes the routes.
const (
	ClusterGateway = "gateway"
	ClusterIngress = "ingress"
)

// Resources are Kubernetes quantities ("250m", "512Mi").
type Resources struct{ CPU, Memory string }

// Postgres is the bundled PostgreSQL server as the maintenance and
// upgrade scripts need it: they stop and start it, and an upgrade
// compares the major version its data was made with to this one.
type Postgres struct {
	Unit    string
	Major   int    // the major version the unit runs
	DataDir string // host directory of its data
}

// AuthService is Matrix Authentication Service as bin/syn2mas.sh needs
// it: it runs the service's image once beside the stopped homeserver,
// with the service's own mounts and Synapse's earlier config.
type AuthService struct {
	Unit    string // the service's unit
	Image   string
	Network string // a network on which both databases are reached
	// Mounts are the unit's bind mounts, so that the one-off container
	// reads the config and secrets the service reads.
	Mounts     []Mount
	ConfigFile string // config.yaml as the container sees it
	// DataDir is the host directory where the script keeps Synapse's
	// config from before the switch and its marker of a finished
	// migration.
	DataDir string
}

// Job is a command the host runs on a schedule: a oneshot service started
// by a timer of the same name. It runs on the host as root, not in a
// container: the maintenance scripts it runs reach the containers
// themselves. A run that fails leaves the service failed.
type Job struct {
	Unit        string // name of the .service and the .timer, without the suffix
	Description string
	Command     []string // run on the host
	// Schedule is a systemd calendar event; a run missed while the host
	// was off is made up at the next boot.
	Schedule string
	// RandomDelaySeconds spreads the start, so that hosts sharing a
	// repository or a disk do not all start at once.
	RandomDelaySeconds int
	// After are units the job runs after when they start together.
	After []string
}

// Probe is one request the self-check sends to a public hostname through
// the proxy, and what the answer must be: status 200, and the rest where
// set. The component that routes the path says what a good answer is.
type Probe struct {
	Name       string // names the check in the report: "well-known server on example.org"
	Host       string
	Entrypoint string // the role of the entrypoint it is sent to
	Path       string
	// ContentType is the media type the answer must have; "" for any.
	ContentType string
	// CORS: the answer must allow every origin
	// (Access-Control-Allow-Origin: *), as browsers need of it.
	CORS bool
	// Contains is a text the body must hold; "" for any.
	Contains string
}

// StateCompressor is synapse_auto_compressor as the script that runs it
// needs it: a one-off container of Image on Network, which reads the
// database's location (with the password filled in) from EnvFile.
type StateCompressor struct {
	Container, Image, Network string
	EnvFile                   string // host path, root's
	Database                  string // Synapse's, which the cluster target finds on the bundled server
	ChunkSize, Chunks         int
}

// Backup is what the scheduled backup does after backup.sh has written a
// backup into Directory.
type Backup struct {
	Directory string
	KeepLocal int  // newest local backups kept; 0 keeps all
	Media     bool // with Synapse's own media
	// Tool sends each backup off the host: "restic", "borg", or "" for
	// none; Repository and PasswordFile are then set.
	Tool, Repository, PasswordFile string
	// EnvironmentFile holds the variables the tool needs (credentials);
	// "" for none.
	EnvironmentFile                    string
	KeepDaily, KeepWeekly, KeepMonthly int
	// MetricsFile is where a successful run writes the time it finished,
	// for node_exporter's textfile collector; "" without monitoring.
	MetricsFile string
	// StampFile is where a successful run writes the time it finished,
	// in seconds since the epoch, for bin/self-check.sh.
	StampFile string
	// MaxAgeHours is how old the last successful run may be before the
	// self-check and the alert call it missing.
	MaxAgeHours int
}

// Homeserver says where the homeserver keeps what maintenance touches.
type Homeserver struct {
	Unit       string // the main process's unit; also the container admin tools run in
	ConfigFile string // homeserver.yaml as the container sees it
	ClientPort int    // the client API inside the container
	MediaStore string // host directory of the media store
	Database   string // name of its database

	// FederationPort is the port inside the container that serves the
	// federation API: a listener of its own (Synapse's), or ClientPort for
	// a program that serves every API on one port.
	FederationPort int
	// Implementation names the homeserver program (synapse, dendrite,
	// continuwuity, tuwunel), for messages and the scripts' comments.
	Implementation string
	// StoreDir is a host directory holding the homeserver's own database
	// (an embedded RocksDB): backup.sh copies it, and restore.sh puts it
	// back, with Unit stopped, the consistent copy its makers document.
	// Empty when its state is in PostgreSQL and MediaStore.
	StoreDir string
	// SynapseTools: the image carries Synapse's admin tools
	// (synapse_port_db) and Synapse's media store layout, which the
	// import scripts use.
	SynapseTools bool
	// Accounts is the homeserver's own tool that registers a user with
	// the registration shared secret, which register-user.sh runs; nil
	// when its image has none.
	Accounts *AccountTool
}

// AccountTool is a program in the homeserver's main container that
// registers one user through the registration shared secret, reading the
// password from its standard input, so that neither is ever on a command
// line.
type AccountTool struct {
	Command  []string // the program and its fixed arguments
	UserFlag string   // precedes the localpart
	// AdminFlag makes a server admin; NotAdminFlag, if the tool has one,
	// says the opposite (otherwise a tool asks on a terminal).
	AdminFlag, NotAdminFlag string
	// ExistsOKFlag is the tool's own flag to succeed for a user that
	// exists; without one, InUse is what its output carries in that case
	// (the Matrix error code), which register-user.sh recognises.
	ExistsOKFlag, InUse string
	// Last are arguments that must follow the flags (a positional one).
	Last []string
}

// Proxy is the reverse proxy in front of the services.
type Proxy struct {
	Type      string // "traefik", "nginx", "caddy", "apache"
	ConfigDir string // host directory of Traefik's generated route configuration
	Unit      string // unit to restart when the routes change
	// CertResolver names the ACME resolver routes on TLS entrypoints use.
	CertResolver string
	// CertificateDir holds <hostname>/fullchain.pem and privkey.pem for
	// webservers that read certificate files.
	CertificateDir string
	// TrustedProxies are networks whose X-Forwarded-* headers are believed.
	TrustedProxies []string
	// TooLarge is the answer to an upload over a route's MaxBodyBytes.
	TooLarge TooLarge
	// PoolRejoinSeconds is the longest a pool's server stays out of the
	// rotation once it answers again after failing: how long the proxy
	// leaves it alone, or how often it checks it. install.sh waits as long
	// after a restarted server of a pool is healthy before it restarts the
	// next one, so that the proxy never finds them all out.
	PoolRejoinSeconds int
}

// TooLarge is what every proxy answers, with status 413, to a body over a
// route's MaxBodyBytes: the Matrix error shape that Synapse itself sends
// and clients parse, where the proxy's own page would be HTML or text.
type TooLarge struct {
	Body string // a JSON object with errcode M_TOO_LARGE, served as application/json
	// Path and Backend: Body as a file that Backend serves at Path, for a
	// proxy that cannot answer with a body of its own (Traefik). No route
	// leads to Path, so clients cannot ask for it. Empty when nothing
	// serves it.
	Path    string
	Backend Backend
}

// SecretPlaceholder is the text install.sh replaces with the secret's value
// when it installs a file that names the secret in File.Secrets.
func SecretPlaceholder(secret string) string {
	return "__MATRIXGEN_SECRET_" + secret + "__"
}

// SecretRef marks a string value of a structured file as a secret
// placeholder, so that encoders can quote it for any value install.sh
// puts there.
type SecretRef string

// Placeholder returns the text install.sh replaces.
func (s SecretRef) Placeholder() string { return SecretPlaceholder(string(s)) }

// Host describes the machine the bundle is applied to.
type Host struct {
	Domain  string // the Matrix server name, recorded so a bundle refuses another domain's host
	DataDir string
	User    string
	Group   string
	UID     *int
	GID     *int
	// SecretsDir holds one file per secret, created on the host.
	SecretsDir string
	// InstallDocker lets install.sh install Docker from the distribution's
	// packages when it is missing.
	InstallDocker bool
}

// Service is one long-running container, run by one systemd unit.
type Service struct {
	Unit        string // unit name without ".service"; also the container name
	Description string
	Image       string
	Entrypoint  string   // overrides the image's entrypoint when set
	Command     []string // arguments after the image
	Env         []EnvVar // non-secret environment, sorted by the renderer
	EnvFile     string   // host path of an env file with placeholders filled on the host
	Mounts      []Mount
	Tmpfs       []string // container paths of tmpfs mounts
	Networks    []string // Docker networks; the first is the one the container starts on
	HostNetwork bool     // share the host's network stack (no Networks then)
	Publish     []Publish
	Security    Security
	Requires    []string // units this one cannot run without (started first, stopped with)
	Wants       []string // units started first if present
	// Listens names the ports the container serves, for routes and health checks.
	Listens []Listen
	// Address is how other containers on its networks reach it.
	Address     string
	StopTimeout int // seconds
	// RestartGroup names the pool the service serves requests in with
	// others (the Backends of balancing routes). Services of one group
	// restart one at a time, each healthy before the next, and not with
	// the units they require, so that applying a change never leaves the
	// pool without a server.
	RestartGroup string
	// HostBinds are the ports a HostNetwork service binds on the host
	// itself. Nothing publishes them; they are stated so that a clash
	// with a published port is found before the service fails to start.
	HostBinds []Publish
	Origin    Origin
}

// Origin is the config path ("bridges.hookshot.host_port") of the option
// a part of the plan came from. A conflict between two parts is reported
// at the later one's origin, in the user's file, and names the other's.
type Origin string

// Security is the container's hardening. The zero value is the strictest;
// each relaxation carries the reason, written next to it in the unit.
type Security struct {
	ImageUser    bool // run as the image's own user instead of the host's matrix user
	WritableRoot bool
	CapAdd       []string
	Why          string
}

type EnvVar struct{ Name, Value string }

type Mount struct {
	Source   string // host path
	Target   string // container path
	ReadOnly bool
}

// Subnets are the addresses of one Docker network.
type Subnets struct {
	Role           string // which network of the config it is: "homeserver" or "proxy"
	IPv4, Gateway4 string // a subnet in CIDR notation and the host's address on it
	IPv6, Gateway6 string // "" for a network without IPv6
}

type Publish struct {
	HostAddress string // "" for every address
	HostPort    int
	// LastHostPort ends a range of host ports that starts at HostPort
	// (HostBinds only); 0 for the one port.
	LastHostPort  int
	ContainerPort int
	Protocol      string // "tcp" or "udp"
	Origin        Origin // the service's when empty
}

type Listen struct {
	Name string // "client", "federation", "metrics", "http"
	Port int
	// HostPort is where the port is published on the proxy's bind address
	// when the proxy runs outside Docker (the operator's own webserver).
	HostPort int
	// Path and Job, for a "metrics" listener: where Prometheus scrapes it,
	// and the job its samples belong to (the processes of one program
	// share a job and differ by instance).
	Path, Job string
	// Origin is the option that chose HostPort, when one did; the
	// service's otherwise.
	Origin Origin
}

// The roles of public entrypoints. Components attach routes to a role; the
// proxy decides which listener serves each role.
const (
	EntrypointClient     = "client"
	EntrypointFederation = "federation"
	// EntrypointInternal serves the client API to the homeserver's own
	// containers (bridges, bots) inside Docker, with the public routes;
	// it is published nowhere and matches any hostname.
	EntrypointInternal = "internal"
)

// Entrypoint is a public port the reverse proxy accepts requests on.
type Entrypoint struct {
	Name        string // a role: EntrypointClient, EntrypointFederation
	ProxyName   string // the proxy's own name for its listener, where it has one
	HostAddress string // "" for every address
	HostPort    int    // 0 for EntrypointInternal, which the host does not publish
	// ProxyPort is the port inside the proxy's container, where
	// containers reach EntrypointInternal.
	ProxyPort int
	TLS       bool
}

// Route sends requests for Host and a path to a service's port, or to a
// pool of them.
//
// A request is matched against the routes of its hostname and entrypoint,
// and the matching route with the highest Priority wins. A route matches
// by PathPrefix or, when that is empty, by PathRegex; never both.
type Route struct {
	Name       string
	Host       string // "" on EntrypointInternal only: any hostname
	PathPrefix string // "/" for everything; "" when PathRegex is set
	// PathRegex matches the request path (without the query string). It
	// starts with "^" and a literal prefix of at least "/_", and uses only
	// the syntax RE2 (Go, Traefik) and PCRE (nginx, Apache, Caddy) read the
	// same way: no lookaround, no backreferences, no \d-style classes.
	// Proxies match it against the path as they route (nginx and Apache:
	// the decoded path); RegexPrefix gives its literal prefix.
	PathRegex  string
	Entrypoint string
	Service    string // unit name of the backend; of the first of Backends
	Port       int    // the backend's port inside its container
	// Upstream is the host:port the proxy connects to, decided once for
	// the chosen proxy: a container address inside Docker, or the address
	// a container publishes for a webserver on the host.
	Upstream string
	// Backends is set when the route spreads requests over several
	// servers (at least two); Service, Port and Upstream then repeat
	// Backends[0]. Servers() lists the backends of any route.
	Backends []Backend
	// Pool names Backends together with Balance: routes with one Pool have
	// the same servers and policy, so a renderer declares the group once.
	Pool    string
	Balance Balance
	// Priority orders routes whose matches overlap: higher wins.
	Priority int
	// StripPrefix hands the backend the path without PathPrefix, which
	// then ends in "/": the backend sees "/" and what followed. For
	// applications that serve from the root of a host of their own.
	//
	// Such an application loads its files by relative URLs, which a
	// browser at the prefix without its "/" would resolve outside it. So
	// that path (BarePrefix) is a permanent redirect to PathPrefix on the
	// same host, with the query kept, even where a shorter prefix's route
	// would take the path. nginx redirects so by itself (a prefix location
	// ending in "/" with proxy_pass); every other renderer writes the
	// redirect.
	StripPrefix bool
	Settings    RouteSettings
	Origin      Origin
}

// Backend is one server a route sends requests to.
type Backend struct {
	Service  string // unit name
	Port     int    // port inside its container
	Upstream string // host:port the proxy connects to, as Route.Upstream
}

// Servers lists the route's backends: Backends, or the single one.
func (r Route) Servers() []Backend {
	if len(r.Backends) > 0 {
		return r.Backends
	}
	return []Backend{{Service: r.Service, Port: r.Port, Upstream: r.Upstream}}
}

// Balance says how a route with several Backends chooses one.
type Balance struct {
	// By is the policy: BalanceLeastConn, BalanceUser or BalanceRoom.
	By string
	// Strict: requests with one key must reach one server for Synapse to
	// answer correctly, not only to find warm caches. A proxy that cannot
	// hash on the key then sends every request of the route to
	// Backends[0]; without Strict it may spread them as it can.
	Strict bool
}

// Balance policies.
const (
	// BalanceLeastConn sends a request to the server with the fewest open
	// requests; round robin where the proxy has nothing better.
	BalanceLeastConn = "least-conn"
	// BalanceUser hashes on the access token, so that one session's
	// requests (its /sync long-polls) meet one worker's caches: the token of
	// the "Authorization: Bearer" header, else the access_token query
	// parameter. Consistent hashing, so that a change in the pool moves few
	// users.
	BalanceUser = "user"
	// BalanceRoom hashes on the room ID in the path (RoomIDPattern), so
	// that one room's requests reach one worker. Consistent hashing.
	BalanceRoom = "room"
)

// RoomIDPattern finds the room of a request for BalanceRoom: its one
// group is the path segment after /rooms/ in the client API, or after the
// endpoint's name in the federation API. Proxies apply it to the decoded
// path where they can, so that "!a:b" and "%21a%3Ab" are one room.
// Requests it does not match hash on the whole path.
const RoomIDPattern = `^/_matrix/(?:client/[^/]+(?:/[^/]+)?/rooms|federation/v[0-9]+/[a-z_]+)/([^/]+)`

// RegexPrefix is the literal text every path PathRegex matches starts with.
func RegexPrefix(re string) string {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return ""
	}
	subs := []*syntax.Regexp{parsed}
	if parsed.Op == syntax.OpConcat {
		subs = parsed.Sub
	}
	if subs[0].Op != syntax.OpBeginText {
		return "" // unanchored: a match may start anywhere
	}
	var b strings.Builder
	for _, sub := range subs[1:] {
		switch {
		case sub.Op == syntax.OpLiteral && sub.Flags&syntax.FoldCase == 0:
			b.WriteString(string(sub.Rune))
		default:
			return b.String()
		}
	}
	return b.String()
}

type RouteSettings struct {
	MaxBodyBytes int64
	Headers      []EnvVar // response headers added by the proxy
	CORS         bool
	AllowIPs     []string // client networks allowed; empty allows all
	// WebSocket: clients upgrade the route's connections to WebSocket
	// (maubot's live log view), which then stay open and may idle for
	// long. Traefik and Caddy pass an upgrade on any route; nginx and
	// Apache forward one only where told to, and would otherwise close an
	// idle tunnel after their usual read timeout.
	WebSocket bool
}

// AnyList copies a list into the []any that a File's Value holds for a
// list, the one shape of list the YAML and JSON encoders handle.
func AnyList[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// Format tells how a File's Value becomes bytes.
type Format int

const (
	Raw  Format = iota // Content is the bytes
	YAML               // Value is marshalled as YAML 1.1-safe YAML
	JSON               // Value is marshalled as indented JSON
	TOML               // Value is marshalled as TOML, nested maps as tables
)

// File is one file the bundle installs on the host.
type File struct {
	Path    string // absolute host path
	Mode    fs.FileMode
	Owner   string // "root" or "" for the host's matrix user
	Format  Format
	Content []byte
	Value   any
	// Secrets names the secrets whose placeholders the file holds;
	// install.sh fills them on the host, and the file then stays private.
	Secrets []string
	// Restarts lists the units to restart when the file changes.
	Restarts []string
	Origin   Origin
}

// Dir is a directory install.sh creates.
type Dir struct {
	Path  string
	Mode  fs.FileMode
	Owner string // "root", "" for the host's matrix user, or a numeric "uid:gid" of an image's own user
}

// SecretKind says how install.sh makes a missing secret.
type SecretKind int

const (
	RandomToken SecretKind = iota // random letters and digits from the kernel CSPRNG
	Provided                      // the operator must put it in place; install.sh stops if missing
	SigningKey                    // a Synapse ed25519 signing key: 32 random bytes, never replaced
	// RSAKey is an RSA private key in PEM of Length bits, made with
	// openssl and never replaced. Like ProvidedKey, it spans lines, so a
	// program reads it from its file: no File names it in Secrets.
	RSAKey
	// ProvidedKey is a private key in PEM the operator puts in place (an
	// outside service issues it); install.sh stops while it is missing.
	ProvidedKey
	// MatrixPEMKey is an ed25519 signing key in the PEM form Dendrite
	// reads ("MATRIX PRIVATE KEY" with a Key-ID header): 32 random bytes,
	// never replaced.
	MatrixPEMKey
	// ECKey is an elliptic-curve (P-256) private key in PEM, made with
	// openssl and never replaced; like RSAKey, read from its own file.
	ECKey
	// HexKey is Length random hexadecimal digits with no final newline,
	// for a program that decodes its key file as hex (MAS's encryption
	// key) and refuses anything else in it.
	HexKey
)

// IsPEMKey tells the kinds whose value spans lines: a program reads them
// from their own file, never filled into another.
func (k SecretKind) IsPEMKey() bool {
	return k == RSAKey || k == ProvidedKey || k == ECKey || k == MatrixPEMKey
}

// Secret is a value that exists only on the host.
type Secret struct {
	Name        string // file name in Host.SecretsDir
	Kind        SecretKind
	Length      int
	Description string
	Readers     []string // units that read it
	// Path overrides the secret's location (default: Host.SecretsDir/Name).
	Path string
	// ImportFrom is a host path copied into place when the secret is missing
	// (migration from an earlier installation).
	ImportFrom string
	// Origin is where the secret was first declared; other readers may
	// come from elsewhere.
	Origin Origin
}

// Database is one PostgreSQL database and its role.
type Database struct {
	Name           string
	Role           string
	Owner          string // unit of the service that uses it
	Server         string // unit of the database server that holds it
	Superuser      string // role that creates it on that server
	PasswordSecret string
	// CLocale: created with C collation and ctype (Synapse requires it).
	CLocale bool
}

// HealthCheck is how install.sh knows a started unit is ready.
type HealthCheck struct {
	Unit    string
	Command []string // run on the host; exit 0 means healthy
	Timeout int      // seconds
}

// RegexCanMatchUnder tells whether regex re (anchored with "^") matches
// some path that starts with prefix. Renderers that nest regex routes in
// prefix locations use it to nest each only where it can apply. It runs
// re's automaton over the prefix: the answer is yes when a thread of it
// survives the whole prefix or matched on the way.
func RegexCanMatchUnder(re, prefix string) bool {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return true // not ours to judge: keep the route everywhere
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return true
	}
	var threads []uint32
	seen := map[uint32]bool{}
	matched := false
	// add follows the instructions that consume nothing from pc.
	var add func(pc uint32, atStart bool)
	add = func(pc uint32, atStart bool) {
		if seen[pc] {
			return
		}
		seen[pc] = true
		in := prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			add(in.Out, atStart)
			add(in.Arg, atStart)
		case syntax.InstCapture, syntax.InstNop:
			add(in.Out, atStart)
		case syntax.InstEmptyWidth:
			op := syntax.EmptyOp(in.Arg)
			switch {
			case op&(syntax.EmptyEndText|syntax.EmptyEndLine) != 0:
				// Holds only where the path ends: alive if the prefix
				// ends here, dead at its next character.
				threads = append(threads, pc)
			case op&(syntax.EmptyBeginText|syntax.EmptyBeginLine) != 0:
				if atStart {
					add(in.Out, atStart)
				}
			default:
				add(in.Out, atStart) // a word boundary: never in routes; assume it holds
			}
		case syntax.InstMatch:
			matched = true
		default:
			threads = append(threads, pc)
		}
	}
	add(uint32(prog.Start), true)
	for _, r := range prefix {
		if matched {
			return true
		}
		current := threads
		threads, seen = nil, map[uint32]bool{}
		for _, pc := range current {
			in := prog.Inst[pc]
			if in.Op == syntax.InstEmptyWidth {
				continue // "$" before more of the prefix
			}
			if in.MatchRune(r) {
				add(in.Out, false)
			}
		}
		if len(threads) == 0 && !matched {
			return false
		}
	}
	return matched || len(threads) > 0
}
