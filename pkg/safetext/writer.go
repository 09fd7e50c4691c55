package safetext

import (
	"io"
	"unicode/utf8"
)

// Writer copies a stream to another writer with its control characters
// escaped as Escape does, except that newlines and tabs pass (the stream
// is lines of text) and backslashes are not doubled (the stream is carina's
// own output, whose fields are escaped already: it passes unchanged). It
// is for what a process running as another user prints: that user may
// have taken the process over (it is theirs to ptrace), so nothing it
// writes is trusted to be carina's output.
//
// A rune split between two writes is held back until its end arrives;
// Close writes out, escaped, an incomplete one left at the end.
type Writer struct {
	w    io.Writer
	held []byte // the start of a rune whose end has not come yet
	buf  []byte
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p and writes it on; it reports all of p written unless w
// failed.
func (w *Writer) Write(p []byte) (int, error) {
	data := p
	if len(w.held) > 0 {
		data = append(w.held, p...)
		w.held = nil
	}
	out := w.buf[:0]
	for i := 0; i < len(data); {
		c := data[i]
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\t' {
			out = append(out, c)
			i++
			continue
		}
		if !utf8.FullRune(data[i:]) {
			w.held = append([]byte(nil), data[i:]...)
			break
		}
		r, n := utf8.DecodeRune(data[i:])
		out = appendRune(out, r, string(data[i:i+n]))
		i += n
	}
	w.buf = out
	if len(out) > 0 {
		if _, err := w.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Close writes out what is held back, escaped byte by byte. It does not
// close the underlying writer.
func (w *Writer) Close() error {
	if len(w.held) == 0 {
		return nil
	}
	var out []byte
	for _, c := range w.held {
		out = appendRune(out, utf8.RuneError, string([]byte{c}))
	}
	w.held = nil
	_, err := w.w.Write(out)
	return err
}
