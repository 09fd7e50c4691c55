package relay

// Pure functions: framing, the command's environment, command lookup,
// exit codes.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestRelayFrames(t *testing.T) {
	exit := 3
	for _, v := range []any{
		Request{Argv: []string{"srun", "-n", "2", "a\x00b"}, Env: []string{"A=1", "B="}},
		Message{Signal: 15},
		Reply{Exit: &exit},
		Reply{Signal: 9},
		Reply{Error: "carina: relay: x"},
		Request{Argv: []string{"srun", "cat", "caf\xe9.txt"}, Env: []string{"F=\xff", "E="}, Cwd: "/d\xe9"},
		Request{},
	} {
		b, err := encodeFrame(v)
		if err != nil {
			t.Fatal(err)
		}
		got := reflect.New(reflect.TypeOf(v))
		if err := readFrame(bytes.NewReader(b), got.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Elem().Interface(), v) {
			t.Errorf("%#v came back as %#v", v, got.Elem().Interface())
		}
	}
	latin1, _ := encodeFrame(Request{Argv: []string{"srun", "caf\xe9"}})
	if want := `{"argv":["srun",{"bytes":"Y2Fm6Q=="}],"env":null}`; string(latin1[4:]) != want {
		t.Errorf("a Latin-1 argument is sent as %s, want %s", latin1[4:], want)
	}
	zero, _ := encodeFrame(Reply{Exit: new(int)})
	if !strings.Contains(string(zero), `"exit":0`) {
		t.Errorf("exit 0 is lost: %q", zero)
	}

	good, _ := encodeFrame(Message{Signal: 2})
	tests := []struct {
		name string
		in   []byte
		want string // error text part; "EOF" for io.EOF
	}{
		{"empty stream", nil, "EOF"},
		{"short header", good[:2], io.ErrUnexpectedEOF.Error()},
		{"short body", good[:len(good)-1], io.ErrUnexpectedEOF.Error()},
		{"too long", []byte{0x7f, 0, 0, 0}, "over the limit"},
		{"not JSON", append([]byte{0, 0, 0, 2}, "no"...), "decoding a frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := readFrame(bytes.NewReader(tt.in), &m)
			if tt.want == "EOF" {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("error %v, want io.EOF", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRelayChildEnv(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, []string{"PATH=/h/bin", "CARINA_RELAYED=1"}},
		{"kept", []string{"A=1", "SLURM_JOB_ID=7", "E=", "X=a=b"},
			[]string{"A=1", "SLURM_JOB_ID=7", "E=", "X=a=b", "PATH=/h/bin", "CARINA_RELAYED=1"}},
		{"dropped", []string{"PATH=/c", "LD_PRELOAD=x", "LD_LIBRARY_PATH=y", "LD_AUDIT=z", "CARINA_RELAYED=0", "B=2"},
			[]string{"B=2", "PATH=/h/bin", "CARINA_RELAYED=1"}},
		{"malformed", []string{"NOEQUALS", "=v", "N=a\x00b", "LD_PRELOADX=ok"},
			[]string{"LD_PRELOADX=ok", "PATH=/h/bin", "CARINA_RELAYED=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := childEnv(tt.in, "/h/bin"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRelayLookPath(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	write := func(p string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(a, "noexec"), 0o644)
	write(filepath.Join(b, "noexec"), 0o755)
	write(filepath.Join(a, "srun"), 0o755)
	write(filepath.Join(b, "srun"), 0o755)
	os.Mkdir(filepath.Join(a, "adir"), 0o755)
	tests := []struct {
		name, cmd, dirs, want string // want "" for not found
	}{
		{"first wins", "srun", a + ":" + b, filepath.Join(a, "srun")},
		{"order", "srun", b + ":" + a, filepath.Join(b, "srun")},
		{"not executable skipped", "noexec", a + ":" + b, filepath.Join(b, "noexec")},
		{"directory skipped", "adir", a, ""},
		{"missing", "sbatch", a + ":" + b, ""},
		{"relative and empty entries ignored", "srun", "::.:" + b, filepath.Join(b, "srun")},
		{"empty path", "srun", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.cmd, tt.dirs)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("found %s", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRelayStatusCode(t *testing.T) {
	for _, tt := range []struct {
		st   Status
		want int
	}{
		{Status{}, 0}, {Status{Exit: 7}, 7}, {Status{Signal: 15}, 143}, {Status{Signal: 9}, 137}, {Status{Exit: 255}, 255},
	} {
		if got := tt.st.Code(); got != tt.want {
			t.Errorf("%+v: %d, want %d", tt.st, got, tt.want)
		}
	}
}

// TestRelayFrameHeaderOnly: a header claims up to maxFrame; what the
// decoder sets aside follows the bytes that came.
func TestRelayFrameHeaderOnly(t *testing.T) {
	hdr := []byte{0, 0x80, 0, 0} // maxFrame
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := readFrame(bytes.NewReader(append(hdr, `{"argv":`...)), &Request{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("a header and 8 bytes cost %d bytes", alloc)
	}
	big := Request{Argv: []string{"srun", strings.Repeat("x", 3<<20)}}
	b, err := encodeFrame(big)
	if err != nil {
		t.Fatal(err)
	}
	var got Request
	if err := readFrame(bytes.NewReader(b), &got); err != nil || !reflect.DeepEqual(got, big) {
		t.Fatalf("a 3 MiB frame: %v", err)
	}
}
