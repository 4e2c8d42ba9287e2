package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/pipeline"
	"github.com/matrixgen/matrixgen/internal/render"
	"github.com/matrixgen/matrixgen/internal/render/kubernetes"
)

// Exit statuses.
const (
	exitOK      = 0
	exitInvalid = 1 // invalid config, stale check, failed write
	exitUsage   = 2
)

// command is one subcommand: its flags are declared in setup, and run gets
// the remaining arguments.
type command struct {
	summary string
	usage   string
	setup   func(fs *pflag.FlagSet) func(env *env, args []string) int
}

var commands = map[string]command{
	"build":       buildCommand,
	"check":       checkCommand,
	"validate":    validateCommand,
	"init":        initCommand,
	"version":     versionCommand,
	"routes":      routesCommand,
	"explain":     explainCommand,
	"import-mdad": importMDADCommand,
	"diff":        diffCommand,
}

// env is what a command may touch: its output streams and the working
// directory that paths in messages are relative to.
type env struct {
	stdout, stderr io.Writer
	cwd            string
}

// Main runs matrixgen with args (without the program name) and returns the
// exit status; tests call it in-process.
func Main(args []string, stdout, stderr io.Writer) int {
	cwd, _ := os.Getwd()
	e := &env{stdout: stdout, stderr: stderr, cwd: cwd}
	if len(args) == 0 {
		topUsage(stderr)
		return exitUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		topUsage(stdout)
		return exitOK
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "matrixgen: unknown command %q\n\n", name)
		topUsage(stderr)
		return exitUsage
	}
	fs := pflag.NewFlagSet("matrixgen "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	run := cmd.setup(fs)
	// pflag prints usage itself on --help; we print it once, to stdout.
	fs.Usage = func() {}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: matrixgen %s %s\n\n%s\n\nFlags:\n%s", name, cmd.usage, cmd.summary, fs.FlagUsages())
			return exitOK
		}
		fmt.Fprintf(stderr, "matrixgen %s: %v\n", name, err)
		return exitUsage
	}
	return run(e, fs.Args())
}

func topUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: matrixgen COMMAND [FLAGS]")
	fmt.Fprintln(w, "\nCompiles one config file into a deployment bundle for a Matrix homeserver.\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'matrixgen COMMAND --help' for a command's flags.")
}

// usageError reports a missing or wrong argument.
func usageError(e *env, cmd, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "matrixgen %s: %s (see --help)\n", cmd, fmt.Sprintf(format, args...))
	return exitUsage
}

// load runs the pipeline on a config file and prints its problems.
func load(e *env, path string) (*pipeline.Result, bool) {
	return loadTarget(e, path, pipeline.TargetHost)
}

// targetFlag declares --target, which picks what the Plan is rendered for.
func targetFlag(fs *pflag.FlagSet) *string {
	return fs.String("target", pipeline.TargetHost, "what to build for: "+strings.Join(pipeline.Targets, " or ")+" (docs/cluster.md)")
}

// checkTarget refuses a target matrixgen does not know.
func checkTarget(e *env, cmd, target string) bool {
	if slices.Contains(pipeline.Targets, target) {
		return true
	}
	usageError(e, cmd, "unknown target %q (want %s)", target, strings.Join(pipeline.Targets, " or "))
	return false
}

// loadTarget runs the pipeline for one target.
func loadTarget(e *env, path, target string) (*pipeline.Result, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "matrixgen: %v\n", err)
		return nil, false
	}
	res, problems := pipeline.RunTarget(path, data, target)
	if len(problems) > 0 {
		diag.Print(e.stderr, problems, e.cwd)
		n := problems.Sorted().Problems()
		fmt.Fprintf(e.stderr, "%s: %d %s\n", relativePath(path, e.cwd), n, plural(n, "problem", "problems"))
		return nil, false
	}
	diag.Print(e.stderr, res.Warnings, e.cwd)
	return res, true
}

