// Package diag holds the diagnostics every stage reports: a message tied to
// the config path and the position of the user's input that caused it.
// It imports no other package of the project, so every stage can use it.
package diag

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Pos is a position in an input file: 1-based line and column (in
// characters), plus the byte offset for tools.
type Pos struct {
	Line, Col, Byte int
}

// Range is the smallest stretch of input that explains a diagnostic.
type Range struct {
	File       string
	Start, End Pos
}

// Diagnostic is one problem. Path is the config option path
// ("homeserver.max_upload_size_mb"); Summary is one short sentence; Detail, when
// set, says what to do.
type Diagnostic struct {
	Path    string
	Summary string
	Detail  string
	Subject Range
	// Warning marks what works but should change: it does not make the
	// config invalid.
	Warning bool
}

func (d Diagnostic) String() string {
	var b strings.Builder
	if d.Subject.File != "" {
		fmt.Fprintf(&b, "%s:", d.Subject.File)
		if d.Subject.Start.Line > 0 {
			fmt.Fprintf(&b, "%d:%d:", d.Subject.Start.Line, d.Subject.Start.Col)
		}
		b.WriteString(" ")
	}
	if d.Path != "" {
		b.WriteString(d.Path + ": ")
	}
	if d.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString("; " + d.Detail)
	}
	return b.String()
}

// List collects diagnostics; it is an error when it holds any.
type List []Diagnostic

func (l List) Error() string {
	switch len(l) {
	case 0:
		return "no problems"
	case 1:
		return l[0].String()
	}
	return fmt.Sprintf("%s (and %d more problems)", l[0], len(l)-1)
}

// Problems counts the diagnostics that are not warnings.
func (l List) Problems() int {
	n := 0
	for _, d := range l {
		if !d.Warning {
			n++
		}
	}
	return n
}

// Add appends a diagnostic.
func (l *List) Add(d Diagnostic) { *l = append(*l, d) }

// Addf appends a diagnostic at a range.
func (l *List) Addf(at Range, path, format string, args ...any) {
	l.Add(Diagnostic{Path: path, Summary: fmt.Sprintf(format, args...), Subject: at})
}

// Err returns the list as an error, or nil when it is empty, sorted and
// without duplicates.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l.Sorted()
}

// Sorted orders by file, line, column, path and message, and drops exact
// duplicates: CUE reports one conflict once per contributing constraint.
func (l List) Sorted() List {
	out := append(List(nil), l...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Subject.File != b.Subject.File {
			return a.Subject.File < b.Subject.File
		}
		if a.Subject.Start.Line != b.Subject.Start.Line {
			return a.Subject.Start.Line < b.Subject.Start.Line
		}
		if a.Subject.Start.Col != b.Subject.Start.Col {
			return a.Subject.Start.Col < b.Subject.Start.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.String() < b.String()
	})
	dedup := out[:0]
	for i, d := range out {
		if i > 0 && d.String() == out[i-1].String() {
			continue
		}
		dedup = append(dedup, d)
	}
	return dedup
}

// Print writes one line per diagnostic, with file names relative to cwd and
// slash-separated so that output is the same on every machine.
func Print(w io.Writer, l List, cwd string) {
	for _, d := range l.Sorted() {
		d.Subject.File = relative(d.Subject.File, cwd)
		fmt.Fprintln(w, d.String())
	}
}

func relative(file, cwd string) string {
	if file == "" || cwd == "" || !filepath.IsAbs(file) {
		return filepath.ToSlash(file)
	}
	if rel, err := filepath.Rel(cwd, file); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(file)
}
