package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// routeJSON is one route as `routes --format json` prints it; other tools
// read this, so fields are only ever added.
type routeJSON struct {
	Name       string      `json:"name"`
	Host       string      `json:"host"` // "" on the internal entrypoint: any hostname
	Match      matchJSON   `json:"match"`
	Entrypoint string      `json:"entrypoint"`
	Port       int         `json:"port"`
	TLS        bool        `json:"tls"`
	Priority   int         `json:"priority"`
	Backend    backendJSON `json:"backend"` // the only backend, or a pool's first
	// Backends lists every server of the route: one, or a pool's.
	Backends []backendJSON `json:"backends"`
	// Balance says how a pool chooses among Backends; absent for one.
	Balance *balanceJSON `json:"balance,omitempty"`
	// WebSocket: clients open WebSockets on the route, and the proxy
	// passes their upgrade; absent otherwise.
	WebSocket bool `json:"websocket,omitempty"`
	// listed is the match as route listings print it (PathMatch.String),
	// for the table; JSON has Match.
	listed string
}

type matchJSON struct {
	Type  string `json:"type"` // "prefix", or "regex" on the request path
	Value string `json:"value"`
	// StripPrefix: the backend gets the path without the prefix, from
	// its trailing "/" on.
	StripPrefix bool `json:"strip_prefix,omitempty"`
}

type backendJSON struct {
	Service string `json:"service"`
	Address string `json:"address"` // host:port the proxy connects to
}

type balanceJSON struct {
	Pool   string `json:"pool"`
	Policy string `json:"policy"` // "least-conn", "user" or "room" (plan.Balance*)
	// Strict: one key must reach one backend; a proxy that cannot hash on
	// it sends every request to the first backend.
	Strict bool `json:"strict"`
}

var routesCommand = command{
	summary: "Print the route table: which hostname and path go to which service and port.",
	usage:   "-c FILE [--format table|json]",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		cfg := fs.StringP("config", "c", "", "config file (matrix.yaml)")
		format := fs.String("format", "table", "output format: table or json")
		return func(e *env, args []string) int {
			if *cfg == "" || len(args) > 0 {
				return usageError(e, "routes", "needs -c FILE")
			}
			if *format != "table" && *format != "json" {
				return usageError(e, "routes", "unknown --format %q (table or json)", *format)
			}
			res, ok := load(e, *cfg)
			if !ok {
				return exitInvalid
			}
			routes := routeList(res.Plan)
			if *format == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(routes); err != nil {
					panic(err)
				}
				return exitOK
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PRIORITY\tENTRYPOINT\tPORT\tHOST\tPATH\tBACKEND")
			for _, r := range routes {
				match := r.listed
				if r.Match.StripPrefix {
					match += " (stripped)"
				}
				if r.WebSocket {
					match += " (WebSocket)"
				}
				backend := fmt.Sprintf("%s (%s)", r.Backend.Service, r.Backend.Address)
				if r.Balance != nil {
					backend = fmt.Sprintf("%s: %d servers, %s", r.Balance.Pool, len(r.Backends), r.Balance.Policy)
					if r.Balance.Strict {
						backend += " (strict)"
					}
				}
				host := r.Host
				if host == "" {
					host = "*" // the internal entrypoint: any hostname
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", r.Priority, r.Entrypoint, r.Port, host, match, backend)
			}
			_ = tw.Flush()
			return exitOK
		}
	},
}

// routeList lists routes in the order the proxy evaluates them.
func routeList(p *plan.Plan) []routeJSON {
	out := []routeJSON{}
	for _, r := range p.ServedRoutes() {
		m := r.Match()
		rj := routeJSON{
			Name: r.Name, Host: r.Host,
			Match:      matchJSON{Type: m.Kind(), Value: m.Value, StripPrefix: r.StripPrefix},
			Entrypoint: r.Entrypoint, Port: r.ListenPort, TLS: r.TLS, Priority: r.Priority,
			Backend:   backendJSON{Service: r.Service, Address: r.Upstream},
			WebSocket: r.Settings.WebSocket,
			listed:    m.String(),
		}
		for _, be := range r.Servers() {
			rj.Backends = append(rj.Backends, backendJSON{Service: be.Service, Address: be.Upstream})
		}
		if len(r.Backends) > 0 {
			rj.Balance = &balanceJSON{Pool: r.Pool, Policy: r.Balance.By, Strict: r.Balance.Strict}
		}
		out = append(out, rj)
	}
	return out
}
