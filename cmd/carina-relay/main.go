// Command carina-relay is the static client placed in every job container
// (as /.carina/bin/carina-relay, with srun, sbatch, ... symlinked to it).
// Called by any other name than carina-relay, it relays that command to
// the host side of the node (`carina relay serve`), which runs the host's
// binary with this process's arguments, environment, stdin, stdout,
// stderr and working directory; which names the host runs is the host's
// decision. Called as carina-relay:
//
//	carina-relay run CMD [ARG...]   relay CMD explicitly
//	carina-relay env0 [FILE]        print the environment, NAME=VALUE\0 each
//	                                (to FILE when given: an image's entrypoint
//	                                may print on stdout)
//
// The socket is $CARINA_RELAY_SOCKET, else /.carina/run/relay.sock.
// SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGWINCH and
// SIGALRM are passed on to the command. Exit status: the command's own;
// 128+N when signal N killed it (as a shell reports it; the client does
// not kill itself with N); 127, after one "carina: " line on stderr, when
// the host side cannot be reached, refuses the command or goes away.
//
// Build it static: CGO_ENABLED=0 go build -trimpath -ldflags '-s -w'.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/carina-hpc/carina/pkg/relay"
)

const usage = `usage: carina-relay run CMD [ARG...]   run CMD on the host side of the node
       carina-relay env0 [FILE]        print the environment, NUL-terminated
       srun|sbatch|... [ARG...]        (through a symlink) run that command
`

func main() {
	os.Exit(run(os.Args))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	name := filepath.Base(args[0])
	if !strings.HasPrefix(name, "carina-relay") {
		return relayCmd(append([]string{name}, args[1:]...))
	}
	switch {
	case len(args) == 2 && args[1] == "env0":
		return env0(os.Stdout, os.Environ())
	case len(args) == 3 && args[1] == "env0":
		f, err := os.OpenFile(args[2], os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintf(os.Stderr, "carina: env0: %v\n", err)
			return 1
		}
		rc := env0(f, os.Environ())
		if err := f.Close(); err != nil && rc == 0 {
			fmt.Fprintf(os.Stderr, "carina: env0: %v\n", err)
			return 1
		}
		return rc

	case len(args) > 2 && args[1] == "run":
		return relayCmd(args[2:])
	}
	fmt.Fprint(os.Stderr, usage)
	return 2
}

// env0 writes env as NAME=VALUE entries, each ended by a NUL byte.
func env0(w io.Writer, env []string) int {
	var b strings.Builder
	for _, kv := range env {
		b.WriteString(kv)
		b.WriteByte(0)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		fmt.Fprintf(os.Stderr, "carina: env0: %v\n", err)
		return 1
	}
	return 0
}

// relayCmd runs argv on the host side and returns the status to exit with.
func relayCmd(argv []string) int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, relay.ForwardedSignals...)
	socket := os.Getenv(relay.SocketEnv)
	if socket == "" {
		socket = relay.DefaultSocket
	}
	st, err := relay.Call(socket, argv, os.Environ(), sigs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "carina: %v\n", err)
		return 127
	}
	return st.Code()
}
