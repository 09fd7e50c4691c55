package safetext

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	digest := "r.example/a@sha256:" + strings.Repeat("1", 64)
	tests := []struct {
		name, in, want string
	}{
		{"a name", "docker.io/library/debian:12", "docker.io/library/debian:12"},
		{"a digest name", digest, digest},
		{"an id", strings.Repeat("ab", 32), strings.Repeat("ab", 32)},
		{"a path", "/var/lib/carina/images/1000/carina/leases/x/n1-7", "/var/lib/carina/images/1000/carina/leases/x/n1-7"},
		{"printable unicode", "r.example/café/日本:1 ✓", "r.example/café/日本:1 ✓"},
		{"U+FFFD itself", "a\uFFFDb", "a\uFFFDb"},
		{"empty", "", ""},
		{"ANSI colour", "evil\x1b[31mred\x1b[0m:1", `evil\x1b[31mred\x1b[0m:1`},
		{"clear screen, set title", "x\x1b[2J\x1b]0;owned\x07", `x\x1b[2J\x1b]0;owned\x07`},
		{"newline forging a line", "a:1\nbbbbbbbbbbbb  1 B", `a:1\nbbbbbbbbbbbb  1 B`},
		{"tab and carriage return", "a\tb\rc", `a\tb\rc`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"C1 CSI (U+009B)", "a\u009b2J", `a\u009b2J`},
		{"bidi override", "abc\u202Egpj.exe", `abc\u202egpj.exe`},
		{"zero width space", "a\u200Bb", `a\u200bb`},
		{"no-break space", "a\u00A0b", `a\u00a0b`},
		{"non-BMP format character", "a\U000E0001b", `a\U000e0001b`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"backslash doubled", `a\x1b`, `a\\x1b`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Escape(tc.in)
			if got != tc.want {
				t.Fatalf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for _, c := range []byte(got) {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("Escape(%q) = %q holds control byte %#x", tc.in, got, c)
				}
			}
			if !utf8.ValidString(got) {
				t.Fatalf("Escape(%q) = %q is not UTF-8", tc.in, got)
			}
		})
	}
}

// terminalSafe fails unless every byte of b is printable ASCII, a newline,
// or part of a printable rune.
func terminalSafe(t *testing.T, what string, b []byte) {
	t.Helper()
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != '\n' && r != '\t' && !printable(r, n) {
			t.Fatalf("%s: %q holds %q at %d", what, b, b[i:i+n], i)
		}
		i += n
	}
}

func TestJSON(t *testing.T) {
	evil := []string{
		"plain", "a\x1b[2Jb", "a\u009b2J", "\x7f", "abc\u202Egpj", "a\U000E0001b", "café ✓", "\u2028", "a\xffb",
	}
	v := map[string]any{"names": evil, "labels": map[string]string{"k\u009b": "v\x1b"}}
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got := JSON(raw)
	terminalSafe(t, "JSON", got)
	var back, want any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("escaped JSON does not decode: %v\n%s", err, got)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("escaped JSON decodes to %v, want %v", back, want)
	}
	if !bytes.Contains(got, []byte(`a\u009b2J`)) || !bytes.Contains(got, []byte(`a\udb40\udc01b`)) {
		t.Errorf("escapes not as expected:\n%s", got)
	}
	plain := []byte(`{"id": "abc", "names": ["café ✓"]}` + "\n")
	if out := JSON(plain); &out[0] != &plain[0] {
		t.Errorf("a document with nothing to escape was copied")
	}
}

func TestWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"carina's own output passes", []string{"IMAGE ID  NAMES\nabc  r.example/a:1, evil\\x1b[31m\n\tcafé\n"},
			"IMAGE ID  NAMES\nabc  r.example/a:1, evil\\x1b[31m\n\tcafé\n"},
		{"escape sequences", []string{"a\x1b[2Jb\x1b]0;t\x07\n"}, `a\x1b[2Jb\x1b]0;t\x07` + "\n"},
		{"carriage return and DEL", []string{"a\rb\x7f"}, `a\rb\x7f`},
		{"C1 CSI split between writes", []string{"a\xc2", "\x9b2J"}, `a\u009b2J`},
		{"printable rune split three ways", []string{"caf\xe2", "\x9c", "\x93!"}, "caf✓!"},
		{"invalid bytes", []string{"a\xff\xfeb"}, `a\xff\xfeb`},
		{"incomplete rune at the end", []string{"ok\xe2\x9c"}, `ok\xe2\x9c`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			w := NewWriter(&b)
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got %q, want %q", b.String(), tc.want)
			}
			terminalSafe(t, "Writer", b.Bytes())
		})
	}
}
