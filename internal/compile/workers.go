package compile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	workerUnitPrefix = synapseUnit + "-worker-"
	// Every worker is a container of its own, so each can use the main
	// process's port numbers; only the host ports published for a
	// webserver on the host differ.
	workerClientPort     = synapseClientPort
	workerFederationPort = synapseFederationPort
	replicationPort      = 9093
	replicationSecret    = "synapse-worker-replication-secret"
	// synapseCPMax is each Synapse process's database connection pool.
	synapseCPMax = 10
)

// The public listeners a worker can have, by plan.Listen name: each
// serves the Synapse resource of the same name.
const (
	listenClient     = "client"
	listenFederation = "federation"
	listenMedia      = "media"
)

// workerKind is one kind of worker: what it runs and which requests it
// can serve.
type workerKind struct {
	typ string // in unit and worker names, as matrix-docker-ansible-deploy names it
	app string // worker_app
	// listens are its public listeners; a kind without any serves no requests.
	listens []string
	// hostPort is the first host port of each listener, published for a
	// webserver on the host; worker n gets hostPort+n. The blocks are
	// fixed per kind, so adding a worker moves no other worker's port.
	hostPort map[string]int
}

const (
	appGeneric = "synapse.app.generic_worker"
	// The media repository keeps its own app: with enable_media_repo off
	// in the shared config, only this worker_app still loads the media
	// repository.
	appMedia = "synapse.app.media_repository"
)

var (
	kindGeneric = workerKind{"generic-worker", appGeneric, []string{listenClient, listenFederation},
		map[string]int{listenClient: 20000, listenFederation: 20500}}
	kindRoom = workerKind{"room-worker", appGeneric, []string{listenClient, listenFederation},
		map[string]int{listenClient: 21000, listenFederation: 21500}}
	kindSync             = workerKind{"sync-worker", appGeneric, []string{listenClient}, map[string]int{listenClient: 22000}}
	kindClientReader     = workerKind{"client-reader", appGeneric, []string{listenClient}, map[string]int{listenClient: 23000}}
	kindFederationReader = workerKind{"federation-reader", appGeneric, []string{listenFederation}, map[string]int{listenFederation: 24000}}
	kindMedia            = workerKind{"media-repository", appMedia, []string{listenMedia}, map[string]int{listenMedia: 25000}}
	kindUserDir          = workerKind{"user-dir", appGeneric, []string{listenClient}, map[string]int{listenClient: 26000}}
	kindFederationSender = workerKind{typ: "federation-sender", app: appGeneric}
	kindPusher           = workerKind{typ: "pusher", app: appGeneric}
	kindAppservice       = workerKind{typ: "appservice", app: appGeneric}
	kindBackground       = workerKind{typ: "background", app: appGeneric}
)

// writerKind is the kind of a stream's writers. The events writers only
// persist events and serve no requests; every other stream has requests
// that must reach its writer (the worker documentation lists them).
func writerKind(stream string) workerKind {
	k := workerKind{typ: "stream-writer-" + stream, app: appGeneric}
	if stream != "events" {
		k.listens = []string{listenClient}
		k.hostPort = map[string]int{listenClient: 27000 + slices.Index(config.Streams, stream)}
	}
	return k
}

// worker is one worker process.
type worker struct {
	kind   workerKind
	stream string // the stream it writes, for a stream writer
	n      int
	name   string // worker_name, and its config file's name
	unit   string
}

// replication: stream writers take writes from the other processes over
// HTTP replication, so they are in instance_map with a listener for it.
func (w worker) replication() bool { return w.stream != "" }

// httpPort is a port the worker answers HTTP on, for its health check.
func (w worker) httpPort() (int, bool) {
	switch {
	case len(w.kind.listens) > 0:
		return listenPort(w.kind.listens[0]), true
	case w.replication():
		return replicationPort, true
	}
	return 0, false
}

func listenPort(listen string) int {
	if listen == listenFederation {
		return workerFederationPort
	}
	return workerClientPort
}

