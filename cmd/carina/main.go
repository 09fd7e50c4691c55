// Command carina is the helper that the SPANK plugin executes as the job
// user (never as root), and the users' and admins' command line. It holds
// everything heavy: containers/image, containers/storage and the podman CLI.
package main

import (
	"fmt"
	"os"

	"go.podman.io/storage/pkg/reexec"

	"github.com/carina-hpc/carina/pkg/pull"
)

const usage = `usage: carina COMMAND [ARGS]

Commands run by the SPANK plugin, as the job user:
  plugin      read one request (JSON) on stdin, answer on stdout: start or find
              a node container, remove a job's containers, --container-save,
              pull, resolve (pkg/request)
  relay serve --socket PATH   run the containers' srun, sbatch... on the host
For users (srun and sbatch run these on the submit host):
  kept [--node NODE] list | rm NAME...
                              the named containers container_scope=global keeps
                              on a node (run it there: srun -w NODE carina kept list)
  resolve IMAGE               print IMAGE pinned to its current digest
  pull --store DIR IMAGE      pull IMAGE into an image store, with progress
For users and admins, on an image store (yours by default: the site's image_store;
root gives --store DIR and runs them as the store's owner):
  images [--store DIR] [--format table|json]
                              list its images, most recently used first
  inspect [--store DIR] [--format json] IMAGE
                              show an image (IMAGE: name, id or id prefix)
  rmi [--store DIR] [--force] IMAGE...
                              remove images; one a job uses only with --force
  gc [--store DIR] [--keep-bytes N | --keep N] [--dry-run] [--format table|json]
                              remove unused images, least recently used first,
                              until at most N bytes (e.g. 50G) or N images are
                              left; with neither bound, every unused image
Other:
  version     print the version
  config check [--no-owner-check] [FILE]   check a site configuration file (default /etc/carina/carina.toml)
  doctor [--plugstack FILE] [--user NAME]  check what this node needs (plugstack line, site config,
                              podman, runtime, init, FUSE, squashfuse, mksquashfs, subuid/subgid, stores)
`

// version is set at build time (-ldflags -X main.version=...).
var version = "dev"

func main() {
	if reexec.Init() {
		return
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	// A job's XDG_RUNTIME_DIR names the login host's runtime directory,
	// which a compute node lacks; containers/storage would fail on it
	// (lstat) before anything is pulled. Credentials were placed from the
	// user's environment already (request.Auth), so it can go.
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			_ = os.Unsetenv("XDG_RUNTIME_DIR")
		}
	}
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	var err error
	switch {
	case args[0] == "version":
		fmt.Println("carina", version)
		return 0
	case args[0] == "plugin" && len(args) == 1:
		return pluginCmd()
	case args[0] == "kept":
		err = keptCmd(args[1:])
	case args[0] == "resolve":
		err = resolveCmd(args[1:])
	case args[0] == "pull":
		err = pullCmd(args[1:])
	case args[0] == "images":
		err = imagesCmd(args[1:])
	case args[0] == "inspect":
		err = inspectCmd(args[1:])
	case args[0] == "rmi":
		err = rmiCmd(args[1:])
	case args[0] == "gc":
		err = gcCmd(args[1:])
	case args[0] == "relay" && len(args) > 1 && args[1] == "serve":
		err = relayServe(args[2:])
	case args[0] == "config":
		err = configCmd(args[1:])
	case args[0] == "doctor":
		err = doctorCmd(args[1:])
	case args[0] == pull.Internal:
		err = pullInUserNS(args[1:])
	default:
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "carina: %v\n", err)
		return 1
	}
	return 0
}
