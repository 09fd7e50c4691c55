package node

import (
	"strings"
	"testing"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/option"
	"github.com/carina-hpc/carina/pkg/request"
)

// pyxis's --container-name modes against what exists on the node.
func TestCheckNameMode(t *testing.T) {
	for _, tc := range []struct {
		mode          string
		running, kept bool
		wantErr       string
	}{
		{option.NameAuto, true, false, ""},
		{option.NameAuto, false, false, ""},
		{option.NameCreate, true, false, "already runs"},
		{option.NameCreate, false, true, "exists on this node"},
		{option.NameCreate, false, false, ""},
		{option.NameExec, false, false, "no container of that name runs"},
		{option.NameExec, true, false, ""},
		{option.NameNoExec, true, false, "runs already"},
		{option.NameNoExec, false, false, ""},
	} {
		err := checkNameMode(option.Spec{Name: "c", NameMode: tc.mode}, tc.running, tc.kept)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("mode %s running=%v kept=%v: %v, want %q", tc.mode, tc.running, tc.kept, err, tc.wantErr)
		}
	}
}

func TestFromRequest(t *testing.T) {
	c := config.Default()
	up := request.Request{Kind: request.KindNodeUp, Site: c, Job: 5, Node: "n1", ImageStore: "/s/1001",
		NodeUp: &request.NodeUp{Image: "debian:12", Spec: option.Spec{Image: "debian:12"}, Home: "/home/u", GPUs: []string{"0", "2"}}}
	f, err := FromRequest(up)
	if err != nil || f.job != 5 || f.node != "n1" || f.image != "debian:12" || f.imageStore != "/s/1001" ||
		f.home != "/home/u" || f.retry.Attempts != c.PullRetries ||
		strings.Join(f.containerSpec("c", f.step()).Devices, ",") != "nvidia.com/gpu=0,nvidia.com/gpu=2" {
		t.Fatalf("FromRequest = %+v, %v", f, err)
	}
	up.NodeUp = &request.NodeUp{}
	if _, err := FromRequest(up); err == nil {
		t.Fatal("a node-up request with neither image nor name was accepted")
	}
	up.NodeUp = &request.NodeUp{Image: "x"}
	up.Site.ImageFormat = "zip"
	if _, err := FromRequest(up); err == nil {
		t.Fatal("an unknown image format was accepted")
	}
}
