package option

// Fuzz targets: `go test -run '^$' -fuzz '^FuzzParseMounts$' ./pkg/option`
// (make fuzz runs each briefly). Each checks what the parser promises
// about what it accepts, not only that it does not panic. The inputs that
// once failed are among the seeds, which plain `go test` runs.

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParseMounts: every mount ParseMounts accepts passes Mount.Validate
// and a Spec's Validate, turns into a podman --volume or --tmpfs argument
// that splits back into the same parts, and is written back in pyxis
// syntax to a value that parses to the same mounts.
func FuzzParseMounts(f *testing.F) {
	for _, s := range []string{
		"/a", "/a:/b:ro+rprivate", "./d:/x", "./d", "/a b:/c d", "/a:./rel", "tmpfs:/t:size=1m",
		"tmpfs", "/a:/b:ro+bad", "host:/b", "/a:b", "/a:", "/a:/", "/x:/m,/y:/m:ro,/z",
		"/scratch:/scratch", "/data:/data:ro", "tmpfs:/t:size=1m+mode=1777", "../up:/up:rw+nosuid",
		".:/here", "/a:/b:", "/a:/b:ro++rw", "tmpfs:/t:", "/a:/b:ro:x", ".0\x000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ms, err := ParseMounts(v, "/submit")
		if err != nil {
			if ms != nil {
				t.Fatalf("ParseMounts(%q) returned mounts with error %v", v, err)
			}
			return
		}
		if len(ms) == 0 {
			t.Fatalf("ParseMounts(%q) accepted no mount", v)
		}
		targets := map[string]bool{}
		for _, m := range ms {
			if targets[m.Target] {
				t.Fatalf("ParseMounts(%q): two mounts on %s: %+v", v, m.Target, ms)
			}
			targets[m.Target] = true
			checkMount(t, m)
		}
		if err := (Spec{Cwd: "/submit", Mounts: ms}).Validate(); err != nil {
			t.Fatalf("ParseMounts(%q) = %+v, which a Spec refuses: %v", v, ms, err)
		}
		again, err := ParseMounts(pyxisMounts(ms), "/")
		if err != nil || !reflect.DeepEqual(again, ms) {
			t.Fatalf("ParseMounts(%q) = %+v, written back as %q parses to %+v, %v", v, ms, pyxisMounts(ms), again, err)
		}
	})
}

// checkMount checks that m is valid and that its podman argument splits
// back into its source, target and flags: nothing in a field leaks into
// the next.
func checkMount(t *testing.T, m Mount) {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Fatalf("mount %+v: %v", m, err)
	}
	var dst, opts string
	if m.Tmpfs {
		dst, opts, _ = strings.Cut(m.TmpfsArg(), ":")
	} else {
		src, rest, ok := strings.Cut(m.VolumeArg(), ":")
		if !ok || src != m.Source {
			t.Fatalf("mount %+v: --volume %q does not start with its source", m, m.VolumeArg())
		}
		dst, opts, _ = strings.Cut(rest, ":")
	}
	var flags []string
	if opts != "" {
		flags = strings.Split(opts, ",")
	}
	if dst != m.Target || len(flags)+len(m.Flags) > 0 && !reflect.DeepEqual(flags, m.Flags) {
		t.Fatalf("mount %+v: podman argument splits into target %q, flags %q", m, dst, flags)
	}
}

// pyxisMounts writes mounts back as a --container-mounts value.
func pyxisMounts(ms []Mount) string {
	var entries []string
	for _, m := range ms {
		src := m.Source
		if m.Tmpfs {
			src = "tmpfs"
		}
		e := src + ":" + m.Target
		if len(m.Flags) > 0 {
			e += ":" + strings.Join(m.Flags, "+")
		}
		entries = append(entries, e)
	}
	return strings.Join(entries, ",")
}