// synapseWorkers lists the workers of the config in a fixed order: the
// kinds that serve requests first, then the stream writers, then the rest.
func synapseWorkers(cfg *config.Config) []worker {
	c := cfg.WorkerCounts()
	var out []worker
	add := func(k workerKind, stream string, count int) {
		for n := range count {
			name := fmt.Sprintf("%s-%d", k.typ, n)
			out = append(out, worker{kind: k, stream: stream, n: n, name: name, unit: workerUnitPrefix + name})
		}
	}
	add(kindGeneric, "", c.Generic)
	add(kindRoom, "", c.Room)
	add(kindSync, "", c.Sync)
	add(kindClientReader, "", c.ClientReader)
	add(kindFederationReader, "", c.FederationReader)
	add(kindMedia, "", c.MediaRepository)
	add(kindUserDir, "", c.UserDir)
	for _, stream := range config.Streams {
		add(writerKind(stream), stream, c.StreamWriters[stream])
	}
	add(kindFederationSender, "", c.FederationSender)
	add(kindPusher, "", c.Pusher)
	add(kindAppservice, "", c.Appservice)
	add(kindBackground, "", c.Background)
	return out
}

func hasWorkers(c *config.Config) bool { return c.WorkerCounts().Total() > 0 }

// synapseProcesses is the number of Synapse processes, each with its own
// database connection pool.
func synapseProcesses(c *config.Config) int { return 1 + c.WorkerCounts().Total() }

// workerSharedConfig is what homeserver.yaml, which every process reads,
// says about the workers. It uses the options current Synapse documents
// (federation_sender_instances, pusher_instances), not the send_federation
// and start_pushers switches they replace.
func workerSharedConfig(ws []worker) obj {
	if len(ws) == 0 {
		return nil
	}
	instances := obj{"main": obj{"host": synapseUnit, "port": replicationPort}}
	writers := obj{}
	var senders, pushers []any
	out := obj{
		"redis":                          obj{"enabled": true, "host": valkeyUnit, "port": valkeyPort},
		"worker_replication_secret_path": secretMount(replicationSecret),
	}
	for _, w := range ws {
		if w.replication() {
			instances[w.name] = obj{"host": containerHostname(w.unit), "port": replicationPort}
		}
		if w.stream != "" {
			list, _ := writers[w.stream].([]any)
			writers[w.stream] = append(list, w.name)
		}
		switch w.kind.typ {
		case kindFederationSender.typ:
			senders = append(senders, w.name)
		case kindPusher.typ:
			pushers = append(pushers, w.name)
		case kindMedia.typ:
			if w.n == 0 {
				out["enable_media_repo"] = false
				out["media_instance_running_background_jobs"] = w.name
			}
		case kindAppservice.typ:
			out["notify_appservices_from_worker"] = w.name
		case kindUserDir.typ:
			out["update_user_directory_from_worker"] = w.name
		case kindBackground.typ:
			out["run_background_tasks_on"] = w.name
		}
	}
	out["instance_map"] = instances
	if len(writers) > 0 {
		out["stream_writers"] = writers
	}
	if len(senders) > 0 {
		out["federation_sender_instances"] = senders
	}
	if len(pushers) > 0 {
		out["pusher_instances"] = pushers
	}
	return out
}

// replicationListener serves the internal replication API; it is on the
// homeserver network only, and the shared secret authenticates callers.
func replicationListener() obj {
	return obj{
		"port": replicationPort, "type": "http", "tls": false, "x_forwarded": false,
		"bind_addresses": []any{"::"},
		"resources":      []any{obj{"names": []any{"replication"}, "compress": false}},
	}
}

