package compile

import (
	"fmt"
	"sort"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

// homeserverHostPort is where the homeserver's client port is published
// for the operator's own webserver, whichever program it is.
const homeserverHostPort = reserved.SynapseClientPort

// homeserverTypes holds the components of the homeserver programs other
// than Synapse, each registered by its own file, so that choosing the
// homeserver is a lookup and no shared code names one.
var homeserverTypes = map[string]func(*builder){}

func registerHomeserver(name string, add func(*builder)) {
	if _, dup := homeserverTypes[name]; dup {
		panic("homeserver " + name + " registered twice")
	}
	homeserverTypes[name] = add
}

// HomeserverTypes lists the registered homeservers besides Synapse, for
// the test that holds them to the schema.
func HomeserverTypes() []string {
	var out []string
	for name := range homeserverTypes {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func isSynapse(c *config.Config) bool { return c.IsSynapse() }

func otherHomeserver(c *config.Config) bool { return !c.IsSynapse() }

func addOtherHomeserver(b *builder) {
	add, ok := homeserverTypes[b.cfg.Homeserver.Implementation]
	if !ok {
		panic("no component for homeserver " + b.cfg.Homeserver.Implementation)
	}
	add(b)
}

// homeserverUnit is the unit of the homeserver's main process, which
// components that read its secrets or wait for it name. The homeserver's
// component runs before theirs.
func (b *builder) homeserverUnit() string {
	if b.plan.Homeserver.Unit == "" {
		panic("the homeserver's unit is asked for before its component ran")
	}
	return b.plan.Homeserver.Unit
}

// homeserverURL is the homeserver's client API on the homeserver network.
func (b *builder) homeserverURL() string {
	return fmt.Sprintf("http://%s:%d", containerHostname(b.homeserverUnit()), b.plan.Homeserver.ClientPort)
}

// addHomeserverRoutes routes the Matrix APIs of a homeserver that serves
// them all from one process and one port: the client API (media
// included) on the client entrypoint, and with federation on, the
// federation and key APIs on the federation entrypoint. The well-known
// files are the static-files component's on every homeserver.
func addHomeserverRoutes(b *builder, unit string, port int) {
	host := b.cfg.Hostnames.Homeserver
	body := plan.RouteSettings{MaxBodyBytes: int64(b.cfg.Homeserver.MaxUploadSizeMB) << 20}
	route := func(name, prefix, entrypoint string) {
		b.route(plan.Route{Name: unit + "-" + name, Host: host, PathPrefix: prefix, Entrypoint: entrypoint,
			Service: unit, Port: port, Settings: body})
	}
	route("client", "/_matrix", plan.EntrypointClient)
	if !b.cfg.Homeserver.Federation.Enabled {
		return
	}
	route("federation", "/_matrix/federation", plan.EntrypointFederation)
	route("federation-keys", "/_matrix/key", plan.EntrypointFederation)
}

// homeserverTURN is the TURN server a homeserver hands clients
// credentials for: the bundle's coturn or the one of homeserver.turn, with
// the host secret both share.
type homeserverTURN struct {
	uris     []string
	secret   string // name of the shared secret
	lifetime string // as homeserver.turn gives it: "1h", "30m"
}

func (b *builder) turnServer() *homeserverTURN {
	if ext := b.cfg.Homeserver.TURN; ext != nil {
		b.providedSecret(turnElsewhereSecret, "shared secret of the TURN server "+turnHosts(ext.URIs), b.homeserverUnit())
		return &homeserverTURN{uris: ext.URIs, secret: turnElsewhereSecret, lifetime: ext.UserLifetime}
	}
	if !b.cfg.Coturn.Enabled {
		return nil
	}
	t := b.cfg.Coturn
	return &homeserverTURN{
		uris: []string{
			fmt.Sprintf("turn:%s:%d?transport=udp", t.Hostname, t.Port),
			fmt.Sprintf("turn:%s:%d?transport=tcp", t.Hostname, t.Port),
		},
		secret: coturnSecret, lifetime: "1h",
	}
}

// embeddedStore: the homeserver keeps its state in a database of its own
// (RocksDB), not in PostgreSQL.
func embeddedStore(c *config.Config) bool {
	_, conduwuit := conduwuitKinds[c.Homeserver.Implementation]
	return conduwuit
}

// needsPostgres: some service keeps its data in PostgreSQL, so the
// bundled server runs; a RocksDB homeserver alone needs none.
func needsPostgres(c *config.Config) bool {
	if !embeddedStore(c) {
		return true
	}
	for _, name := range c.Bridges.Enabled() {
		if c.Bridges[name].DatabaseName != "" {
			return true
		}
	}
	for _, name := range c.Bots.Enabled() {
		if c.Bots[name].DatabaseName != "" {
			return true
		}
	}
	return false
}
