// Command matrixgen compiles one config file into a deployment bundle for a
// Matrix homeserver. See README.md.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}
