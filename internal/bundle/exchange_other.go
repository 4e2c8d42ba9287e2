//go:build !linux

package bundle

var exchange = func(a, b string) error { return errNoExchange }
