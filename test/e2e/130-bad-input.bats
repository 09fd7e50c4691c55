#!/usr/bin/env bats
# Bad input: each case gives one carina: line naming what and where, a
# non-zero exit within a bounded time, no job left running, no drained
# node and nothing left on the nodes (assert_clean). Cases found at submit
# also create no job. docs/TROUBLESHOOTING.md lists every case with its
# fix; the cases other files test are named there too.

# shellcheck disable=SC2030,SC2031 # bats runs each test in a subshell of its own
load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN
BAD=/tmp/carina-e2e-bad

setup_file() {
	rm -rf "$BAD"
	install -d -m 0755 "$BAD"
	head -c 65536 /dev/urandom >"$BAD/garbage.sqsh"
	head -c 65536 /dev/urandom >"$BAD/garbage.tar"
	install -m 0600 "$BAD/garbage.sqsh" "$BAD/secret.sqsh" # root's, unreadable by the user
	printf 'image = "%s"\nmounts = [\n' "$IMG" >"$BAD/unclosed.toml"
	printf 'image = "%s"\nenv = "not a table"\n' "$IMG" >"$BAD/wrongtype.toml"
	chmod 0644 "$BAD"/garbage.* "$BAD"/*.toml
	foreign_images
}

# foreign_images: the shell-less test image relabelled for linux/arm64,
# pushed as foreign-arm64:1, and a manifest list holding only that entry,
# foreign-list:1 (test data made from the cluster's image, as root).
foreign_images() {
	local dir=$BAD/oci man cfg ncfg nman list
	blob() { printf '%s/blobs/sha256/%s' "$dir" "${1#sha256:}"; }
	# put FILE: store FILE as a blob; print "DIGEST SIZE".
	put() {
		local d
		d=$(sha256sum "$1" | cut -d' ' -f1)
		echo "sha256:$d $(stat -c %s "$1")"
		mv "$1" "$dir/blobs/sha256/$d"
	}
	skopeo copy -q --src-tls-verify=false "docker://$CARINA_TEST_IMAGE_NOSHELL" "oci:$dir:x"
	man=$(jq -r '.manifests[0].digest' "$dir/index.json")
	cfg=$(jq -r '.config.digest' "$(blob "$man")")
	jq -c '.architecture = "arm64"' "$(blob "$cfg")" >"$BAD/cfg.json"
	read -r ncfg ncfgsize < <(put "$BAD/cfg.json")
	jq -c --arg d "$ncfg" --argjson s "$ncfgsize" '.config.digest = $d | .config.size = $s' "$(blob "$man")" >"$BAD/man.json"
	read -r nman nmansize < <(put "$BAD/man.json")
	jq -nc --arg d "$nman" --argjson s "$nmansize" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
			platform: {architecture: "arm64", os: "linux"}}]}' >"$BAD/list.json"
	read -r list listsize < <(put "$BAD/list.json")
	jq -nc --arg m "$nman" --argjson ms "$nmansize" --arg l "$list" --argjson ls "$listsize" '{schemaVersion: 2, manifests: [
		{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms, annotations: {"org.opencontainers.image.ref.name": "arm"}},
		{mediaType: "application/vnd.oci.image.index.v1+json", digest: $l, size: $ls, annotations: {"org.opencontainers.image.ref.name": "list"}}]}' \
		>"$dir/index.json"
	skopeo copy -q --dest-tls-verify=false "oci:$dir:arm" "docker://$CARINA_TEST_REGISTRY/foreign-arm64:1"
	skopeo copy -q --all --dest-tls-verify=false "oci:$dir:list" "docker://$CARINA_TEST_REGISTRY/foreign-list:1"
}

teardown_file() {
	rm -rf "$BAD"
}

# refused REGEX CMD...: CMD fails at submit (no job) with exactly one
# carina: line, which matches REGEX.
refused() {
	local want=$1
	shift
	SECONDS=0
	rejected_at_submit "$@"
	[ "$SECONDS" -lt 30 ]
	[ "$(grep -c 'carina: ' <<<"$output")" -eq 1 ] || { echo "want one carina: line" >&2; return 1; }
	grep -q "$want" <<<"$output" || { echo "no line matching: $want" >&2; return 1; }
	assert_clean
}

# fails REGEX CMD...: CMD (a job) fails on the nodes with carina: lines
# matching REGEX (one per node at most), within a bounded time.
fails() {
	local want=$1
	shift
	SECONDS=0
	run timeout 120 runuser -u "$CARINA_TEST_USER" -- "$@"
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$SECONDS" -lt 120 ]
	grep -q "$want" <<<"$output" || { echo "no line matching: $want" >&2; return 1; }
	assert_clean
}

@test "bad input: an empty image" {
	refused 'carina: --container-image: argument required' srun -N1 --container-image= true
}

@test "bad input: a malformed reference" {
	refused 'carina: --container-image="debian:12:x": not a valid image reference' srun -N1 --container-image=debian:12:x true
}

@test "bad input: a reference with white space" {
	refused 'carina: --container-image="debian 12": image references contain no white space' srun -N1 "--container-image=debian 12" true
}

@test "bad input: a malformed digest" {
	refused 'carina: --container-image="debian@sha256:abc": not a valid image reference' srun -N1 --container-image=debian@sha256:abc true
}

@test "bad input: an unknown transport" {
	refused 'carina: --container-image="ftp://host/image": ' srun -N1 --container-image=ftp://host/image true
}

@test "bad input: an image file the user cannot read" {
	refused "carina: image $BAD/secret.sqsh: permission denied" srun -N1 --container-image="$BAD/secret.sqsh" true
}

@test "bad input: a file that is no squashfs image" {
	fails "carina: .*$BAD/garbage.sqsh" srun -N1 --container-image="$BAD/garbage.sqsh" true
}

@test "bad input: an oci-archive that is no archive" {
	fails "carina: .*$BAD/garbage.tar" srun -N1 --container-image="oci-archive:$BAD/garbage.tar" true
}

@test "bad input: an image for another architecture" {
	fails "carina: image $CARINA_TEST_REGISTRY/foreign-arm64@sha256:[0-9a-f]* is built for linux/arm64, and this node runs linux/amd64" \
		srun -N2 --container-image="$CARINA_TEST_REGISTRY/foreign-arm64:1" /hello
}

@test "bad input: a manifest list without this node's platform" {
	fails "carina: image $CARINA_TEST_REGISTRY/foreign-list@sha256:[0-9a-f]* has no entry for linux/amd64 in its manifest list" \
		srun -N2 --container-image="$CARINA_TEST_REGISTRY/foreign-list:1" /hello
}

@test "bad input: a mount target that climbs with .." {
	refused "carina: --container-mounts: target \"/x/../etc\" holds '..'" srun -N1 --container-image="$IMG" --container-mounts=/tmp:/x/../etc true
}

@test "bad input: a tmpfs option with a blank" {
	refused 'carina: --container-mounts: invalid tmpfs option "size=1m mode=1777"' srun -N1 --container-image="$IMG" "--container-mounts=tmpfs:/t:size=1m mode=1777" true
}

@test "bad input: --container-writable with --container-readonly" {
	refused 'carina: --container-writable and --container-readonly contradict each other' srun -N1 --container-image="$IMG" --container-writable --container-readonly true
}

@test "bad input: a container name with a blank" {
	refused 'carina: .*a name is 1 to 64 letters, digits' srun -N1 --container-image="$IMG" "--container-name=my box" true
}

@test "bad input: an unknown namespace to unshare" {
	refused 'carina: .*"pid" is not one of net, ipc, uts' srun -N1 --container-image="$IMG" --container-unshare=pid true
}

@test "bad input: --container-env with no variable name" {
	refused 'carina: .*"1X" is not a variable name' srun -N1 --container-image="$IMG" --container-env=1X true
}

@test "bad input: an environment file that is no TOML" {
	refused "carina: .*$BAD/unclosed.toml" srun -N1 --environment="$BAD/unclosed.toml" true
}

@test "bad input: an environment file with a value of the wrong type" {
	refused "carina: .*$BAD/wrongtype.toml:2" srun -N1 --environment="$BAD/wrongtype.toml" true
}

@test "bad input: --container-save to a directory" {
	refused 'carina: --container-save=/tmp: the target is a directory; name a file' srun -N1 --container-image="$IMG" --container-save=/tmp true
}

@test "bad input: a --container-workdir the image lacks (a relative one is taken against its root, as in pyxis)" {
	fails 'carina: join: chdir(/nonexistent/dir): No such file or directory' srun -N2 --container-image="$IMG" --container-workdir=/nonexistent/dir true
	fails 'carina: join: chdir(/rel): No such file or directory' srun -N1 --container-image="$IMG" --container-workdir=rel true
}

# site_config_as CHANGE: runs srun with the installed site configuration
# changed by CHANGE (a command run on a copy), then puts it back.
site_config_as() {
	cp -p /etc/carina/carina.toml "$BAD/carina.toml.orig"
	"$@"
	run timeout 30 runuser -u "$CARINA_TEST_USER" -- srun -N1 --container-image="$IMG" true
	cp -p "$BAD/carina.toml.orig" /etc/carina/carina.toml
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$(grep -c 'carina: ' <<<"$output")" -eq 1 ]
}

@test "bad input: an unknown key in the site configuration" {
	site_config_as sed -i '1i bogus = 1' /etc/carina/carina.toml
	grep -q 'carina: the site configuration is invalid, so carina cannot run: /etc/carina/carina.toml:[0-9]*: unknown key "bogus"' <<<"$output"
	assert_clean
}

@test "bad input: a site configuration that is no TOML" {
	site_config_as sh -c 'echo "[unclosed" >>/etc/carina/carina.toml'
	grep -q 'carina: the site configuration is invalid, so carina cannot run: .*/etc/carina/carina.toml' <<<"$output"
	assert_clean
}

@test "bad input: a site configuration a user owns" {
	site_config_as chown "$CARINA_TEST_USER" /etc/carina/carina.toml
	grep -q 'carina: the site configuration is invalid, so carina cannot run: .*must be owned by root' <<<"$output"
	[ "$(stat -c %U /etc/carina/carina.toml)" = root ]
	assert_clean
}