func addSynapseWorkers(b *builder) {
	ws := synapseWorkers(b.cfg)
	main := b.mainSynapse()
	configDir := b.dataPath("synapse", "config")
	b.dir(configDir+"/workers", 0o750)
	var units []string
	for _, w := range ws {
		units = append(units, w.unit)
	}
	// Every worker reads homeserver.yaml and what it points to, so it
	// reads the secrets and restarts with the files the main process does.
	for i := range b.plan.Secrets {
		if slices.Contains(b.plan.Secrets[i].Readers, synapseUnit) {
			b.plan.Secrets[i].Readers = append(b.plan.Secrets[i].Readers, units...)
		}
	}
	for i := range b.plan.Files {
		if slices.Contains(b.plan.Files[i].Restarts, synapseUnit) {
			b.plan.Files[i].Restarts = append(b.plan.Files[i].Restarts, units...)
		}
	}
	for _, w := range ws {
		file := configDir + "/workers/" + w.name + ".yaml"
		b.file(plan.File{Path: file, Format: plan.YAML, Value: workerConfig(b, w), Restarts: []string{w.unit}})
		networks := []string{b.cfg.Host.Networks.Homeserver}
		if len(w.kind.listens) > 0 {
			networks = append(networks, b.cfg.Host.Networks.Proxy)
		}
		var listens []plan.Listen
		for _, l := range w.kind.listens {
			listens = append(listens, plan.Listen{Name: l, Port: listenPort(l), HostPort: w.kind.hostPort[l] + w.n})
		}
		if w.replication() {
			listens = append(listens, plan.Listen{Name: "replication", Port: replicationPort})
		}
		if b.cfg.SynapseMetrics() {
			listens = append(listens, synapseMetricsListen(b.cfg))
		}
		b.service(plan.Service{
			Unit:        w.unit,
			Description: "Synapse worker " + w.name,
			Image:       main.Image,
			Entrypoint:  "python3",
			Command: []string{"-m", appGeneric,
				"--config-path=" + synapseConfigDir + "/homeserver.yaml",
				"--config-path=" + synapseConfigDir + "/workers/" + w.name + ".yaml"},
			Mounts:      slices.Clone(main.Mounts),
			Tmpfs:       slices.Clone(main.Tmpfs),
			Networks:    networks,
			Listens:     listens,
			Requires:    append(slices.Clone(main.Requires), synapseUnit),
			StopTimeout: main.StopTimeout,
		})
		if port, ok := w.httpPort(); ok {
			b.health(w.unit, 300, "docker", "exec", w.unit, "curl", "-fsS", "-o", "/dev/null",
				fmt.Sprintf("http://localhost:%d/health", port))
		}
	}
	addWorkerRoutes(b, ws)
	groupPooledWorkers(b, ws)
}

// groupPooledWorkers gives the workers that balancing routes share requests
// between one restart group per kind, so that a change restarts them one
// at a time and their routes always keep a server. A worker no route
// balances over (a single one of its kind, a stream writer, a federation
// sender) restarts with the main process as before.
func groupPooledWorkers(b *builder, ws []worker) {
	pooled := map[string]bool{}
	for _, r := range b.plan.Routes {
		if len(r.Backends) > 1 {
			for _, s := range r.Backends {
				pooled[s.Service] = true
			}
		}
	}
	kinds := map[string]string{}
	for _, w := range ws {
		if pooled[w.unit] {
			kinds[w.unit] = w.kind.typ
		}
	}
	for i, s := range b.plan.Services {
		if kind, ok := kinds[s.Unit]; ok {
			b.plan.Services[i].RestartGroup = kind
		}
	}
}

// mainSynapse is the main process's service, which the workers copy.
func (b *builder) mainSynapse() plan.Service {
	for _, s := range b.plan.Services {
		if s.Unit == synapseUnit {
			return s
		}
	}
	panic("workers compiled before the main Synapse process")
}

