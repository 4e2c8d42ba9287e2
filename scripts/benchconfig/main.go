// Command benchconfig prints a config with many Synapse workers for the
// benchmarks: benchconfig -workers 256 [-proxy nginx] examples/full.yaml
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
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchconfig [-workers N] [-proxy TYPE] BASE.yaml")
		os.Exit(2)
	}
	base, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := benchconfig.Workers(base, *workers, *proxy)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
