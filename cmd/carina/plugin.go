package main

// carina plugin: the helper's side of the plugin's one contract
// (pkg/request). It reads one Request on standard input and writes one
// Reply on standard output; standard error carries only progress. It runs
// as the job user (the plugin switched to them before exec), so every
// path in the request is opened with the user's rights.

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/node"
	"github.com/carina-hpc/carina/pkg/pull"
	"github.com/carina-hpc/carina/pkg/request"
)

func pluginCmd() int {
	req, err := request.Decode(os.Stdin)
	var rep request.Reply
	if err == nil {
		rep, err = serve(req)
	}
	if err != nil {
		var re *request.Error
		if !errors.As(err, &re) {
			re = &request.Error{Message: err.Error()}
		}
		rep = request.Reply{Error: re}
	}
	if werr := request.Encode(os.Stdout, rep); werr != nil || rep.Error != nil {
		return 1
	}
	return 0
}

// authFiles are the user's credential files for a resolve or a pull on
// this host (a node-up reads them in node.FromRequest).
func authFiles(req request.Request) []string {
	if req.Auth == nil {
		return nil
	}
	return req.Auth.OnThisHost()
}

func serve(req request.Request) (request.Reply, error) {
	switch req.Kind {
	case request.KindResolve:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		pin, err := image.Resolve(ctx, req.Resolve.Image, image.Retry{Attempts: req.Site.PullRetries, Delay: req.Site.RetryDelay}, authFiles(req))
		return request.Reply{Image: pin}, err
	case request.KindPull:
		c := req.Site
		node.ResetOOMScore()
		pin, err := pull.ToStore(context.Background(), pull.Options{Store: req.Pull.Store, Ref: req.Pull.Image,
			Retry: image.Retry{Attempts: c.PullRetries, Delay: c.RetryDelay}, Squash: c.ImageFormat == node.FormatSquashfs,
			SiteStore: c.SiteStore, AuthFiles: authFiles(req)}, os.Stderr)
		return request.Reply{Image: pin}, err
	}
	f, err := node.FromRequest(req)
	if err != nil {
		return request.Reply{}, err
	}
	switch req.Kind {
	case request.KindNodeUp:
		c, err := node.Up(f)
		if err != nil {
			return request.Reply{}, err
		}
		return request.Reply{Container: &c}, nil
	case request.KindNodeDown:
		return request.Reply{}, node.Down(f)
	case request.KindSave:
		return request.Reply{}, node.Save(f, req.Save.Container, req.Save.Out)
	}
	return request.Reply{}, request.Errorf("unknown request kind %q", req.Kind)
}