// workerConfig is a worker's own config file, read after homeserver.yaml.
func workerConfig(b *builder, w worker) obj {
	var listeners []any
	for _, l := range w.kind.listens {
		listeners = append(listeners, httpListener(listenPort(l), l))
	}
	if w.replication() {
		listeners = append(listeners, replicationListener())
	}
	if m := b.cfg.Synapse.Metrics; b.cfg.SynapseMetrics() {
		listeners = append(listeners, metricsListener(m.Port))
	}
	c := obj{
		"worker_app":        w.kind.app,
		"worker_name":       w.name,
		"worker_log_config": synapseConfigDir + "/" + b.cfg.Domain + ".log.config",
	}
	if len(listeners) > 0 {
		c["worker_listeners"] = listeners
	}
	return c
}

// A pool is the workers that take one kind of request.
type pool struct {
	workers []worker
	listen  string
	balance plan.Balance
	tier    int
}

// Route priorities, by what a route's workers are. Every tier is above any
// prefix route (100 plus the prefix's length), so a worker route wins over
// the main process's catch-all prefixes; a stream writer wins over the
// generic pattern the documentation lists for the same requests, and
// over the media repository for the quarantine API. Inside a tier the
// documentation's order breaks ties, so no two routes share a priority.
const (
	tierPool   = 2000
	tierMedia  = 3000
	tierWriter = 4000
)

// workerTarget decides which workers take an endpoint's requests, or
// none (the main process).
func workerTarget(e endpoint, byKind map[string][]worker) (pool, bool) {
	first := func(listen string, kinds ...workerKind) []worker {
		for _, k := range kinds {
			if ws := byKind[k.typ]; len(ws) > 0 && slices.Contains(k.listens, listen) {
				return ws
			}
		}
		return nil
	}
	g := e.group
	var p pool
	switch g.serve {
	case serveWriter:
		p = pool{workers: byKind[writerKind(g.stream).typ], listen: listenClient, tier: tierWriter}
	case serveUserDir:
		p = pool{workers: byKind[kindUserDir.typ], listen: listenClient, tier: tierWriter}
	case serveMedia:
		p = pool{workers: byKind[kindMedia.typ], listen: listenMedia, tier: tierMedia,
			balance: plan.Balance{By: plan.BalanceLeastConn}}
	case serveSync:
		p = pool{workers: first(listenClient, kindSync, kindGeneric), listen: listenClient, tier: tierPool,
			balance: plan.Balance{By: plan.BalanceUser}}
	case serveClient:
		p = pool{listen: listenClient, tier: tierPool, balance: plan.Balance{By: plan.BalanceLeastConn}}
		if e.room {
			p.workers = first(listenClient, kindRoom, kindGeneric)
			p.balance = plan.Balance{By: plan.BalanceRoom, Strict: g.strict}
		} else {
			p.workers = first(listenClient, kindClientReader, kindGeneric)
		}
	case serveFederation:
		p = pool{listen: listenFederation, tier: tierPool, balance: plan.Balance{By: plan.BalanceLeastConn}}
		if e.room {
			p.workers = first(listenFederation, kindRoom, kindFederationReader, kindGeneric)
			if len(p.workers) > 0 && p.workers[0].kind.typ == kindRoom.typ {
				p.balance = plan.Balance{By: plan.BalanceRoom}
			}
		} else {
			p.workers = first(listenFederation, kindFederationReader, kindGeneric)
		}
	}
	return p, len(p.workers) > 0
}

