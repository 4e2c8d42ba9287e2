package escape

import "strings"

// Shell quotes s as one POSIX sh word. Inside single quotes sh gives no byte
// a special meaning, so only the quote itself needs handling.
//
// A newline or carriage return in s is kept raw inside the quotes: sh reads
// it literally there, and POSIX sh has no other way to write a trailing
// newline in a word. Callers that embed the result in a line-oriented format
// must escape it again for that format. sh cannot carry NUL at all; reject
// it before calling.
func Shell(s string) string {
	if isBare(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellWords quotes each argument with Shell and joins them with spaces.
func ShellWords(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = Shell(a)
	}
	return strings.Join(quoted, " ")
}
