package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/mdad"
)

var importMDADCommand = command{
	summary: "Translate a matrix-docker-ansible-deploy vars.yml into a config, and its secrets for install.sh.",
	usage:   "VARS.yml [-o FILE] [--secrets-dir DIR]",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		out := fs.StringP("output", "o", "", "write the config to FILE instead of standard output (never overwrites)")
		secretsDir := fs.String("secrets-dir", "", "write the server's secrets into DIR, one file each, as install.sh reads them from /matrix/secrets (never overwrites)")
		return func(e *env, args []string) int {
			if len(args) != 1 {
				return usageError(e, "import-mdad", "needs one VARS.yml")
			}
			return importMDAD(e, args[0], *out, *secretsDir)
		}
	},
}

func importMDAD(e *env, varsPath, out, secretsDir string) int {
	fail := func(err error) int {
		fmt.Fprintf(e.stderr, "matrixgen import-mdad: %v\n", err)
		return exitInvalid
	}
	data, err := os.ReadFile(varsPath)
	if err != nil {
		return fail(err)
	}
	name := relativePath(varsPath, e.cwd)
	res, err := mdad.Translate(name, data)
	if err != nil {
		return fail(err)
	}
	// Refuse before writing anything, so that a refusal leaves no half-done import.
	if out != "" {
		if _, err := os.Lstat(out); err == nil {
			return fail(fmt.Errorf("%s exists; matrixgen never overwrites it", out))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
	}
	if secretsDir != "" {
		if err := mdad.CheckSecrets(secretsDir, res.Secrets); err != nil {
			fmt.Fprintf(e.stderr, "matrixgen import-mdad: not writing secrets:\n%v\n", err)
			return exitInvalid
		}
	}

	for _, u := range res.Untranslated {
		fmt.Fprintf(e.stderr, "%s:%d: %s: not translated (%s)\n", name, u.Line, u.Name, u.Reason)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(e.stderr, "note: %s\n", n)
	}
	for _, s := range res.Secrets {
		fmt.Fprintf(e.stderr, "secret %s: %s\n", s.Name, s.Source)
	}
	for _, m := range res.Missing {
		fmt.Fprintf(e.stderr, "secret %s: %s\n", m.Name, m.Reason)
	}

	outName := mdad.OutputName
	if out == "" {
		_, _ = e.stdout.Write(res.Config)
	} else {
		outName = out
		// A directory that does not exist yet is made, as build makes its
		// output directory.
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return fail(err)
		}
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fail(err)
		}
		_, werr := f.Write(res.Config)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fail(werr)
		}
	}
	if secretsDir != "" {
		if err := mdad.WriteSecrets(secretsDir, res.Secrets); err != nil {
			return fail(err)
		}
		fmt.Fprintf(e.stderr, "wrote %d %s to %s\n", len(res.Secrets), plural(len(res.Secrets), "secret", "secrets"), secretsDir)
	} else if len(res.Secrets) > 0 {
		fmt.Fprintf(e.stderr, "secrets not written: pass --secrets-dir DIR to write them\n")
	}
	fmt.Fprintf(e.stderr, "%s: %d not translated (listed above and at the end of %s)\n", name, len(res.Untranslated), outName)
	if len(res.Problems) > 0 {
		for i := range res.Problems {
			res.Problems[i].Subject.File = outName
		}
		diag.Print(e.stderr, res.Problems, e.cwd)
		fmt.Fprintf(e.stderr, "matrixgen import-mdad: %s does not validate yet: fix the %s above, then run matrixgen validate -c %s\n",
			outName, plural(len(res.Problems), "problem", "problems"), outName)
		return exitInvalid
	}
	if out != "" {
		fmt.Fprintf(e.stderr, "wrote %s; next: matrixgen build -c %s -o out/\n", out, out)
	}
	return exitOK
}
