package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/matrixgen/matrixgen/internal/apply"
	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/pipeline"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/render/kubernetes"
)

var diffCommand = command{
	summary: "Show what applying a config over an older bundle would change on the host, then the diff.",
	usage:   "-c FILE -o OLD_OUT",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		cfg := fs.StringP("config", "c", "", "config file (matrix.yaml)")
		out := fs.StringP("output", "o", "", "the bundle applied now (e.g. out/ of the main branch)")
		target := targetFlag(fs)
		return func(e *env, args []string) int {
			if *cfg == "" || *out == "" || len(args) > 0 {
				return usageError(e, "diff", "needs -c FILE and -o OLD_OUT")
			}
			if !checkTarget(e, "diff", *target) {
				return exitUsage
			}
			res, ok := loadTarget(e, *cfg, *target)
			if !ok {
				return exitInvalid
			}
			fail := func(err error) int {
				fmt.Fprintf(e.stderr, "matrixgen diff: %v\n", err)
				return exitInvalid
			}
			if *target == pipeline.TargetKubernetes {
				return clusterDiff(e, *cfg, *out, res.Tree, fail)
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

// clusterDiff prints what kubectl apply -k would do to each object of the
// cluster's output, then the diff.
func clusterDiff(e *env, cfg, out string, next render.Tree, fail func(error) int) int {
	applied, err := bundle.Read(out)
	if err != nil {
		return fail(err)
	}
	changes, err := kubernetes.Changes(applied, next)
	if err != nil {
		return fail(err)
	}
	text, err := bundle.Diff(out, next)
	if err != nil {
		return fail(err)
	}
	if len(changes) == 0 && text == "" {
		fmt.Fprintf(e.stdout, "no changes: %s is what %s builds\n", out, cfg)
		return exitOK
	}
	if len(changes) == 0 {
		fmt.Fprintf(e.stdout, "In a cluster where %s is applied, kubectl apply -k would change nothing (only the output's own files differ).\n", out)
	} else {
		fmt.Fprintf(e.stdout, "In a cluster where %s is applied, kubectl apply -k would:\n", out)
		counts := map[string]int{}
		for _, c := range changes {
			fmt.Fprintf(e.stdout, "  %s\n", c)
			counts[c.Action]++
		}
		fmt.Fprintf(e.stdout, "objects: %d created, %d configured, %d left to delete by hand\n", counts["create"], counts["configure"], counts["delete"])
	}
	fmt.Fprint(e.stdout, "\n", text)
	return exitInvalid
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
