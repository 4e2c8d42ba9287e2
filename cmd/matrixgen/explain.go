package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"github.com/spf13/pflag"

	"github.com/matrixgen/matrixgen/internal/compile"
	"github.com/matrixgen/matrixgen/internal/validate"
)

// option is one leaf of the schema as explain shows it.
type option struct {
	Path, Type, Default, Allowed, Doc string
	Required                          bool
	// Types are the types of a variant map's entries (bridges) the option
	// applies to as described; empty when it applies to every type.
	Types []string
	// TypeDefaults replace Default when the types have different ones.
	TypeDefaults []typeDefault
	// LandsIn are the files (under host.data_dir) and keys the option
	// is written to, from compile's option table.
	LandsIn []string
}

type typeDefault struct{ Type, Default string }

var explainCommand = command{
	summary: "Show an option's type, default, allowed values and documentation (all options without an argument).",
	usage:   "[--format text|markdown] [OPTION.PATH]",
	setup: func(fs *pflag.FlagSet) func(*env, []string) int {
		format := fs.String("format", "text", "output format: text or markdown")
		return func(e *env, args []string) int {
			if len(args) > 1 {
				return usageError(e, "explain", "takes at most one option path")
			}
			if *format != "text" && *format != "markdown" {
				return usageError(e, "explain", "unknown --format %q (text or markdown)", *format)
			}
			v, prefix, optional := validate.Schema(), "", false
			var opts []option
			if len(args) == 1 {
				if to, renamed := validate.RenamedTo(args[0]); renamed {
					fmt.Fprintf(e.stderr, "matrixgen explain: %s is now %s\n", args[0], to)
					args[0] = to
				}
				var ok bool
				if opts, ok = variantOptionsAt(args[0]); !ok {
					if v, optional, ok = lookupOption(v, args[0]); !ok {
						fmt.Fprintf(e.stderr, "matrixgen explain: no option %q\n", args[0])
						return exitInvalid
					}
				}
				prefix = args[0]
			}
			if opts == nil {
				opts = options(v, prefix, !optional)
			}
			if *format == "markdown" {
				writeMarkdown(e.stdout, opts)
			} else {
				writeText(e.stdout, opts)
			}
			return exitOK
		}
	},
}

// lookupOption finds an option by path and tells whether it is optional.
func lookupOption(root cue.Value, path string) (v cue.Value, optional, ok bool) {
	v = root
	for _, part := range strings.Split(path, ".") {
		part, item := strings.CutSuffix(part, "[]")
		next := v.LookupPath(cue.MakePath(cue.Str(part)))
		optional = !next.Exists()
		if optional {
			next = v.LookupPath(cue.MakePath(cue.Str(part).Optional()))
		}
		if item {
			next = listItem(next)
		}
		if !next.Exists() {
			return cue.Value{}, false, false
		}
		v = next
	}
	return v, optional, true
}

// options lists the leaves under v (v itself when it is a leaf), in schema
// order. A group of options (a closed struct) is walked; an open mapping
// (extra) is a leaf.
func options(v cue.Value, prefix string, regular bool) []option {
	if vr, ok := variantAt(prefix); ok {
		return variantOptions(vr)
	}
	if !isGroup(v) {
		return []option{describe(prefix, v, regular)}
	}
	var out []option
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return nil
	}
	for it.Next() {
		path := it.Selector().Unquoted()
		if prefix != "" {
			path = prefix + "." + path
		}
		if _, ok := variantAt(path); ok || isGroup(it.Value()) {
			out = append(out, options(it.Value(), path, true)...)
			continue
		}
		out = append(out, describe(path, it.Value(), !it.IsOptional()))
		// A list of groups (OIDC providers, support contacts): the
		// options of one item follow the list, as LIST[].OPTION.
		if item := listItem(it.Value()); item.Exists() && isGroup(item) {
			out = append(out, options(item, path+"[]", true)...)
		}
	}
	return out
}

// listItem is the schema of one item of a list option; it does not exist
// for other options.
func listItem(v cue.Value) cue.Value {
	if v.IncompleteKind() != cue.ListKind {
		return cue.Value{}
	}
	return v.LookupPath(cue.MakePath(cue.AnyIndex))
}

func isGroup(v cue.Value) bool {
	return v.IncompleteKind() == cue.StructKind && !openStruct(v)
}

// openStruct: v takes keys it does not name (an extra mapping, a map of
// users). A default of {} is closed inside a definition, so every
// alternative is asked, not only the default.
func openStruct(v cue.Value) bool {
	switch op, args := v.Expr(); op {
	case cue.OrOp:
		return slices.ContainsFunc(args, openStruct)
	case cue.AndOp:
		for _, a := range args {
			if !openStruct(a) {
				return false
			}
		}
		return true
	}
	return v.Allows(cue.Str("\x00any"))
}

