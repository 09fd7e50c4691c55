// Package relay runs Slurm commands (srun, sbatch, scancel, ...) called
// inside a job's container as real host commands. A small static client in
// the container (cmd/carina-relay) hands its argv, environment, standard
// fds and working directory to a server on the host side of the node
// (Serve, `carina relay serve`) over a unix socket; the server runs the
// host binary as the same user with those very fds, forwards the signals
// the client receives and sends back the exit status.
//
// Wire protocol, one connection per command, on a unix stream socket:
//
//	frame    = uint32 length, big endian, then that many bytes of JSON
//	client → server, first frame, with exactly 4 fds (SCM_RIGHTS) attached
//	         to its first byte: stdin, stdout, stderr and an O_PATH
//	         directory fd of the client's working directory:
//	         {"argv": ["srun", "-n2", "hostname"], "env": ["NAME=VALUE", ...], "cwd": "/dir"}
//	         where each string that is not valid UTF-8 (a file name in
//	         Latin-1, say) is {"bytes": "BASE64"} instead: a JSON string
//	         cannot carry such bytes unchanged
//	client → server, later frames, any number: {"signal": 15}
//	server → client, exactly one frame, then the server closes:
//	         {"exit": 0} | {"signal": 9} | {"error": "carina: relay: ..."}
//
// This file holds the message types and the framing; server.go, session.go
// and child.go the server; client.go the client; host.go the server's life
// beside a node container (started, found, stopped by the helper) and the
// image's entrypoint run through the client.
package relay

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
	"unicode/utf8"
)

// DefaultCommands are the Slurm commands relayed unless told otherwise.
var DefaultCommands = []string{
	"srun", "sbatch", "scancel", "squeue", "scontrol",
	"salloc", "sinfo", "sacct", "sstat", "sattach",
}

// ForwardedSignals are the signals a client passes on to the command.
var ForwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGCONT, syscall.SIGWINCH,
	syscall.SIGALRM,
}

// DefaultSocket is where the client looks for the server inside a
// container when CARINA_RELAY_SOCKET is not set.
const DefaultSocket = "/.carina/run/relay.sock"

// SocketEnv names the variable that overrides DefaultSocket.
const SocketEnv = "CARINA_RELAY_SOCKET"

// maxFrame bounds one frame: an argv plus an environment stay well below
// the kernel's own 2 MiB-ish limit for execve.
const maxFrame = 8 << 20

// firstRead is what readFrame sets aside for a frame's body before any
// of it arrived.
const firstRead = 64 << 10

// numFDs is the number of fds attached to a request.
const numFDs = 4

// Request is the first frame of a connection (wireRequest on the wire).
type Request struct {
	Argv []string
	Env  []string
	// Cwd is the caller's working directory as it names it. The host
	// uses that name when it is the very directory of the cwd fd (a
	// directory mounted at the same path on both sides), so that srun
	// passes a path the other nodes know.
	Cwd string
}

// wireRequest is a Request on the wire.
type wireRequest struct {
	Argv []wireString `json:"argv"`
	Env  []wireString `json:"env"`
	Cwd  wireString   `json:"cwd,omitempty"`
}

// MarshalJSON writes r with every string as it is, bytes included.
func (r Request) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireRequest{toWire(r.Argv), toWire(r.Env), wireString(r.Cwd)})
}

// UnmarshalJSON reads a Request that MarshalJSON wrote.
func (r *Request) UnmarshalJSON(b []byte) error {
	var w wireRequest
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Request{Argv: fromWire(w.Argv), Env: fromWire(w.Env), Cwd: string(w.Cwd)}
	return nil
}

// A wireString is a JSON string when it is valid UTF-8, else
// {"bytes": BASE64}. encoding/json would write each invalid byte as
// U+FFFD, so an argument or a variable naming a file in Latin-1 would
// reach the command changed.
type wireString string

type wireBytes struct {
	Bytes []byte `json:"bytes"`
}

func (s wireString) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(s)) {
		return json.Marshal(string(s))
	}
	return json.Marshal(wireBytes{[]byte(s)})
}

func (s *wireString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var w wireBytes
		if err := json.Unmarshal(b, &w); err != nil {
			return err
		}
		*s = wireString(w.Bytes)
		return nil
	}
	return json.Unmarshal(b, (*string)(s))
}

func toWire(l []string) []wireString {
	if l == nil {
		return nil
	}
	out := make([]wireString, len(l))
	for i, s := range l {
		out[i] = wireString(s)
	}
	return out
}

func fromWire(l []wireString) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = string(s)
	}
	return out
}

// Message is a later client frame: a signal to deliver to the command.
type Message struct {
	Signal int `json:"signal,omitempty"`
}

// Reply is the server's only frame. Exactly one of its fields is set:
// Exit (the exit status), Signal (the signal that killed the command) or
// Error (a line to print as is; the command did not run).
type Reply struct {
	Exit   *int   `json:"exit,omitempty"`
	Signal int    `json:"signal,omitempty"`
	Error  string `json:"error,omitempty"`
}

// encodeFrame returns v as one frame.
func encodeFrame(v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("relay: encoding a frame: %w", err)
	}
	if len(body) > maxFrame {
		return nil, fmt.Errorf("relay: frame of %d bytes is over the limit of %d", len(body), maxFrame)
	}
	out := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(out, uint32(len(body)))
	return append(out, body...), nil
}

// readFrame reads one frame from r into v. A stream that ends before the
// first byte of the frame gives io.EOF; one that ends inside a frame gives
// io.ErrUnexpectedEOF.
func readFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err // io.EOF stays io.EOF: the stream ended between frames
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return fmt.Errorf("relay: frame of %d bytes is over the limit of %d", n, maxFrame)
	}
	body, err := readBody(r, int(n))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("relay: decoding a frame: %w", err)
	}
	return nil
}

// readBody reads a body of n bytes. It sets aside room as the bytes
// arrive (firstRead, then doubling what came so far) instead of n up
// front: a header claims up to maxFrame, and a peer that sends only a
// header (or stalls after it, until the request timeout) costs firstRead,
// not maxFrame.
func readBody(r io.Reader, n int) ([]byte, error) {
	body := make([]byte, 0, min(n, firstRead))
	for len(body) < n {
		chunk := min(n-len(body), max(len(body), firstRead))
		body = slices.Grow(body, chunk)
		got, err := io.ReadFull(r, body[len(body):len(body)+chunk])
		body = body[:len(body)+got]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return body, nil
}
