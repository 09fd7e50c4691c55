// Package safetext makes text that another user controls safe to print on
// a terminal. An image store belongs to its user, who can write any bytes
// into its names, tags, ids and bookkeeping file names; root (or an admin)
// who lists that store must see those bytes, not have their terminal obey
// them (ANSI escape sequences that move the cursor, rewrite the screen or
// make the terminal answer with input, a newline that forges a table line).
//
// Escape is for one field (a name, an id) in table or plain output, JSON
// for encoded JSON, and Writer for a whole stream copied from a process
// that runs as that user.
//
// Printable characters (unicode.IsPrint: letters, marks, numbers,
// punctuation, symbols and the ASCII space) pass unchanged, so ordinary
// names print as they are. Everything else is escaped the way Go writes it
// in a string literal: \n, \t and \r by name, other bytes below 0x80 and
// bytes that are not UTF-8 as \xNN, other runes (C1 controls such as CSI
// U+009B, bidirectional overrides, zero-width and other format
// characters) as \uNNNN or \UNNNNNNNN.
package safetext

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Escape returns s with every character that is not printable escaped,
// and a backslash doubled so that an escape can be told from the text
// "\x1b" itself. A string of printable characters without a backslash is
// returned as it is.
func Escape(s string) string {
	if plain(s) {
		return s
	}
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == '\\' {
			b = append(b, `\\`...)
		} else {
			b = appendRune(b, r, s[i:i+n])
		}
		i += n
	}
	return string(b)
}

// plain reports whether s needs no escaping: the fast path for the names
// and ids of every ordinary image.
func plain(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			if c == '\\' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !printable(r, n) {
			return false
		}
		i += n
	}
	return true
}

// printable is the one definition of what passes unescaped: a valid
// UTF-8 rune that unicode.IsPrint accepts. (An invalid byte decodes as
// RuneError of width 1; the character U+FFFD itself is printable.)
func printable(r rune, width int) bool {
	return !(r == utf8.RuneError && width == 1) && unicode.IsPrint(r)
}

// appendRune appends r, the decoding of raw, escaped if it is not
// printable.
func appendRune(b []byte, r rune, raw string) []byte {
	switch {
	case printable(r, len(raw)):
		return append(b, raw...)
	case r == '\n':
		return append(b, `\n`...)
	case r == '\t':
		return append(b, `\t`...)
	case r == '\r':
		return append(b, `\r`...)
	case r < utf8.RuneSelf || r == utf8.RuneError:
		for i := 0; i < len(raw); i++ {
			b = fmt.Appendf(b, `\x%02x`, raw[i])
		}
		return b
	case r <= 0xffff:
		return fmt.Appendf(b, `\u%04x`, r)
	}
	return fmt.Appendf(b, `\U%08x`, r)
}

// JSON escapes, in encoded JSON, the characters that encoding/json leaves
// raw although a terminal may act on them: DEL, the C1 controls (U+0080 to
// U+009F; a terminal in UTF-8 mode may take U+009B as CSI), and every
// other rune that is not printable. Each becomes a \uNNNN escape (a
// surrogate pair above U+FFFF), so the document decodes to the very same
// values. Outside its strings JSON holds ASCII only, so every such rune is
// inside a string; bytes that are not UTF-8 (encoding/json writes none)
// are left as they are.
func JSON(doc []byte) []byte {
	var out []byte
	for i := 0; i < len(doc); {
		c := doc[i]
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\t' || c == '\r' {
			if out != nil {
				out = append(out, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(doc[i:])
		if (r == utf8.RuneError && n == 1) || unicode.IsPrint(r) {
			if out != nil {
				out = append(out, doc[i:i+n]...)
			}
			i += n
			continue
		}
		if out == nil {
			out = append(make([]byte, 0, len(doc)+16), doc[:i]...)
		}
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += n
	}
	if out == nil {
		return doc
	}
	return out
}