func describe(path string, v cue.Value, regular bool) option {
	o := option{Path: path, Type: kindName(path, v), Doc: strings.TrimSpace(validate.Doc(v)), LandsIn: landsIn(path)}
	// A list that needs at least one item is concrete as a list, yet has
	// no value until the user gives one: only a complete value is a default.
	complete := func(v cue.Value) bool { return v.IsConcrete() && v.Validate(cue.Concrete(true)) == nil }
	if d, ok := v.Default(); ok && complete(d) {
		o.Default = literal(d)
	} else if complete(v) {
		o.Default = literal(v)
	} else if regular {
		o.Required = true
	}
	o.Allowed = strings.Join(enumValues(v), ", ")
	return o
}

func writeText(w io.Writer, opts []option) {
	for i, o := range opts {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s\n  type:    %s\n", o.Path, o.Type)
		switch {
		case len(o.TypeDefaults) > 0:
			for i, d := range o.TypeDefaults {
				label := "default:"
				if i > 0 {
					label = "        "
				}
				fmt.Fprintf(w, "  %s %s for %s\n", label, d.Default, d.Type)
			}
		case o.Default != "":
			fmt.Fprintf(w, "  default: %s\n", o.Default)
		case o.Required:
			fmt.Fprintln(w, "  required")
		default:
			fmt.Fprintln(w, "  optional (unset by default)")
		}
		if o.Allowed != "" {
			fmt.Fprintf(w, "  allowed: %s\n", o.Allowed)
		}
		if len(o.Types) > 0 {
			fmt.Fprintf(w, "  types:   %s\n", strings.Join(o.Types, ", "))
		}
		if len(o.LandsIn) > 0 {
			fmt.Fprintf(w, "  lands in: %s\n", strings.Join(o.LandsIn, "; "))
		}
		for _, line := range strings.Split(o.Doc, "\n") {
			if line != "" {
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
	}
}

func writeMarkdown(w io.Writer, opts []option) {
	fmt.Fprintln(w, "# Options")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Generated from the schema by `make docs` (`matrixgen explain --format markdown`); do not edit.")
	section := ""
	for _, o := range opts {
		top := strings.SplitN(o.Path, ".", 2)[0]
		if top != section && strings.Contains(o.Path, ".") {
			section = top
			fmt.Fprintf(w, "\n## %s\n", top)
		}
		fmt.Fprintf(w, "\n### `%s`\n\n", o.Path)
		fmt.Fprintf(w, "- type: %s\n", o.Type)
		switch {
		case len(o.TypeDefaults) > 0:
			var ds []string
			for _, d := range o.TypeDefaults {
				ds = append(ds, fmt.Sprintf("`%s` for `%s`", d.Default, d.Type))
			}
			fmt.Fprintf(w, "- default: %s\n", strings.Join(ds, ", "))
		case o.Default != "":
			fmt.Fprintf(w, "- default: `%s`\n", o.Default)
		case o.Required:
			fmt.Fprintln(w, "- required")
		default:
			fmt.Fprintln(w, "- optional (unset by default)")
		}
		if o.Allowed != "" {
			fmt.Fprintf(w, "- allowed: `%s`\n", strings.ReplaceAll(o.Allowed, ", ", "`, `"))
		}
		if len(o.Types) > 0 {
			fmt.Fprintf(w, "- for type: `%s`\n", strings.Join(o.Types, "`, `"))
		}
		if len(o.LandsIn) > 0 {
			fmt.Fprintf(w, "- lands in: `%s`\n", strings.Join(o.LandsIn, "`; `"))
		}
		if o.Doc != "" {
			fmt.Fprintf(w, "\n%s\n", strings.Join(strings.Fields(o.Doc), " "))
		}
	}
}

// landsIn lists "file key" for each row of the option table the option
// has.
func landsIn(path string) []string {
	var out []string
	for _, m := range compile.Mappings() {
		if m.Option == path {
			out = append(out, m.File+" "+m.KeyString())
		}
	}
	return out
}

func kindName(path string, v cue.Value) string {
	if openStruct(v) {
		if last := path[strings.LastIndex(path, ".")+1:]; last == "extra" || strings.HasSuffix(last, "_extra") {
			return "mapping (merged into the generated file)"
		}
		return "mapping"
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
		if !a.IsConcrete() || a.IncompleteKind() == cue.StructKind {
			return nil
		}
		out = append(out, literal(a))
	}
	return out
}
