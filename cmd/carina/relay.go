package main

// carina relay serve: the host side of the Slurm command relay (pkg/relay)
// for one node container, in the foreground until SIGTERM or SIGINT; then
// it stops accepting, sends SIGTERM to the running commands, SIGKILL to
// those left after 5 s, removes the socket and exits 0. Its log (one line
// per command) goes to stderr.

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/carina-hpc/carina/pkg/relay"
	"github.com/carina-hpc/carina/pkg/runas"
)

const relayServeUsage = "usage: carina relay serve --socket PATH [--commands srun,sbatch,...] [--path DIRS]"

func relayServe(args []string) error {
	cfg, err := parseRelayServe(args)
	if err != nil {
		return err
	}
	runas.CloseInheritedOnExec()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return relay.Serve(ctx, cfg)
}

// parseRelayServe turns the arguments of `carina relay serve` into the
// server's configuration.
func parseRelayServe(args []string) (relay.Config, error) {
	fs := flag.NewFlagSet("relay serve", flag.ContinueOnError)
	socket := fs.String("socket", "", "the unix socket to listen on (created mode 0600)")
	commands := fs.String("commands", strings.Join(relay.DefaultCommands, ","),
		"comma-separated names of the commands that may be run")
	path := fs.String("path", os.Getenv("PATH"),
		"colon-separated directories the commands are looked up in (also their PATH)")
	if err := fs.Parse(args); err != nil {
		return relay.Config{}, err
	}
	if *socket == "" || fs.NArg() != 0 {
		return relay.Config{}, errors.New(relayServeUsage)
	}
	cfg := relay.Config{Socket: *socket, Path: *path, Commands: []string{}}
	for _, c := range strings.Split(*commands, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cfg.Commands = append(cfg.Commands, c)
		}
	}
	if len(cfg.Commands) == 0 {
		return relay.Config{}, errors.New("relay serve: --commands names no command")
	}
	return cfg, nil
}
