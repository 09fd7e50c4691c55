package option

import (
	"strings"
	"testing"
)

func TestParseImage(t *testing.T) {
	dgst := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		in, want, wantErr string
	}{
		{"debian:12", "debian:12", ""},
		{"debian", "debian:latest", ""},
		{"docker://debian:12", "debian:12", ""},
		{"nvidia/cuda:12.4", "nvidia/cuda:12.4", ""},
		{"docker.io/library/debian:12", "docker.io/library/debian:12", ""},
		{"localhost/app:1", "localhost/app:1", ""},
		{"127.0.0.1:5000/debian:12", "127.0.0.1:5000/debian:12", ""},
		{"nvcr.io#nvidia/pytorch:24.01-py3", "nvcr.io/nvidia/pytorch:24.01-py3", ""},
		{"ubuntu@" + dgst, "ubuntu@" + dgst, ""},
		{"docker.io/ubuntu@" + dgst, "docker.io/library/ubuntu@" + dgst, ""},
		{"", "", "empty value"},
		{"Debian:12", "", "not a valid image reference"},
		{"debian:12 x", "", "white space"},
		{"#debian", "", "REGISTRY#IMAGE"},
		{"a#b#c", "", "REGISTRY#IMAGE"},
		{"./image.sqsh", "file:/home/u/image.sqsh", ""},
		{"../x/image.sqsh", "file:/home/x/image.sqsh", ""},
		{"/srv/image.sqsh", "file:/srv/image.sqsh", ""},
		{"oci-archive:img.tar", "oci-archive:/home/u/img.tar", ""},
		{"docker-archive:/srv/img.tar", "docker-archive:/srv/img.tar", ""},
		{"oci:/srv/layout", "oci:/srv/layout", ""},
		{"oci:/srv/layout:tag", "", "with ':' are not supported"},
		{"containers-storage:localhost/app:1", "containers-storage:localhost/app:1", ""},
		{"containers-storage:", "", "want containers-storage:IMAGE"},
		{"oci-archive:", "", "no path"},
		{"debian:bad:tag", "", "not a valid image reference"},
		{"/srv/a\x00.sqsh", "", "a NUL byte"},
		{"containers-storage:app\x00", "", "a NUL byte"},
	}
	for _, tc := range tests {
		got, err := ParseImage(tc.in, "/home/u")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseImage(%q) err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.Source() != tc.want {
			t.Errorf("ParseImage(%q) = %q, %v; want %q", tc.in, got.Source(), err, tc.want)
		}
	}
}

func TestPinned(t *testing.T) {
	dgst := "sha256:" + strings.Repeat("b", 64)
	img := Image{Transport: Registry, Ref: "127.0.0.1:5000/debian:12"}
	tests := []struct {
		pin, want, wantErr string
	}{
		{"127.0.0.1:5000/debian@" + dgst, "127.0.0.1:5000/debian@" + dgst, ""},
		{"127.0.0.1:5000/debian:12@" + dgst, "127.0.0.1:5000/debian:12@" + dgst, ""},
		{"127.0.0.1:5000/other@" + dgst, "", "is not 127.0.0.1:5000/debian at a digest"},
		{"127.0.0.1:5000/debian:13", "", "at a digest"},
		{"127.0.0.1:5000/debian@sha256:abc", "", "pinned image"},
		{"", "", "pinned image"},
	}
	for _, tc := range tests {
		got, err := Pinned(tc.pin, img)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Pinned(%q) err = %v, want %q", tc.pin, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Pinned(%q) = %q, %v; want %q", tc.pin, got, err, tc.want)
		}
	}
}

func TestRelativePathNeedsCwd(t *testing.T) {
	if _, err := ParseImage("./x.sqsh", ""); err == nil || !strings.Contains(err.Error(), "submit directory") {
		t.Fatalf("err = %v", err)
	}
}

func TestPinnedFile(t *testing.T) {
	img := Image{Transport: OCIArchive, Ref: "/srv/x.tar"}
	if got, err := Pinned("oci-archive:/srv/x.tar", img); err != nil || got != "oci-archive:/srv/x.tar" {
		t.Fatalf("Pinned = %q, %v", got, err)
	}
	if _, err := Pinned("oci-archive:/srv/y.tar", img); err == nil {
		t.Fatal("accepted another file's pin")
	}
}

func TestPinnedShortName(t *testing.T) {
	img, err := ParseImage("carina/debian:12", "/")
	if err != nil || !img.Short {
		t.Fatalf("ParseImage = %+v, %v", img, err)
	}
	pin := "127.0.0.1:5000/debian@sha256:" + strings.Repeat("c", 64)
	if got, err := Pinned(pin, img); err != nil || got != pin {
		t.Fatalf("a short name may resolve to any repository: %q, %v", got, err)
	}
	if _, err := Pinned("127.0.0.1:5000/debian:12", img); err == nil {
		t.Fatal("a pin must carry a digest")
	}
}

func TestPinnedLocalStore(t *testing.T) {
	img := Image{Transport: LocalStore, Ref: "localhost/app:1"}
	id := strings.Repeat("d", 64)
	if got, err := Pinned("containers-storage:localhost/app:1@"+id, img); err != nil || got != "containers-storage:localhost/app:1@"+id {
		t.Fatalf("Pinned = %q, %v", got, err)
	}
	for _, bad := range []string{"containers-storage:localhost/app:1", "containers-storage:localhost/other:1@" + id,
		"containers-storage:localhost/app:1@xyz"} {
		if _, err := Pinned(bad, img); err == nil {
			t.Errorf("Pinned(%q) accepted", bad)
		}
	}
}
