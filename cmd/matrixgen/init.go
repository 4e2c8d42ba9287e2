package main

import (
	"bytes"
	"fmt"
	"os"
	"text/template"

	"github.com/spf13/pflag"

	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/validate"
	"github.com/matrixgen/matrixgen/templates"
)

var initTemplate = template.Must(template.ParseFS(templates.Files, "init.yaml.tmpl"))

var initCommand = command{
	summary: "Write a commented starter config for a domain.",
	usage:   "--domain DOMAIN [--acme-email ADDRESS] [-o FILE]",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		domain := fs.String("domain", "", "the server name (user IDs are @user:DOMAIN)")
		email := fs.String("acme-email", "", "Let's Encrypt contact (default: admin@DOMAIN)")
		out := fs.StringP("output", "o", "", "write to FILE instead of standard output (never overwrites)")
		return func(e *env, args []string) int {
			if *domain == "" || len(args) > 0 {
				return usageError(e, "init", "needs --domain DOMAIN")
			}
			if *email == "" {
				*email = "admin@" + *domain
			}
			var buf bytes.Buffer
			if err := initTemplate.Execute(&buf, map[string]string{"Domain": *domain, "Email": *email}); err != nil {
				panic(err)
			}
			// The flags are user input spliced into YAML: validating the
			// result catches a bad domain and anything that would not stay
			// one value.
			if _, problems := validate.Load("--domain/--acme-email", buf.Bytes()); len(problems) > 0 {
				diag.Print(e.stderr, problems, "")
				return exitInvalid
			}
			if *out == "" {
				_, _ = e.stdout.Write(buf.Bytes())
				return exitOK
			}
			f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				fmt.Fprintf(e.stderr, "matrixgen init: %v\n", err)
				return exitInvalid
			}
			if _, err := f.Write(buf.Bytes()); err != nil {
				f.Close()
				fmt.Fprintf(e.stderr, "matrixgen init: %v\n", err)
				return exitInvalid
			}
			if err := f.Close(); err != nil {
				fmt.Fprintf(e.stderr, "matrixgen init: %v\n", err)
				return exitInvalid
			}
			fmt.Fprintf(e.stderr, "wrote %s; next: matrixgen build -c %s -o out/\n", *out, *out)
			return exitOK
		}
	},
}
