package userstore

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/reexec"
	"go.podman.io/storage/pkg/unshare"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
)

// TestMain lets containers/storage re-execute the test binary (it applies
// layers in a chrooted child), as main does.
func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// ociLayout writes an OCI image layout in dir holding images, each a list
// of layers (a layer: file name → content), named by its key.
type ociLayout struct {
	dir string
	t   *testing.T
}

func (o ociLayout) blob(b []byte) (string, int) {
	sum := sha256.Sum256(b)
	hexsum := hex.EncodeToString(sum[:])
	p := filepath.Join(o.dir, "blobs", "sha256", hexsum)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		o.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		o.t.Fatal(err)
	}
	return "sha256:" + hexsum, len(b)
}

func (o ociLayout) layer(files map[string]string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, content := range files {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			o.t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			o.t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		o.t.Fatal(err)
	}
	return b.Bytes()
}

func (o ociLayout) write(images map[string][][]byte) {
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	var index []desc
	for name, layers := range images {
		var layerDescs []desc
		var diffIDs []string
		for _, l := range layers {
			d, n := o.blob(l)
			layerDescs = append(layerDescs, desc{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: d, Size: n})
			diffIDs = append(diffIDs, d)
		}
		cfg, _ := json.Marshal(map[string]any{
			"created": "2026-01-02T03:04:05Z", "architecture": runtime.GOARCH, "os": "linux",
			"config": map[string]any{"Env": []string{"PATH=/bin", "IMAGE=" + name}, "WorkingDir": "/w",
				"Entrypoint": []string{"/entry"}, "Cmd": []string{"run", name}},
			"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
		})
		cd, cn := o.blob(cfg)
		m, _ := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"config": desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cd, Size: cn},
			"layers": layerDescs,
		})
		md, mn := o.blob(m)
		index = append(index, desc{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: md, Size: mn,
			Annotations: map[string]string{"org.opencontainers.image.ref.name": name}})
	}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": index})
	for name, b := range map[string][]byte{"index.json": idx, "oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)} {
		if err := os.WriteFile(filepath.Join(o.dir, name), b, 0o644); err != nil {
			o.t.Fatal(err)
		}
	}
}

// copyIn copies the layout's image name into st as localhost/test/NAME:1
// and returns its id.
func copyIn(t *testing.T, st storage.Store, layoutDir, name string) string {
	ctx := context.Background()
	src, err := layout.NewReference(layoutDir, name)
	if err != nil {
		t.Fatal(err)
	}
	dest, err := istorage.Transport.ParseStoreReference(st, "localhost/test/"+name+":1")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Destroy() }()
	if _, err := copy.Image(ctx, pc, dest, src, &copy.Options{}); err != nil {
		t.Fatalf("copying %s into the store: %v", name, err)
	}
	img, err := istorage.Transport.GetStoreImage(st, dest)
	if err != nil {
		t.Fatal(err)
	}
	return img.ID
}

func storeIDs(t *testing.T, st storage.Store) map[string]bool {
	imgs, err := st.Images()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, i := range imgs {
		ids[i.ID] = true
	}
	return ids
}

