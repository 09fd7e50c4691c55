#!/bin/bash
# images.sh - build the carina test images without any container daemon and push
# them to the test registry. Called by up.sh; can also be run on its own (as root).
#
#   test/cluster/images.sh            # registry: $CARINA_TEST_REGISTRY or 127.0.0.1:5000
#
# Images (built here from Debian packages only, as hand-made OCI layouts):
#   debian:12   Debian 12 minbase root filesystem (mmdebstrap, from this machine's apt
#               mirror). Env PATH=<standard>, CARINA_IMAGE=debian12; WorkingDir /;
#               Cmd /bin/bash.
#   busybox:1   Debian's static busybox (/bin/sh and a few applets) and nothing else:
#               no glibc, no Slurm. Env PATH=/bin, CARINA_IMAGE=busybox; ENTRYPOINT
#               /entry.sh (prints a line, exports FROM_ENTRYPOINT=yes, execs "$@").
#   mpich:4     Debian 12 minbase with mpich and libmpich-dev (mpicc.mpich), and
#               /usr/local/bin/mpi-allreduce (see MPI_SRC) and host-lib-probe (see
#               PROBE_SRC). Env as debian:12 with
#               CARINA_IMAGE=mpich4.
#   openmpi:4   The same with openmpi-bin, libopenmpi-dev (mpicc.openmpi) and
#               python3-mpi4py, the programs built with mpicc.openmpi.
#               CARINA_IMAGE=openmpi4.
#   (both MPI images also hold /usr/local/bin/mpi-bench, from mpi-bench.c)
#   noshell:1   One static binary /hello and nothing else (no /bin/sh, no libc).
#               Env PATH=/, CARINA_IMAGE=noshell; WorkingDir /; Cmd /hello.
#               /hello prints exactly one line:
#                 hello from the shell-less image: node=<SLURMD_NODENAME> rank=<SLURM_PROCID> uid=<getuid()>
#               (an unset variable prints as "-"), then any extra arguments, one per
#               line as "arg: <ARG>", and exits 0. Extra arguments: "--exit N" exits N.
#
# Built OCI layouts are cached under $CARINA_TEST_CACHE/images (default
# /var/cache/carina-test/images), keyed by a recipe hash, so a second run does not
# rebuild; a tag is not pushed again when the registry already has the same digest.
set -euo pipefail

REGISTRY=${CARINA_TEST_REGISTRY:-127.0.0.1:5000}
CACHE=${CARINA_TEST_CACHE:-/var/cache/carina-test}/images
FILES=${CARINA_TEST_FILES:-/var/lib/carina-test/files}

log() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: ERROR: %s\n' "$*" >&2; exit 1; }

for tool in mmdebstrap skopeo jq gcc sha256sum tar gzip; do
	command -v "$tool" >/dev/null || die "missing tool: $tool (run up.sh, it installs the packages)"