// FuzzParseImage: an accepted image is one a Spec takes, and it is
// normalised: the form a user writes for it parses to the same Image
// again. That form is Source() for the transports (oci-archive:PATH,
// ...), the path for a plain file (its Source() is the helper's
// file:PATH, and file:TAG is a registry image called file) and
// docker://REF for a registry reference (a short name such as oci:latest
// would otherwise read as the oci: transport).
func FuzzParseImage(f *testing.F) {
	dgst := "sha256:" + strings.Repeat("a", 64)
	for _, s := range []string{
		"debian:12", "debian", "docker://debian:12", "nvidia/cuda:12.4", "docker.io/library/debian:12",
		"localhost/app:1", "127.0.0.1:5000/debian:12", "nvcr.io#nvidia/pytorch:24.01-py3", "ubuntu@" + dgst,
		"docker.io/ubuntu@" + dgst, "Debian:12", "#debian", "a#b#c", "./image.sqsh", "../x/image.sqsh",
		"/srv/image.sqsh", "oci-archive:img.tar", "docker-archive:/srv/img.tar", "oci:/srv/layout",
		"oci:/srv/layout:tag", "containers-storage:localhost/app:1", "containers-storage:", "debian:bad:tag",
		"file:latest", "carina/debian:12", "oci", "/a\x00b", "localhost:5000/x:1@" + dgst,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		img, err := ParseImage(v, "/cwd")
		if err != nil {
			return
		}
		if err := (Spec{Image: v, Cwd: "/cwd"}).Validate(); err != nil {
			t.Fatalf("ParseImage(%q) = %+v, which a Spec refuses: %v", v, img, err)
		}
		if strings.ContainsAny(img.Source(), " \t\r\n\x00") {
			t.Fatalf("ParseImage(%q) = %+v: white space in %q", v, img, img.Source())
		}
		form := img.Source()
		switch img.Transport {
		case Registry, LocalStore:
			if img.Ref == "" {
				t.Fatalf("ParseImage(%q) = %+v: no reference", v, img)
			}
			if img.Transport == Registry {
				form = "docker://" + img.Ref
			}
		case File, OCIArchive, DockerArchive, OCILayout:
			if !cleanAbs(img.Ref) {
				t.Fatalf("ParseImage(%q) = %+v: not a clean absolute path", v, img)
			}
			if img.Transport == File {
				form = img.Ref
			}
		default:
			t.Fatalf("ParseImage(%q) = %+v: unknown transport", v, img)
		}
		again, err := ParseImage(form, "/elsewhere")
		if err != nil || again != img {
			t.Fatalf("ParseImage(%q) = %+v, but its form %q parses to %+v, %v", v, img, form, again, err)
		}
	})
}

// FuzzDecodeSpec: whatever DecodeSpec accepts is valid, encodes again and
// decodes to an equal Spec; every mount in it gives podman arguments that
// split back into their parts.
func FuzzDecodeSpec(f *testing.F) {
	for _, s := range []string{
		`{"image":"debian:12","cwd":"/"}`,
		`{"image":"debian:12","cwd":"/","privileged":true}`,
		`{"cwd":"/"}{"cwd":"/"}`,
		`image=debian`,
		`{"image":"bad image","cwd":"/"}`,
		`{"image":"./x.sqsh","cwd":"/home/u","mounts":[{"source":"/a","target":"/b","flags":["ro"]},` +
			`{"source":"","target":"/t","flags":["size=1m"],"tmpfs":true}],"workdir":"/w","name":"n",` +
			`"name_mode":"auto","save":"/home/u/out.sqsh","mount_home":true,"remap_root":false,"writable":true,` +
			`"entrypoint":false,"entrypoint_log":true,"container_env":["A","B"],"unshare":["net","uts"],` +
			`"env":{"X":"1"},"annotations":{"com.example.hook":"on"},"environment":"/etc/carina/environments/e.toml"}`,
		`{"cwd":"/","env":{}}`,
		`{"cwd":"/","mounts":[]}`,
		`{"cwd":"/","env":{"A":"x\u0000y"}}`,
		`{"cwd":"/","mounts":[{"source":"/a:/etc","target":"/x"}]}`,
		`{"CWD":"/","Image":"debian"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		s, err := DecodeSpec(js)
		if err != nil {
			if !reflect.DeepEqual(s, Spec{}) {
				t.Fatalf("DecodeSpec(%q) returned %+v with error %v", js, s, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("DecodeSpec(%q) = %+v, which does not validate: %v", js, s, err)
		}
		for _, m := range s.Mounts {
			checkMount(t, m)
		}
		enc, err := EncodeSpec(s)
		if err != nil {
			t.Fatalf("DecodeSpec(%q) = %+v, which does not encode: %v", js, s, err)
		}
		again, err := DecodeSpec(enc)
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("DecodeSpec(%q) = %+v, encoded as %s decodes to %+v, %v", js, s, enc, again, err)
		}
	})
}