// TestStoreCommands runs images, inspect, rmi and gc on a real store. As
// root no user namespace is needed; the vfs driver works on any /tmp.
func TestStoreCommands(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a containers/storage store without a user namespace")
	}
	dir, layoutDir := t.TempDir(), t.TempDir()
	o := ociLayout{dir: layoutDir, t: t}
	base := o.layer(map[string]string{"base.txt": strings.Repeat("b", 40000)})
	o.write(map[string][][]byte{
		"a": {base, o.layer(map[string]string{"a.txt": strings.Repeat("a", 3000)})},
		"b": {base, o.layer(map[string]string{"b.txt": strings.Repeat("x", 5000)})},
		"c": {o.layer(map[string]string{"c.txt": strings.Repeat("c", 7000)})},
	})
	st, err := image.Store{GraphRoot: imagestore.GraphDir(dir), RunRoot: t.TempDir(), Driver: "vfs"}.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = st.Shutdown(true) }()
	a, b, c := copyIn(t, st, layoutDir, "a"), copyIn(t, st, layoutDir, "b"), copyIn(t, st, layoutDir, "c")

	// b runs in job 7 on n1; a ran two days ago; c never ran.
	if err := imagestore.Lease(dir, b, "n1", 7); err != nil {
		t.Fatal(err)
	}
	if err := imagestore.Touch(dir, a); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "carina", "used", a), old, old); err != nil {
		t.Fatal(err)
	}

	rows, err := List(st, dir)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range rows {
		order = append(order, r.ID)
		if r.Size <= 0 || len(r.Names) == 0 {
			t.Errorf("row %+v: no size or names", r)
		}
	}
	if fmt.Sprint(order) != fmt.Sprint([]string{b, a, c}) {
		t.Errorf("images order = %.12s, want b, a, c (most recently used first)", order)
	}
	if !rows[0].InUse || rows[1].InUse || rows[2].LastUsed != nil || rows[1].LastUsed == nil {
		t.Errorf("rows' use = %+v", rows)
	}
	if rows[1].Names[0] != "localhost/test/a:1" || !strings.HasPrefix(rows[1].Names[1], "localhost/test/a@sha256:") {
		t.Errorf("names of a = %v", rows[1].Names)
	}

	out, err := Inspect(context.Background(), st, dir, "test/a:1")
	if err != nil {
		t.Fatal(err)
	}
	if out.ID != a || out.Workdir != "/w" || fmt.Sprint(out.Entrypoint) != "[/entry]" || fmt.Sprint(out.Cmd) != "[run a]" ||
		fmt.Sprint(out.Env) != "[PATH=/bin IMAGE=a]" || len(out.Layers) != 2 || out.Layers[0].Size != int64(len(base)) ||
		!strings.HasPrefix(out.Digest, "sha256:") {
		t.Errorf("inspect = %+v", out)
	}
	if _, err := Inspect(context.Background(), st, dir, a[:6]); err != nil {
		t.Errorf("inspect by id prefix: %v", err)
	}

	// A dry run plans c (never used), then a, never b; a frees only its
	// own layer, since b still uses the base.
	report, err := Collect(st, dir, imagestore.Keep{Bytes: 0, Images: -1}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Removed) != 2 || report.Removed[0].ID != c || report.Removed[1].ID != a ||
		report.Removed[1].Freed >= report.Removed[1].Size || report.ImagesLeft != 1 {
		t.Errorf("dry run = %+v", report)
	}
	if ids := storeIDs(t, st); len(ids) != 3 {
		t.Fatalf("the dry run removed images: %v", ids)
	}

	var stdout, stderr bytes.Buffer
	err = Remove(st, dir, []string{"localhost/test/b:1"}, false, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("rmi of an image in use: %v", err)
	}
	if !storeIDs(t, st)[b] {
		t.Fatal("rmi removed an image in use")
	}

	report, err = Collect(st, dir, imagestore.Keep{Bytes: -1, Images: 2}, false)
	if err != nil || len(report.Removed) != 1 || report.Removed[0].ID != c {
		t.Fatalf("gc --keep 2 = %+v, %v", report, err)
	}
	if ids := storeIDs(t, st); len(ids) != 2 || ids[c] {
		t.Errorf("after gc: %v", ids)
	}
	after, err := readStore(st, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := imagestore.TotalBytes(gcImages(after)); got != report.AfterBytes {
		t.Errorf("store holds %d bytes after gc, the report says %d", got, report.AfterBytes)
	}

	stdout.Reset()
	if err := Remove(st, dir, []string{"test/a:1", a}, false, &stdout, &stderr); err != nil {
		t.Fatalf("rmi a: %v (%s)", err, stderr.String())
	}
	if stdout.String() != a+"\n" {
		t.Errorf("rmi printed %q", stdout.String())
	}
	if last, _ := imagestore.LastUsed(dir, a); !last.IsZero() {
		t.Errorf("rmi left a's bookkeeping")
	}
	if err := Remove(st, dir, []string{b[:12]}, true, &stdout, &stderr); err != nil {
		t.Fatalf("rmi --force b: %v", err)
	}
	if ids := storeIDs(t, st); len(ids) != 0 {
		t.Errorf("images left: %v", ids)
	}
	if in, _ := imagestore.InUse(dir, b); in {
		t.Errorf("rmi --force left b's lease")
	}
	if err := Remove(st, dir, []string{"nope", "gone"}, false, &stdout, &stderr); err == nil ||
		err.Error() != "2 of 2 images not removed" || strings.Count(stderr.String(), "carina: ") != 2 {
		t.Errorf("rmi of two unknown images: %v, stderr %q", err, stderr.String())
	}
}

// TestOwner: root runs a command on a user's store as that user, on its
// own store as it is; anyone else always as they are.
func TestOwner(t *testing.T) {
	dir := t.TempDir()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok, err := Owner(dir, fi); err != nil || ok {
		t.Fatalf("own store: Owner = %+v, %v, %v; want no switch", u, ok, err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a store owned by another user")
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if fi, err = os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	u, ok, err := Owner(dir, fi)
	if err != nil || !ok || u.UID != 65534 || u.Name == "" {
		t.Fatalf("a store of uid 65534: Owner = %+v, %v, %v", u, ok, err)
	}
	t.Setenv(unshare.UsernsEnvName, "1") // already the user, inside their namespace
	if _, ok, _ := Owner(dir, fi); ok {
		t.Fatal("switched again inside the user namespace")
	}
}

// TestCollectSparesContainerImages: in a node-local store podman's
// containers sit beside the images; gc (store_limit's too) never removes
// an image a container of the store is made from, lease or not.
func TestCollectSparesContainerImages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a containers/storage store without a user namespace")
	}
	dir, layoutDir := t.TempDir(), t.TempDir()
	o := ociLayout{dir: layoutDir, t: t}
	o.write(map[string][][]byte{
		"a": {o.layer(map[string]string{"a.txt": strings.Repeat("a", 3000)})},
		"c": {o.layer(map[string]string{"c.txt": strings.Repeat("c", 7000)})},
	})
	st, err := image.Store{GraphRoot: imagestore.GraphDir(dir), RunRoot: t.TempDir(), Driver: "vfs"}.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = st.Shutdown(true) }()
	a, c := copyIn(t, st, layoutDir, "a"), copyIn(t, st, layoutDir, "c")
	if _, err := st.CreateContainer("", []string{"carina-g-n1-dev"}, c, "", "", nil); err != nil {
		t.Fatal(err)
	}
	report, err := Collect(st, dir, imagestore.Keep{Bytes: 0, Images: -1}, false)
	if err != nil || len(report.Removed) != 1 || report.Removed[0].ID != a {
		t.Fatalf("gc = %+v, %v; want a removed, c kept", report, err)
	}
	if ids := storeIDs(t, st); len(ids) != 1 || !ids[c] {
		t.Errorf("after gc: %v", ids)
	}
}