done
[[ $(id -u) -eq 0 ]] || die "must run as root (mmdebstrap root mode)"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# make_layout OUTDIR TAG LAYER_TAR ENV_JSON CMD_JSON
# Writes an OCI image layout with a single gzip layer made from LAYER_TAR (an
# uncompressed tar), an image config with the given Env/Cmd and WorkingDir "/".
make_layout() {
	local out=$1 tag=$2 layer_tar=$3 env_json=$4 cmd_json=$5 entry_json=${6:-null}
	local blobs=$out/blobs/sha256 diff_id layer_digest layer_size cfg cfg_digest cfg_size man man_digest man_size
	mkdir -p "$blobs"
	diff_id=$(sha256_of "$layer_tar")
	gzip -n -6 -c "$layer_tar" >"$out/layer.tmp"
	layer_digest=$(sha256_of "$out/layer.tmp")
	layer_size=$(stat -c %s "$out/layer.tmp")
	mv "$out/layer.tmp" "$blobs/$layer_digest"

	cfg=$out/config.tmp
	jq -n --arg diff "sha256:$diff_id" --argjson env "$env_json" --argjson cmd "$cmd_json" \
		--argjson entry "$entry_json" \
		--arg created "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '{
			created: $created, architecture: "amd64", os: "linux",
			config: ({Env: $env, Cmd: $cmd, WorkingDir: "/"} + (if $entry then {Entrypoint: $entry} else {} end)),
			rootfs: {type: "layers", diff_ids: [$diff]},
			history: [{created: $created, created_by: "carina test/cluster/images.sh"}]
		}' >"$cfg"
	cfg_digest=$(sha256_of "$cfg")
	cfg_size=$(stat -c %s "$cfg")
	mv "$cfg" "$blobs/$cfg_digest"

	man=$out/manifest.tmp
	jq -n --arg cd "sha256:$cfg_digest" --argjson cs "$cfg_size" \
		--arg ld "sha256:$layer_digest" --argjson ls "$layer_size" '{
			schemaVersion: 2,
			mediaType: "application/vnd.oci.image.manifest.v1+json",
			config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
			layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}]
		}' >"$man"
	man_digest=$(sha256_of "$man")
	man_size=$(stat -c %s "$man")
	mv "$man" "$blobs/$man_digest"

	jq -n --arg md "sha256:$man_digest" --argjson ms "$man_size" --arg tag "$tag" '{
		schemaVersion: 2,
		manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
			annotations: {"org.opencontainers.image.ref.name": $tag}}]
	}' >"$out/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}\n' >"$out/oci-layout"
}

# cached NAME KEY: true when $CACHE/NAME holds a complete layout built from KEY.
cached() {
	[[ -f $CACHE/$1/index.json && -f $CACHE/$1/recipe.sha256 && $(cat "$CACHE/$1/recipe.sha256") == "$2" ]]
}

# publish NAME KEY TMPDIR: move a freshly built layout into the cache.
publish() {
	printf '%s\n' "$2" >"$3/layout/recipe.sha256"
	rm -rf "$CACHE/$1.old"
	[[ ! -e $CACHE/$1 ]] || mv "$CACHE/$1" "$CACHE/$1.old"
	mv "$3/layout" "$CACHE/$1"
	rm -rf "$CACHE/$1.old" "$3"
}

# apt sources of this machine that point at Debian (the only reachable mirror).
debian_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] && grep -Eq '^[^#]*(deb\.debian\.org|/debian)' "$f" && printf '%s\n' "$f"
	done
	return 0
}