func relativePath(path, cwd string) string {
	l := diag.List{{Subject: diag.Range{File: path}}}
	var b strings.Builder
	diag.Print(&b, l, cwd)
	return strings.TrimSuffix(strings.TrimSpace(b.String()), ":")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

var buildCommand = command{
	summary: "Write the deployment bundle for a config file.",
	usage:   "-c FILE -o DIR [-q]",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		cfg := fs.StringP("config", "c", "", "config file (matrix.yaml)")
		out := fs.StringP("output", "o", "", "bundle directory: created, or replaced if it holds a previous bundle")
		quiet := fs.BoolP("quiet", "q", false, "print nothing on success")
		target := targetFlag(fs)
		return func(e *env, args []string) int {
			if *cfg == "" || *out == "" || len(args) > 0 {
				return usageError(e, "build", "needs -c FILE and -o DIR")
			}
			if !checkTarget(e, "build", *target) {
				return exitUsage
			}
			res, ok := loadTarget(e, *cfg, *target)
			if !ok {
				return exitInvalid
			}
			if err := bundle.Write(*out, res.Tree); err != nil {
				fmt.Fprintf(e.stderr, "matrixgen build: %v\n", err)
				return exitInvalid
			}
			if !*quiet && *target == pipeline.TargetKubernetes {
				fmt.Fprintln(e.stderr, clusterSummary(res.Tree, relativePath(*out, e.cwd)))
			} else if !*quiet {
				fmt.Fprintln(e.stderr, buildSummary(res.Tree, relativePath(*out, e.cwd)))
			}
			return exitOK
		}
	},
}

// buildSummary is the line build prints on success: what it wrote, where,
// and how the bundle reaches the host. HOST stands for the operator's server,
// which the config does not name (its hostnames are where clients connect,
// not necessarily where one logs in).
func buildSummary(tree render.Tree, out string) string {
	units := 0
	for _, p := range tree.Paths() {
		if strings.HasPrefix(p, "etc/systemd/system/") {
			units++
		}
	}
	dir := strings.TrimSuffix(out, "/") + "/"
	return fmt.Sprintf("wrote %d %s (%d systemd %s) to %s; next: rsync -a %s root@HOST:/root/matrix-bundle/ && ssh root@HOST /root/matrix-bundle/install.sh",
		len(tree), plural(len(tree), "file", "files"), units, plural(units, "unit", "units"), dir, escape.Shell(dir))
}

// clusterSummary is build's line for the cluster target.
func clusterSummary(tree render.Tree, out string) string {
	dir := strings.TrimSuffix(out, "/") + "/"
	objects := len(tree) - 3 // kustomization.yaml, create-secrets.sh, MANIFEST
	return fmt.Sprintf("wrote %d Kubernetes %s to %s; next: %s && kubectl apply -k %s",
		objects, plural(objects, "object", "objects"), dir, escape.Shell(dir+kubernetes.SecretsScript), escape.Shell(dir))
}

var checkCommand = command{
	summary: "Exit 0 if DIR is exactly what build would write, else print the diff and exit 1.",
	usage:   "-c FILE -o DIR",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		cfg := fs.StringP("config", "c", "", "config file (matrix.yaml)")
		out := fs.StringP("output", "o", "", "bundle directory to compare")
		target := targetFlag(fs)
		return func(e *env, args []string) int {
			if *cfg == "" || *out == "" || len(args) > 0 {
				return usageError(e, "check", "needs -c FILE and -o DIR")
			}
			if !checkTarget(e, "check", *target) {
				return exitUsage
			}
			res, ok := loadTarget(e, *cfg, *target)
			if !ok {
				return exitInvalid
			}
			diff, err := bundle.Diff(*out, res.Tree)
			if err != nil {
				fmt.Fprintf(e.stderr, "matrixgen check: %v\n", err)
				return exitInvalid
			}
			if diff != "" {
				fmt.Fprint(e.stdout, diff)
				again := ""
				if *target != pipeline.TargetHost {
					again = " --target " + *target
				}
				fmt.Fprintf(e.stderr, "matrixgen check: %s is stale; run: matrixgen build%s -c %s -o %s\n", *out, again, *cfg, *out)
				return exitInvalid
			}
			return exitOK
		}
	},
}

var validateCommand = command{
	summary: "Check a config file and print every problem with its position.",
	usage:   "-c FILE",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		cfg := fs.StringP("config", "c", "", "config file (matrix.yaml)")
		return func(e *env, args []string) int {
			if *cfg == "" || len(args) > 0 {
				return usageError(e, "validate", "needs -c FILE")
			}
			if _, ok := load(e, *cfg); !ok {
				return exitInvalid
			}
			fmt.Fprintf(e.stdout, "%s: valid\n", relativePath(*cfg, e.cwd))
			return exitOK
		}
	},
}

var versionCommand = command{
	summary: "Print matrixgen's version and the config format versions it reads.",
	usage:   "",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		return func(e *env, args []string) int {
			if len(args) > 0 {
				return usageError(e, "version", "takes no arguments")
			}
			fmt.Fprintf(e.stdout, "matrixgen %s (config format version 1)\n", version())
			return exitOK
		}
	},
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}
