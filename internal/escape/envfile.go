package escape

import (
	"bufio"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxEnvLine is the longest line Docker's env-file reader accepts: it uses a
// bufio.Scanner with the default buffer, which must hold the line and its
// newline.
const maxEnvLine = bufio.MaxScanTokenSize - 1

// EnvFileValue returns the line KEY=value for a file passed to
// docker run --env-file.
//
// Docker takes everything after the first '=' literally: there is no quoting,
// no escaping and no comment stripping, and leading and trailing spaces stay
// part of the value. So nothing can be escaped; values that the format cannot
// carry are refused instead. Docker also rejects files that are not UTF-8
// and lines longer than its scanner buffer.
func EnvFileValue(key, value string) (string, error) {
	if !isEnvKey(key) {
		return "", fmt.Errorf("escape: env file key %q is not of the form [A-Za-z_][A-Za-z0-9_]*", key)
	}
	if i := strings.IndexAny(value, "\n\r\x00"); i >= 0 {
		return "", fmt.Errorf("escape: value of %s contains %q, which an env file cannot carry", key, value[i])
	}
	if !utf8.ValidString(value) {
		return "", fmt.Errorf("escape: value of %s is not valid UTF-8, which docker rejects in env files", key)
	}
	line := key + "=" + value
	if len(line) > maxEnvLine {
		return "", fmt.Errorf("escape: env file line for %s is %d bytes, docker reads at most %d", key, len(line), maxEnvLine)
	}
	return line, nil
}

func isEnvKey(key string) bool {
	if key == "" || ('0' <= key[0] && key[0] <= '9') {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c != '_' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