build_debian() {
	local name=debian12 key tmp srcs=()
	mapfile -t srcs < <(debian_sources)
	((${#srcs[@]})) || die "no Debian apt source found in /etc/apt/sources.list*"
	key=$( { echo "debian12 minbase v1"; cat "${srcs[@]}"; } | sha256sum | cut -d' ' -f1)
	if cached "$name" "$key"; then
		log "debian:12 cached"
		return
	fi
	log "building debian:12 with mmdebstrap (minbase; a few minutes)"
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	# Root mode (we are root); the rootfs is a plain directory that we tar ourselves.
	if ! mmdebstrap --quiet --variant=minbase --mode=root --format=directory \
		bookworm "$tmp/rootfs" "${srcs[@]}" >"$tmp/mmdebstrap.log" 2>&1; then
		tail -n 30 "$tmp/mmdebstrap.log" >&2
		rm -rf "$tmp"
		die "mmdebstrap failed"
	fi
	# No device nodes (a rootless user cannot create them; podman mounts /dev anyway),
	# no host identity files (podman bind-mounts its own).
	rm -rf "${tmp:?}/rootfs/dev/"*
	rm -f "$tmp/rootfs/etc/hostname" "$tmp/rootfs/etc/resolv.conf"
	tar -C "$tmp/rootfs" --sort=name --numeric-owner -cf "$tmp/layer.tar" .
	rm -rf "$tmp/rootfs"
	make_layout "$tmp/layout" 12 "$tmp/layer.tar" \
		'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","CARINA_IMAGE=debian12"]' \
		'["/bin/bash"]'
	publish "$name" "$key" "$tmp"
	log "debian:12 built"
}

# mpi-allreduce, the MPI test program of the MPI images: every rank adds its
# rank with MPI_Allreduce and prints one line
#   rank=<r> size=<n> sum=<0+1+...+n-1> node=<SLURMD_NODENAME>
MPI_SRC='/* mpi-allreduce of the carina MPI test images (see test/cluster/images.sh) */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	int rank = -1, size = -1, sum = -1;
	const char *node = getenv("SLURMD_NODENAME");

	if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
		return 2;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
		return 3;
	printf("rank=%d size=%d sum=%d node=%s\n", rank, size, sum, node ? node : "-");
	fflush(stdout);
	MPI_Finalize();
	return 0;
}
'

# host-lib-probe, in the MPI images too: loads libcarinahost.so by name (the
# dynamic loader searches LD_LIBRARY_PATH) and prints what its
# carina_host_hello() returns, as a program does with a site's injected
# host stack (up.sh builds the library; the site config mounts and names it).
PROBE_SRC='/* host-lib-probe of the carina MPI test images (see test/cluster/images.sh) */
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
	void *h = dlopen("libcarinahost.so", RTLD_NOW);
	const char *(*hello)(void);

	if (h == NULL) {
		printf("no host library: %s\n", dlerror());
		return 1;
	}
	hello = (const char *(*)(void))dlsym(h, "carina_host_hello");
	if (hello == NULL) {
		printf("no carina_host_hello: %s\n", dlerror());
		return 1;
	}
	printf("%s\n", hello());
	return 0;
}
'

# mpi-bench, in the MPI images too (test/bench/mpi.sh compiles the same
# file on the host for the bare figures): ranks 0 and 1 ping-pong 8 B and 4 MiB messages, then
# every rank times an 8-double MPI_Allreduce; rank 0 prints one line
#   latency_us=<8 B one-way> bandwidth_MBps=<4 MiB> allreduce_us=<per call> size=<n>
# (The newline that $(<...) drops is put back: the recipe hash stays.)
BENCH_SRC=$(<"$(dirname "${BASH_SOURCE[0]}")/mpi-bench.c")$'\n'

# build_mpi NAME TAG PACKAGES MPICC: a Debian 12 minbase image with an MPI's
# packages (runtime and development: mpicc is there) and mpi-allreduce,
# compiled here with the same Debian's MPICC (same ABI as in the image).
build_mpi() {
	local name=$1 tag=$2 pkgs=$3 mpicc=$4 key tmp srcs=()
	mapfile -t srcs < <(debian_sources)
	((${#srcs[@]})) || die "no Debian apt source found in /etc/apt/sources.list*"
	key=$( { echo "$name v1 $pkgs"; printf '%s' "$MPI_SRC" "$PROBE_SRC" "$BENCH_SRC"; cat "${srcs[@]}"; } | sha256sum | cut -d' ' -f1)
	if cached "$name" "$key"; then
		log "$tag cached"
		return
	fi
	command -v "$mpicc" >/dev/null || die "missing $mpicc (packages.sh installs it)"
	log "building $tag with mmdebstrap (minbase + $pkgs; a few minutes)"
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	printf '%s' "$MPI_SRC" >"$tmp/allreduce.c"
	"$mpicc" -O2 -o "$tmp/mpi-allreduce" "$tmp/allreduce.c"
	printf '%s' "$BENCH_SRC" >"$tmp/bench.c"
	"$mpicc" -O2 -o "$tmp/mpi-bench" "$tmp/bench.c"
	printf '%s' "$PROBE_SRC" >"$tmp/probe.c"
	gcc -O2 -o "$tmp/host-lib-probe" "$tmp/probe.c" -ldl
	if ! mmdebstrap --quiet --variant=minbase --mode=root --format=directory --include="${pkgs// /,}" \
		--customize-hook="copy-in $tmp/mpi-allreduce $tmp/mpi-bench $tmp/host-lib-probe /usr/local/bin" \
		bookworm "$tmp/rootfs" "${srcs[@]}" >"$tmp/mmdebstrap.log" 2>&1; then
		tail -n 30 "$tmp/mmdebstrap.log" >&2
		rm -rf "$tmp"
		die "mmdebstrap failed for $tag"
	fi
	rm -rf "${tmp:?}/rootfs/dev/"*
	rm -f "$tmp/rootfs/etc/hostname" "$tmp/rootfs/etc/resolv.conf"
	tar -C "$tmp/rootfs" --sort=name --numeric-owner -cf "$tmp/layer.tar" .
	rm -rf "$tmp/rootfs"
	make_layout "$tmp/layout" "${tag##*:}" "$tmp/layer.tar" \
		'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","CARINA_IMAGE='"$name"'"]' \
		'["/bin/bash"]'
	publish "$name" "$key" "$tmp"
	log "$tag built"
}

NOSHELL_SRC='/* /hello of the carina test image noshell:1 (see test/cluster/images.sh) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env(const char *name) {
	const char *v = getenv(name);
	return v && *v ? v : "-";
}

int main(int argc, char **argv) {
	int code = 0;
	printf("hello from the shell-less image: node=%s rank=%s uid=%d\n",
	       env("SLURMD_NODENAME"), env("SLURM_PROCID"), (int)getuid());
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) {
			code = atoi(argv[++i]);
			continue;
		}
		printf("arg: %s\n", argv[i]);
	}
	fflush(stdout);
	return code;
}
'

build_noshell() {
	local name=noshell1 key tmp
	key=$(printf 'noshell v1\n%s' "$NOSHELL_SRC" | sha256sum | cut -d' ' -f1)
	if cached "$name" "$key"; then
		log "noshell:1 cached"
		return
	fi
	log "building noshell:1 (gcc -static)"
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	mkdir "$tmp/rootfs"
	printf '%s' "$NOSHELL_SRC" >"$tmp/hello.c"
	gcc -static -O2 -s -o "$tmp/rootfs/hello" "$tmp/hello.c"
	chmod 0755 "$tmp/rootfs" "$tmp/rootfs/hello"
	tar -C "$tmp/rootfs" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 \
		-cf "$tmp/layer.tar" .
	make_layout "$tmp/layout" 1 "$tmp/layer.tar" '["PATH=/","CARINA_IMAGE=noshell"]' '["/hello"]'
	publish "$name" "$key" "$tmp"
	log "noshell:1 built"
}

# busybox:1: a static busybox and nothing else (no glibc, no Slurm), with
# an ENTRYPOINT that exports a variable and execs its arguments.
# shellcheck disable=SC2016 # the script is written as it is, unexpanded
BUSYBOX_ENTRY='#!/bin/sh
echo "entrypoint ran as uid $(id -u)"
export FROM_ENTRYPOINT=yes
exec "$@"
'

build_busybox() {
	local name=busybox1 key tmp app
	key=$(printf 'busybox v1
%s' "$BUSYBOX_ENTRY" | cat - /bin/busybox | sha256sum | cut -d' ' -f1)
	if cached "$name" "$key"; then
		log "busybox:1 cached"
		return
	fi
	log "building busybox:1 (static busybox)"
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/tmp"
	cp /bin/busybox "$tmp/rootfs/bin/busybox"
	for app in sh ls cat echo id env test sleep grep wc true false hostname pwd kill readlink; do
		ln -s busybox "$tmp/rootfs/bin/$app"
	done
	printf '%s' "$BUSYBOX_ENTRY" >"$tmp/rootfs/entry.sh"
	chmod 0755 "$tmp/rootfs" "$tmp/rootfs/bin" "$tmp/rootfs/bin/busybox" "$tmp/rootfs/entry.sh"
	chmod 1777 "$tmp/rootfs/tmp"
	tar -C "$tmp/rootfs" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$tmp/layer.tar" .
	make_layout "$tmp/layout" 1 "$tmp/layer.tar" '["PATH=/bin","CARINA_IMAGE=busybox"]' '["/bin/sh"]' '["/entry.sh"]'
	publish "$name" "$key" "$tmp"
	log "busybox:1 built"
}

# push CACHENAME REPO:TAG
push() {
	local dir=$CACHE/$1 ref=$REGISTRY/$2 tag=${2##*:} want have
	want=$(jq -r '.manifests[0].digest' "$dir/index.json")
	have=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$ref" 2>/dev/null || true)
	if [[ $have == "$want" ]]; then
		log "$ref already in the registry ($want)"
		return
	fi
	log "pushing $ref"
	skopeo copy --quiet --dest-tls-verify=false "oci:$dir:$tag" "docker://$ref"
	have=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$ref")
	[[ $have == "$want" ]] || die "$ref: registry has digest $have, expected $want"
}

# files: image files every node can read, for --container-image=PATH and
# oci-archive:PATH (rebuilt when the Debian layout changes):
#   debian12.oci.tar  the Debian layout as an OCI archive
#   debian12.sqsh     its root filesystem as a squashfs (enroot style: the
#                     environment in /etc/environment, the workdir in /etc/rc)
build_files() {
	local dir=$FILES key tmp layer
	key=$(cat "$CACHE/debian12/recipe.sha256")
	if [[ -f $dir/key && $(cat "$dir/key") == "$key" && -f $dir/debian12.sqsh && -f $dir/debian12.oci.tar ]]; then
		log "image files cached"
		return
	fi
	log "building image files (OCI archive, squashfs)"
	install -d -m 0755 "$dir"
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	tar -C "$CACHE/debian12" -cf "$tmp/debian12.oci.tar" oci-layout index.json blobs
	layer=$(jq -r '.layers[0].digest' "$CACHE/debian12/blobs/sha256/$(jq -r '.manifests[0].digest' "$CACHE/debian12/index.json" | cut -d: -f2)" | cut -d: -f2)
	mkdir "$tmp/rootfs"
	tar -C "$tmp/rootfs" -xzf "$CACHE/debian12/blobs/sha256/$layer"
	printf 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nCARINA_IMAGE=debian12-squashfs\n' >"$tmp/rootfs/etc/environment"
	printf 'mkdir -p "/srv/work" 2> /dev/null\ncd "/srv/work" && unset OLDPWD || exit 1\nexec "$@"\n' >"$tmp/rootfs/etc/rc"
	mkdir -p "$tmp/rootfs/srv/work"
	mksquashfs "$tmp/rootfs" "$tmp/debian12.sqsh" -noappend -quiet -no-progress >/dev/null
	chmod 0644 "$tmp/debian12.sqsh" "$tmp/debian12.oci.tar"
	mv "$tmp/debian12.sqsh" "$tmp/debian12.oci.tar" "$dir/"
	echo "$key" >"$dir/key"
	rm -rf "$tmp"
	log "image files built in $dir"
}

rm -rf "$CACHE"/build.* 2>/dev/null || true
build_debian
build_noshell
build_busybox
build_mpi mpich4 mpich:4 "mpich libmpich-dev" mpicc.mpich
build_mpi openmpi4 openmpi:4 "openmpi-bin libopenmpi-dev python3-mpi4py" mpicc.openmpi
push debian12 debian:12
push mpich4 mpich:4
push openmpi4 openmpi:4
push noshell1 noshell:1
push busybox1 busybox:1
build_files
