package relay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// FuzzFrame feeds the frame decoder any bytes, as a peer may send them,
// and checks the framing from both ends:
//   - decoding never panics; a stream that ends before a frame gives
//     io.EOF, one that ends inside a frame io.ErrUnexpectedEOF, and a
//     header over maxFrame an error without reading the body;
//   - a decoded frame consumed exactly its header and body;
//   - decoding allocates in proportion to the bytes that arrived, never
//     what a header only claims, and never beyond maxFrame;
//   - a Request, Message or Reply made from the bytes, written by the
//     encoder, decodes to the same value, also when frames follow one
//     another on one stream.
func FuzzFrame(f *testing.F) {
	exit := 3
	for _, v := range []any{
		Request{Argv: []string{"srun", "-n", "2", "a\x00b"}, Env: []string{"A=1", "B="}, Cwd: "/home/u"},
		Request{Argv: []string{"sbatch", "caf\xe9.sh"}, Env: []string{"LANG=fr_FR.ISO-8859-1"}},
		Message{Signal: 15}, Reply{Exit: &exit}, Reply{Signal: 9}, Reply{Error: "carina: relay: x"},
	} {
		b, err := encodeFrame(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range [][]byte{
		nil, {0, 0}, {0x7f, 0, 0, 0}, {0, 0x80, 0, 0}, {0, 0x80, 0, 1}, append([]byte{0, 0, 0, 2}, "no"...),
		append([]byte{0, 0, 0, 4}, "null"...), append([]byte{0, 0, 0, 27}, `{"argv":[{"bytes":"/w=="}]}`...),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []any{&Request{}, &Message{}, &Reply{}} {
			checkDecode(t, data, v)
		}
		checkRoundTrip(t, data)
	})
}

// allocSlack covers what the decoder's bookkeeping allocates whatever the
// input (and the fuzzing engine meanwhile).
const allocSlack = 256 << 10

func checkDecode(t *testing.T, data []byte, v any) {
	t.Helper()
	r := bytes.NewReader(data)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := readFrame(r, v)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if bound := uint64(allocSlack + 64*len(data)); alloc > bound || alloc > 2*maxFrame+allocSlack {
		t.Fatalf("decoding %d bytes into %T allocated %d bytes", len(data), v, alloc)
	}
	var n uint32
	if len(data) >= 4 {
		n = binary.BigEndian.Uint32(data)
	}
	switch {
	case len(data) == 0:
		if err != io.EOF {
			t.Fatalf("empty stream: %v, want io.EOF", err)
		}
	case len(data) < 4:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("short header: %v, want io.ErrUnexpectedEOF", err)
		}
	case n > maxFrame:
		if err == nil || !strings.Contains(err.Error(), "over the limit") || r.Len() != len(data)-4 {
			t.Fatalf("header of %d bytes: %v, %d bytes read", n, err, len(data)-r.Len())
		}
	case uint64(len(data)) < 4+uint64(n):
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("short body: %v, want io.ErrUnexpectedEOF", err)
		}
	case err == nil:
		if r.Len() != len(data)-4-int(n) {
			t.Fatalf("frame of %d bytes consumed %d of %d", n, len(data)-r.Len(), len(data))
		}
	default:
		if !strings.HasPrefix(err.Error(), "relay: decoding a frame") {
			t.Fatalf("undecodable frame: %v", err)
		}
	}
}

func checkRoundTrip(t *testing.T, data []byte) {
	t.Helper()
	s := string(data)
	code := int(int8(len(data)))
	vals := []any{
		Request{Argv: strings.Split(s, "\n"), Env: strings.Fields(s), Cwd: s},
		Request{Argv: []string{s}},
		Message{Signal: len(data)},
		Reply{Exit: &code},
		// An error is a line for people: text, whatever the bytes it
		// was made from.
		Reply{Error: strings.ToValidUTF8(s, "\uFFFD")},
	}
	var stream []byte
	for _, v := range vals {
		b, err := encodeFrame(v)
		if err != nil {
			t.Fatalf("encoding %#v: %v", v, err)
		}
		stream = append(stream, b...)
	}
	r := bytes.NewReader(stream)
	for _, v := range vals {
		got := reflect.New(reflect.TypeOf(v))
		if err := readFrame(r, got.Interface()); err != nil {
			t.Fatalf("decoding %#v: %v", v, err)
		}
		if !reflect.DeepEqual(got.Elem().Interface(), v) {
			t.Fatalf("%#v came back as %#v", v, got.Elem().Interface())
		}
	}
	if err := readFrame(r, &Message{}); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}