// addWorkerRoutes adds a route for every documented endpoint a worker
// takes. Each refines a route of the main process: it gets that route's
// hostname, entrypoint and settings (upload limit, admin allow list), so
// that a request reaches a worker only where the main process would have
// served it, under the same rules. Federation requests are only routed on
// the federation entrypoint, client requests on the client one.
func addWorkerRoutes(b *builder, ws []worker) {
	byKind := map[string][]worker{}
	for _, w := range ws {
		byKind[w.kind.typ] = append(byKind[w.kind.typ], w)
	}
	var mainRoutes []plan.Route
	for _, r := range b.plan.Routes {
		if r.Service == synapseUnit {
			mainRoutes = append(mainRoutes, r)
		}
	}
	type candidate struct {
		route plan.Route
		match string
	}
	var cands []candidate
	counts := map[string]int{}
	for i, e := range synapseEndpoints {
		p, ok := workerTarget(e, byKind)
		if !ok {
			continue
		}
		regex := e.routed()
		literal := plan.RegexPrefix(regex)
		ep := plan.EntrypointClient
		if strings.HasPrefix(literal, "/_matrix/federation/") || strings.HasPrefix(literal, "/_matrix/key/") {
			ep = plan.EntrypointFederation
		}
		cover, ok := coveringRoute(mainRoutes, ep, literal)
		if !ok {
			continue
		}
		counts[e.group.id]++
		r := plan.Route{
			Name:       fmt.Sprintf("synapse-%s-%d", e.group.id, counts[e.group.id]),
			Host:       cover.Host,
			Entrypoint: ep,
			Priority:   p.tier + len(synapseEndpoints) - i,
			Settings:   cover.Settings,
		}
		if e.prefix {
			r.PathPrefix = strings.TrimSuffix(literal, "/")
		} else {
			r.PathRegex = regex
		}
		setBackends(&r, p)
		cands = append(cands, candidate{r, r.PathPrefix + r.PathRegex})
	}
	// The documentation lists some patterns twice: for generic workers and
	// for a stream writer (or the user-dir worker, or the media worker and
	// the quarantine writer). Only the higher of two identical routes
	// could ever match, so the other is left out.
	slices.SortStableFunc(cands, func(a, c candidate) int { return c.route.Priority - a.route.Priority })
	seen := map[string]bool{}
	for _, c := range cands {
		key := c.route.Entrypoint + " " + c.route.Host + " " + c.match
		if seen[key] {
			continue
		}
		seen[key] = true
		b.route(c.route)
	}
}

// coveringRoute is the main process's route that serves literal (and so
// every path a worker route beginning with it matches) on an entrypoint.
func coveringRoute(routes []plan.Route, ep, literal string) (plan.Route, bool) {
	var best plan.Route
	found := false
	for _, r := range routes {
		if r.Entrypoint != ep || r.PathPrefix == "" || !strings.HasPrefix(literal, r.PathPrefix) {
			continue
		}
		if !found || len(r.PathPrefix) > len(best.PathPrefix) {
			best, found = r, true
		}
	}
	return best, found
}

func setBackends(r *plan.Route, p pool) {
	port := listenPort(p.listen)
	r.Service, r.Port = p.workers[0].unit, port
	if len(p.workers) == 1 {
		return
	}
	for _, w := range p.workers {
		r.Backends = append(r.Backends, plan.Backend{Service: w.unit, Port: port})
	}
	r.Balance = p.balance
	r.Pool = fmt.Sprintf("synapse-%s-%s-%s", p.workers[0].kind.typ, p.listen, p.balance.By)
	if p.balance.Strict {
		r.Pool += "-strict"
	}
}

// How an endpoint group's requests are served.
type serveBy int

const (
	serveMain       serveBy = iota // the main process only
	serveSync                      // sync workers, else generic workers
	serveClient                    // room workers (room-scoped) or client readers, else generic workers
	serveFederation                // room workers (room-scoped) or federation readers, else generic workers
	serveWriter                    // the stream's writer
	serveUserDir                   // the user-dir worker
	serveMedia                     // media repository workers
)

// endpointGroup is a heading of the worker documentation's endpoint lists.
type endpointGroup struct {
	name   string // as the documentation names it
	id     string // in route names
	serve  serveBy
	stream string // for serveWriter
	// strict: all requests for one room must reach one worker (the
	// documentation's condition for pagination), not only preferably.
	strict bool
}

// endpoint is one documented pattern.
type endpoint struct {
	group    *endpointGroup
	regex    string
	anchored string // the pattern routed instead of regex, where set
	prefix   bool   // a path prefix in the documentation: routed as one
	room     bool   // about one room, whose ID is in the path (plan.RoomIDPattern)
}

func (e endpoint) routed() string {
	if e.anchored != "" {
		return e.anchored
	}
	return e.regex
}

