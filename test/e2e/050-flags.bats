#!/usr/bin/env bats
# pyxis's flags, one test (or more) per flag and syntax variant, on the
# real cluster. Every rejected combination must fail at submit time, with a
# carina: line and no job.

load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN

setup_file() {
	# Warm the user's store once so that each test measures only itself.
	as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	D=/tmp/carina-e2e-flags
	rm -rf "$D"
	install -d -o "$CARINA_TEST_USER" "$D" "$D/data" "$D/dir with space" "$D/dir with space/sub"
	echo data-file >"$D/data/f"
	echo spaced-file >"$D/dir with space/sub/g"
	chown -R "$CARINA_TEST_USER" "$D"
}

teardown_file() {
	rm -rf /tmp/carina-e2e-flags
}

D=/tmp/carina-e2e-flags

@test "--container-mounts SRC:DST:ro mounts read-only" {
	run as_user srun -N2 -n2 --container-image="$IMG" --container-mounts="$D/data:/data:ro" \
		bash -c 'cat /data/f; touch /data/new 2>&1 || echo write-refused'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^data-file$' <<<"$output")" -eq 2 ]
	[ "$(grep -c 'Read-only file system' <<<"$output")" -eq 2 ]
	[ ! -e "$D/data/new" ]
}

@test "--container-mounts: short form, relative source, a path with spaces, several entries, flags with +" {
	cat >"$D/inside.sh" <<-'SH'
		cat /data/f
		cat "/in side/g"
		touch "/in side/new" 2>&1 || true
	SH
	chown "$CARINA_TEST_USER" "$D/inside.sh"
	run as_user bash -c "cd '$D' && srun -N1 --container-image='$IMG' \
		--container-mounts='./data,./inside.sh:/inside.sh,$D/dir with space/sub:/in side:ro+rprivate' bash /inside.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'data-file' <<<"$output"
	grep -qx 'spaced-file' <<<"$output"
	grep -q 'Read-only file system' <<<"$output"
}

@test "--container-mounts=tmpfs:DST gives a private tmpfs" {
	run as_user srun -N1 --container-image="$IMG" --container-mounts=tmpfs:/scratch stat -f -c %T /scratch
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = tmpfs ]
}

@test "--container-mounts: podman's own options pass (unbindable, rbind, tmpfs size= and mode=), contradictions, foreign ids and '..' are refused" {
	# What a user checks: the option reaches the mount the task sees.
	run as_user srun -N1 --container-image="$IMG" \
		--container-mounts="$D/data:/u:unbindable+rbind+ro,tmpfs:/t:size=8m+mode=1770+noexec" \
		bash -c 'findmnt -n -o PROPAGATION,OPTIONS /u; findmnt -n -o OPTIONS /t; stat -c %a /t'
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'unbindable  *ro,' <<<"$output"
	grep -q 'size=8192k' <<<"$output"
	grep -q 'noexec' <<<"$output"
	[ "$(tail -1 <<<"$output")" = 1770 ]
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts="$D/data:/u:ro+rw" true
	grep -q 'give one ro/rw option' <<<"$output"
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts="tmpfs:/t:uid=0" true
	grep -q 'cannot be given' <<<"$output"
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts="tmpfs:/t:huge=always+tmpcopyup" true
	grep -q 'is mounted by carina, not by podman' <<<"$output"
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts="$D/data:/x/../etc" true
	grep -q "holds '..'" <<<"$output"
}

@test "--container-mounts: tmpfs options only the kernel takes (huge=, nr_inodes=, noatime) reach the tmpfs, which goes with the job" {
	run as_user srun -N2 -w n1,n2 --container-image="$IMG" \
		--container-mounts="tmpfs:/huge:huge=within_size+size=8m+nr_inodes=1k+noatime+mode=1700" \
		bash -c 'findmnt -n -o FSTYPE,OPTIONS /huge; stat -c "%a %u" /huge; df --output=itotal /huge | tail -1; echo x >/huge/f && cat /huge/f'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^tmpfs .*noatime.*size=8192k.*huge=within_size' <<<"$output")" -eq 2 ]
	[ "$(grep -c "^1700 $CARINA_TEST_UID\$" <<<"$output")" -eq 2 ]
	[ "$(grep -cx ' *1024' <<<"$output")" -eq 2 ]
	[ "$(grep -cx x <<<"$output")" -eq 2 ]
	assert_clean
	# Its mount points went with the containers.
	for n in n1 n2; do
		[ -z "$(ls -A "/run/carina/$n/$CARINA_TEST_UID/tmpfs" 2>/dev/null)" ]
	done
}

