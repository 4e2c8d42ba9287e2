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
	Host       string      `json:"host"`
	Match      matchJSON   `json:"match"`
	Entrypoint string      `json:"entrypoint"`
	Port       int         `json:"port"`
	TLS        bool        `json:"tls"`
	Priority   int         `json:"priority"`
	Backend    backendJSON `json:"backend"`
}

type matchJSON struct {
	Type  string `json:"type"` // "prefix"
	Value string `json:"value"`
}

type backendJSON struct {
	Service string `json:"service"`
	Address string `json:"address"` // host:port the proxy connects to
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
			fmt.Fprintln(tw, "PRIORITY\tENTRYPOINT\tPORT\tHOST\tPATH PREFIX\tBACKEND")
			for _, r := range routes {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s (%s)\n", r.Priority, r.Entrypoint, r.Port, r.Host, r.Match.Value, r.Backend.Service, r.Backend.Address)
			}
			_ = tw.Flush()
			return exitOK
		}
	},
}

// routeList lists routes in the order the proxy evaluates them.
func routeList(p *plan.Plan) []routeJSON {
	entrypoints := map[string]plan.Entrypoint{}
	for _, ep := range p.Entrypoints {
		entrypoints[ep.Name] = ep
	}
	out := []routeJSON{}
	for _, r := range p.Routes {
		ep := entrypoints[r.Entrypoint]
		out = append(out, routeJSON{
			Host: r.Host, Match: matchJSON{Type: "prefix", Value: r.PathPrefix},
			Entrypoint: r.Entrypoint, Port: ep.HostPort, TLS: ep.TLS, Priority: r.Priority,
			Backend: backendJSON{Service: r.Service, Address: r.Upstream},
		})
	}
	return out
}