// The groups, as the documentation names them. Groups it lists for GET
// requests only stay on the main process (with their stream writer, if
// one exists, taking every method): the route table matches paths, not
// methods. SSO, OIDC, SAML and CAS stay on the main process too: the
// documentation asks for every step of an SSO login to reach one process.
var (
	groupSync                   = &endpointGroup{name: "Sync requests", id: "sync", serve: serveSync}
	groupFederation             = &endpointGroup{name: "Federation requests", id: "federation", serve: serveFederation}
	groupFederationInbound      = &endpointGroup{name: "Inbound federation transaction request", id: "federation-inbound", serve: serveFederation}
	groupClient                 = &endpointGroup{name: "Client API requests", id: "client", serve: serveClient}
	groupAdmin                  = &endpointGroup{name: "Admin API requests", id: "admin", serve: serveClient}
	groupEncryption             = &endpointGroup{name: "Encryption requests", id: "encryption", serve: serveClient}
	groupLogin                  = &endpointGroup{name: "Registration/login requests", id: "login", serve: serveClient}
	groupEventSending           = &endpointGroup{name: "Event sending requests", id: "event-sending", serve: serveClient}
	groupUserDirectorySearch    = &endpointGroup{name: "User directory search requests", id: "user-directory", serve: serveClient}
	groupDelayedEvents          = &endpointGroup{name: "Unstable MSC4140 support", id: "delayed-events", serve: serveClient}
	groupPushRulesGet           = &endpointGroup{name: "Push rules requests", id: "push-rules-get", serve: serveMain}
	groupAccountDataGet         = &endpointGroup{name: "Account data requests", id: "account-data-get", serve: serveMain}
	groupPresenceGet            = &endpointGroup{name: "Presence requests", id: "presence-get", serve: serveMain}
	groupAdminGet               = &endpointGroup{name: "Admin API requests (GET)", id: "admin-get", serve: serveMain}
	groupPagination             = &endpointGroup{name: "Pagination requests", id: "pagination", serve: serveClient, strict: true}
	groupSSO                    = &endpointGroup{name: "SSO requests (all providers)", id: "sso", serve: serveMain}
	groupOIDC                   = &endpointGroup{name: "OpenID Connect requests", id: "oidc", serve: serveMain}
	groupSAML                   = &endpointGroup{name: "SAML requests", id: "saml", serve: serveMain}
	groupCAS                    = &endpointGroup{name: "CAS requests", id: "cas", serve: serveMain}
	groupWriterTyping           = &endpointGroup{name: "typing stream writer", id: "typing", serve: serveWriter, stream: "typing"}
	groupWriterToDevice         = &endpointGroup{name: "to_device stream writer", id: "to-device", serve: serveWriter, stream: "to_device"}
	groupWriterAccountData      = &endpointGroup{name: "account_data stream writer", id: "account-data", serve: serveWriter, stream: "account_data"}
	groupWriterReceipts         = &endpointGroup{name: "receipts stream writer", id: "receipts", serve: serveWriter, stream: "receipts"}
	groupWriterPresence         = &endpointGroup{name: "presence stream writer", id: "presence", serve: serveWriter, stream: "presence"}
	groupWriterPushRules        = &endpointGroup{name: "push_rules stream writer", id: "push-rules", serve: serveWriter, stream: "push_rules"}
	groupWriterDeviceLists      = &endpointGroup{name: "device_lists stream writer", id: "device-lists", serve: serveWriter, stream: "device_lists"}
	groupWriterQuarantinedMedia = &endpointGroup{name: "quarantined_media_changes stream writer", id: "quarantine", serve: serveWriter, stream: "quarantined_media_changes"}
	groupUserDirectoryWorker    = &endpointGroup{name: "Updating the User Directory", id: "user-directory-worker", serve: serveUserDir}
	groupMedia                  = &endpointGroup{name: "Media repository", id: "media", serve: serveMedia}
)