@test "--container-mounts: a missing source, an unknown flag, a bad target are rejected at submit" {
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts=/does/not/exist:/x true
	grep -q 'source /does/not/exist does not exist' <<<"$output"
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts="$D/data:/x:bogus" true
	grep -q 'unknown flag "bogus"' <<<"$output"
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts="$D/data:x" true
	grep -q 'target "x"' <<<"$output"
}

@test "--container-workdir: absolute, and relative to the container's root" {
	run as_user srun -N1 --container-image="$IMG" --container-workdir=/usr/share pwd
	[ "$status" -eq 0 ]
	[ "$output" = /usr/share ]
	run as_user srun -N1 --container-image="$IMG" --container-workdir=../etc pwd
	[ "$status" -eq 0 ]
	[ "$output" = /etc ]
}

@test "--container-mount-home and --no-container-mount-home" {
	home=/home/$CARINA_TEST_USER
	as_user touch "$home/.carina-e2e-home"
	run as_user srun -N1 --container-image="$IMG" --container-mount-home test -e "$home/.carina-e2e-home"
	[ "$status" -eq 0 ]
	run as_user srun -N1 --container-image="$IMG" --no-container-mount-home bash -c "test -e $home/.carina-e2e-home && echo seen || echo absent"
	echo "$output"
	[ "$output" = absent ]
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mount-home --no-container-mount-home true
	grep -q 'contradict' <<<"$output"
}

@test "--container-remap-root makes the user uid 0 inside; --no-container-remap-root keeps the uid" {
	run as_user srun -N1 --container-image="$IMG" --container-remap-root id -u
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
	run as_user srun -N1 --container-image="$IMG" --no-container-remap-root id -u
	[ "$status" -eq 0 ]
	[ "$output" = "$CARINA_TEST_UID" ]
}

@test "--container-writable and --container-readonly; both together are rejected" {
	run as_user srun -N1 --container-image="$IMG" --container-remap-root --container-writable \
		bash -c 'touch /carina-written && echo wrote'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = wrote ]
	run as_user srun -N1 --container-image="$IMG" --container-remap-root --container-readonly \
		bash -c 'touch /carina-written 2>&1; touch /tmp/ok && echo tmp-writable'
	echo "$output"
	grep -q 'Read-only file system' <<<"$output"
	grep -q 'tmp-writable' <<<"$output"
	rejected_at_submit srun -N1 --container-image="$IMG" --container-writable --container-readonly true
	grep -q 'contradict' <<<"$output"
}

@test "--container-writable as the user: the image's files are the user's, writable anywhere, gone at job end; root's under remap-root" {
	# shellcheck disable=SC2016 # expanded in the container
	show='echo "owners=$(stat -c %u / /usr /root /etc/shadow | sort -u | tr "\n" " ")"; touch /x /usr/y /root/z && echo wrote; ls /root >/dev/null && echo read-root'
	run as_user timeout 120 srun -N2 --container-image="$IMG" --container-writable bash -c "$show"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c "^owners=$CARINA_TEST_UID \$" <<<"$output")" -eq 2 ]
	[ "$(grep -c '^wrote$' <<<"$output")" -eq 2 ]
	[ "$(grep -c '^read-root$' <<<"$output")" -eq 2 ]
	# A new job starts from the image again.
	run as_user timeout 120 srun -N2 --container-image="$IMG" bash -c 'test ! -e /x && test ! -e /usr/y && echo gone'
	[ "$(grep -c '^gone$' <<<"$output")" -eq 2 ]
	run as_user timeout 120 srun -N1 --container-image="$IMG" --container-readonly bash -c 'touch /usr/y 2>&1; true'
	grep -q 'Read-only file system' <<<"$output"
	run as_user timeout 120 srun -N1 --container-image="$IMG" --container-remap-root bash -c 'stat -c %u / /usr /root | sort -u'
	[ "$output" = 0 ]
	assert_clean
}

