// Command benchconfig prints a config with many Synapse workers and bridges
// for the benchmarks:
// benchconfig -workers 256 [-bridges 40] [-proxy nginx] examples/full.yaml
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/matrixgen/matrixgen/internal/benchconfig"
)

func main() {
	workers := flag.Int("workers", 256, "number of Synapse workers, spread over every kind")
	proxy := flag.String("proxy", "", "reverse_proxy.type (empty: as in the base config)")
	bridges := flag.Int("bridges", 0, "number of bridge instances, spread over every type")
	templates := flag.String("bridge-templates", "examples/bridges.yaml", "config whose bridges the instances copy, one per type")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchconfig [-workers N] [-bridges N] [-proxy TYPE] BASE.yaml")
		os.Exit(2)
	}
	base, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := benchconfig.Workers(base, *workers, *proxy)
	if err == nil && *bridges > 0 {
		var tmpl []byte
		if tmpl, err = os.ReadFile(*templates); err == nil {
			out, err = benchconfig.Bridges(out, tmpl, *bridges)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
