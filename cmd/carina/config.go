package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/carina-hpc/carina/pkg/config"
)

const configUsage = "usage: carina config check [--no-owner-check] [FILE]"

// configCmd checks a site configuration file with the plugin's own parser:
// `carina config check [--no-owner-check] [FILE]` (FILE defaults to
// /etc/carina/carina.toml) prints "FILE: ok", or fails with the first
// problem as FILE:LINE: MESSAGE. Like the plugin, it requires the file to
// be owned by root and not writable by group or others, unless
// --no-owner-check is given (for a draft kept elsewhere).
func configCmd(args []string) error {
	return configCheck(args, os.Stdout)
}

func configCheck(args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return errors.New(configUsage)
	}
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	noOwner := fs.Bool("no-owner-check", false, "do not require the file to be owned by root and not writable by group or others")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return errors.New(configUsage)
	}
	file := config.DefaultFile
	if fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if _, err := config.ParseFile(file, !*noOwner); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "%s: ok\n", file)
	return err
}
