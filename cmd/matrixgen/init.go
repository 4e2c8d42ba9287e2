package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	"github.com/spf13/pflag"

	"github.com/matrixgen/matrixgen/internal/diag"
	"github.com/matrixgen/matrixgen/internal/validate"
	"github.com/matrixgen/matrixgen/templates"
)

var initTemplate = template.Must(template.ParseFS(templates.Files, "init.yaml.tmpl"))

// checkInitFlags validates the flags on their own, so that a mistake is
// reported against the flag the user typed, not a line of the template.
func checkInitFlags(e *env, domain, email string) bool {
	quoted, _ := json.Marshal(map[string]any{"domain": domain, "traefik": map[string]string{"acme_email": email}})
	_, problems := validate.Load("flags", quoted)
	flags := map[string]string{"domain": "--domain", "traefik.acme_email": "--acme-email"}
	for _, p := range problems.Sorted() {
		name, ok := flags[p.Path]
		if !ok {
			continue // follows from a flag already reported (mailer.sender from --domain)
		}
		fmt.Fprintf(e.stderr, "matrixgen init: %s: %s\n", name, p.Summary)
	}
	return len(problems) == 0
}

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
			if !checkInitFlags(e, *domain, *email) {
				return exitInvalid
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
