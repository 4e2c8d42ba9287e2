package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/matrixgen/matrixgen/internal/apply"
	"github.com/matrixgen/matrixgen/internal/bundle"
)

var diffCommand = command{
	summary: "Show what applying a config over an older bundle would change on the host, then the diff.",
	usage:   "-c FILE -o OLD_OUT",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		cfg := fs.StringP("config", "c", "", "config file (matrix.yaml)")
		out := fs.StringP("output", "o", "", "the bundle applied now (e.g. out/ of the main branch)")
		return func(e *env, args []string) int {
			if *cfg == "" || *out == "" || len(args) > 0 {
				return usageError(e, "diff", "needs -c FILE and -o OLD_OUT")
			}
			res, ok := load(e, *cfg)
			if !ok {
				return exitInvalid
			}
			fail := func(err error) int {
				fmt.Fprintf(e.stderr, "matrixgen diff: %v\n", err)
				return exitInvalid
			}
			installed, err := apply.Read(*out)
			if err != nil {
				return fail(err)
			}
			next, err := apply.FromTree(res.Tree)
			if err != nil {
				return fail(err)
			}
			text, err := bundle.Diff(*out, res.Tree)
			if err != nil {
				return fail(err)
			}
			steps := apply.Decide(installed, next, nil)
			if len(steps) == 0 && text == "" {
				fmt.Fprintf(e.stdout, "no changes: %s is what %s builds\n", *out, *cfg)
				return exitOK
			}
			summarize(e.stdout, *out, steps)
			fmt.Fprint(e.stdout, "\n", text)
			return exitInvalid
		}
	},
}

// summarize prints the steps as install.sh prints them, then a tally.
func summarize(w io.Writer, out string, steps []apply.Step) {
	if len(steps) == 0 {
		fmt.Fprintf(w, "On a host where %s is applied, install.sh would change nothing (only the bundle's own files differ).\n", out)
		return
	}
	fmt.Fprintf(w, "On a host where %s is applied, install.sh would:\n", out)
	for _, s := range steps {
		fmt.Fprintf(w, "  %s\n", s)
	}
	n := func(action string) int { return apply.Count(steps, action) }
	fmt.Fprintf(w, "files: %d installed, %d removed; units: %d restarted%s, %d started, %d stopped; images pulled: %d\n",
		n("install"), n("remove"), n("restart"), rolling(steps), n("start"), n("stop"), n("pull"))
}

// rolling tells how many of the restarts wait for one another, pool by
// pool: they take longer, and keep the pools serving.
func rolling(steps []apply.Step) string {
	n := 0
	for _, s := range steps {
		if s.Pool != "" {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d one at a time)", n)
}
