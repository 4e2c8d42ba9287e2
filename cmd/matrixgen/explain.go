package main

import (
	"fmt"
	"io"
	"strings"

	"cuelang.org/go/cue"
	"github.com/spf13/pflag"

	"github.com/matrixgen/matrixgen/internal/validate"
)

var explainCommand = command{
	summary: "Show an option's type, default, allowed values and documentation (all options without an argument).",
	usage:   "[OPTION.PATH]",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		return func(e *env, args []string) int {
			if len(args) > 1 {
				return usageError(e, "explain", "takes at most one option path")
			}
			root := validate.Schema()
			if len(args) == 0 {
				explainTree(e.stdout, root, "")
				return exitOK
			}
			v, ok := lookupOption(root, args[0])
			if !ok {
				fmt.Fprintf(e.stderr, "matrixgen explain: no option %q\n", args[0])
				return exitInvalid
			}
			explainOne(e.stdout, args[0], v)
			if isStruct(v) {
				fmt.Fprintln(e.stdout)
				explainTree(e.stdout, v, args[0])
			}
			return exitOK
		}
	},
}

func lookupOption(root cue.Value, path string) (cue.Value, bool) {
	v := root
	for _, part := range strings.Split(path, ".") {
		next := v.LookupPath(cue.MakePath(cue.Str(part)))
		if !next.Exists() {
			next = v.LookupPath(cue.MakePath(cue.Str(part).Optional()))
		}
		if !next.Exists() {
			return cue.Value{}, false
		}
		v = next
	}
	return v, true
}

func isStruct(v cue.Value) bool {
	return v.IncompleteKind() == cue.StructKind && !openStruct(v)
}

func openStruct(v cue.Value) bool { return v.Allows(cue.Str("\x00any")) }

func explainTree(w io.Writer, v cue.Value, prefix string) {
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return
	}
	for it.Next() {
		path := it.Selector().Unquoted()
		if prefix != "" {
			path = prefix + "." + path
		}
		if isStruct(it.Value()) {
			explainTree(w, it.Value(), path)
			continue
		}
		explainOne(w, path, it.Value())
		fmt.Fprintln(w)
	}
}

func explainOne(w io.Writer, path string, v cue.Value) {
	fmt.Fprintf(w, "%s\n", path)
	fmt.Fprintf(w, "  type:    %s\n", kindName(v))
	if d, ok := v.Default(); ok && d.IsConcrete() {
		fmt.Fprintf(w, "  default: %s\n", literal(d))
	} else if !ok && v.IsConcrete() && v.Kind() != cue.StructKind {
		fmt.Fprintf(w, "  value:   %s\n", literal(v))
	}
	if allowed := enumValues(v); len(allowed) > 0 {
		fmt.Fprintf(w, "  allowed: %s\n", strings.Join(allowed, ", "))
	}
	for _, line := range strings.Split(strings.TrimSpace(validate.Doc(v)), "\n") {
		if line != "" {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

func kindName(v cue.Value) string {
	if openStruct(v) {
		return "mapping (merged into the generated file)"
	}
	return v.IncompleteKind().String()
}

func literal(v cue.Value) string {
	b, err := v.MarshalJSON()
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// enumValues lists the alternatives of an option that is a choice between
// literals ("closed" | "open" | "token").
func enumValues(v cue.Value) []string {
	op, args := v.Expr()
	if op != cue.OrOp {
		return nil
	}
	var out []string
	for _, a := range args {
		if !a.IsConcrete() {
			return nil
		}
		out = append(out, literal(a))
	}
	return out
}