@test "--container-env: the image's value wins unless the variable is named" {
	# The test image sets CARINA_IMAGE=debian12.
	run as_user env CARINA_IMAGE=from-host srun -N1 --container-image="$IMG" printenv CARINA_IMAGE
	[ "$status" -eq 0 ]
	[ "$output" = debian12 ]
	run as_user env CARINA_IMAGE=from-host srun -N1 --container-image="$IMG" --container-env=CARINA_IMAGE,OTHER printenv CARINA_IMAGE
	[ "$status" -eq 0 ]
	[ "$output" = from-host ]
	rejected_at_submit srun -N1 --container-image="$IMG" --container-env='BAD-NAME' true
}

@test "--container-unshare=net,uts,ipc gives the container its own namespaces" {
	host_net=$(readlink /proc/self/ns/net)
	run as_user srun -N1 --container-image="$IMG" --container-unshare=net,uts,ipc \
		bash -c 'grep -c ":" /proc/net/dev; readlink /proc/self/ns/net /proc/self/ns/uts /proc/self/ns/ipc; hostname'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p <<<"$output")" = 1 ] # loopback only
	[ "$(sed -n 2p <<<"$output")" != "$host_net" ]
	[ "$(sed -n 3p <<<"$output")" != "$(readlink /proc/self/ns/uts)" ]
	[ "$(sed -n 4p <<<"$output")" != "$(readlink /proc/self/ns/ipc)" ]
	rejected_at_submit srun -N1 --container-image="$IMG" --container-unshare=pid true
	grep -q 'not one of net, ipc, uts' <<<"$output"
}

@test "CARINA_CONTAINER_* and PYXIS_CONTAINER_* are defaults; the command line wins" {
	run as_user env CARINA_CONTAINER_IMAGE="$IMG" srun -N1 cat /etc/debian_version
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == 12.* ]]
	run as_user env PYXIS_CONTAINER_IMAGE="$IMG" PYXIS_CONTAINER_WORKDIR=/etc srun -N1 pwd
	[ "$status" -eq 0 ]
	[ "$output" = /etc ]
	run as_user env CARINA_CONTAINER_IMAGE="$IMG" CARINA_CONTAINER_WORKDIR=/etc PYXIS_CONTAINER_WORKDIR=/var \
		srun -N1 --container-workdir=/usr pwd
	[ "$status" -eq 0 ]
	[ "$output" = /usr ]
	run as_user env CARINA_CONTAINER_IMAGE="$IMG" CARINA_CONTAINER_WORKDIR=/etc PYXIS_CONTAINER_WORKDIR=/var srun -N1 pwd
	[ "$output" = /etc ]
	run as_user env PYXIS_CONTAINER_IMAGE="$IMG" PYXIS_CONTAINER_REMAP_ROOT=yes PYXIS_CONTAINER_READONLY=1 \
		srun -N1 bash -c 'id -u; touch /x 2>&1'
	echo "$output"
	[ "$(head -n1 <<<"$output")" = 0 ]
	grep -q 'Read-only file system' <<<"$output"
	rejected_at_submit env CARINA_CONTAINER_IMAGE="$IMG" CARINA_CONTAINER_WRITABLE=maybe srun -N1 true
	grep -q 'CARINA_CONTAINER_WRITABLE' <<<"$output"
}

@test "two different images, or a name with a bad mode, are rejected at submit" {
	rejected_at_submit srun -N1 --container-image="$IMG" --container-image="$CARINA_TEST_IMAGE_NOSHELL" true
	grep -q 'given twice with different values' <<<"$output"
	rejected_at_submit srun -N1 --container-image="$IMG" --container-name=x:sometimes true
	grep -q 'auto, create, exec or no_exec' <<<"$output"
	rejected_at_submit srun -N1 --container-image="$IMG" --container-save="$D/" true
	grep -q 'directory' <<<"$output"
	# Slurm calling a callback twice with one value is not a contradiction.
	run as_user srun -N1 --container-image="$IMG" --container-image="$IMG" true
	[ "$status" -eq 0 ]
}

@test "options without an image or a name are ignored, as pyxis does" {
	run as_user srun -N1 --container-mounts="$D/data:/data" bash -c 'test -e /data/f && echo inside || echo outside'
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q outside <<<"$output"
}
