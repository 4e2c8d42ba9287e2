package bundle

import (
	"fmt"
	"strings"
)

const context = 3

// unified returns a unified diff of two texts with three lines of context,
// from a longest-common-subsequence table: bundle files are small, so the
// quadratic table costs less than a cleverer algorithm would to read.
func unified(nameA, nameB, a, b string) string {
	la, lb := splitLines(a), splitLines(b)
	ops := diffOps(la, lb)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	for _, h := range hunks(ops) {
		out.WriteString(h.header())
		for _, op := range ops[h.from:h.to] {
			out.WriteString(string(op.kind) + op.line + "\n")
		}
	}
	return out.String()
}

// splitLines keeps a missing final newline visible: the last line then
// carries diff's marker, so two texts that differ only there still differ.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if !strings.HasSuffix(s, "\n") {
		lines[len(lines)-1] += "\n\\ No newline at end of file"
	}
	return lines
}

type op struct {
	kind         byte // ' ', '-', '+'
	line         string
	aLine, bLine int // 1-based line numbers before the op
}

func diffOps(a, b []string) []op {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i], i + 1, j + 1})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			// Deletions before insertions, the order diff and git print.
			ops = append(ops, op{'-', a[i], i + 1, j + 1})
			i++
		default:
			ops = append(ops, op{'+', b[j], i + 1, j + 1})
			j++
		}
	}
	return ops
}

type hunk struct {
	from, to int
	ops      []op
}

// hunks groups changed ops with their context, merging groups whose
// context overlaps.
func hunks(ops []op) []hunk {
	var out []hunk
	for i := 0; i < len(ops); i++ {
		if ops[i].kind == ' ' {
			continue
		}
		from := max(0, i-context)
		end := i
		for k := i; k < len(ops) && k <= end+2*context; k++ {
			if ops[k].kind != ' ' {
				end = k
			}
		}
		to := min(len(ops), end+context+1)
		if n := len(out); n > 0 && out[n-1].to >= from {
			out[n-1].to = to
		} else {
			out = append(out, hunk{from: from, to: to})
		}
		i = end
	}
	for k := range out {
		out[k].ops = ops[out[k].from:out[k].to]
	}
	return out
}

func (h hunk) header() string {
	aStart, bStart, aCount, bCount := h.ops[0].aLine, h.ops[0].bLine, 0, 0
	for _, o := range h.ops {
		if o.kind != '+' {
			aCount++
		}
		if o.kind != '-' {
			bCount++
		}
	}
	if aCount == 0 {
		aStart--
	}
	if bCount == 0 {
		bStart--
	}
	return fmt.Sprintf("@@ -%d,%d +%d,%d @@\n", aStart, aCount, bStart, bCount)
}
