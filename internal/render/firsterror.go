package render

// firstError remembers the first value an escaper refused, so that a
// renderer builds its directives as a plain list and checks for an error
// once at the end.
type firstError struct{ err error }

// tok escapes s for one position of a format; on refusal it records the
// error and returns what the escaper gave.
func (f *firstError) tok(esc func(string) (string, error), s string) string {
	out, err := esc(s)
	f.fail(err)
	return out
}

func (f *firstError) fail(err error) {
	if err != nil && f.err == nil {
		f.err = err
	}
}
