#!/usr/bin/env bats
# Images: pinned to a digest once per job on the submit side, pulled once
# per cluster into the user's shared image store.

load helpers

# blob_gets IMAGE: number of blob downloads of IMAGE in the registry log.
blob_gets() {
	grep -c "\"GET /v2/$1/blobs/sha256:" "$CARINA_TEST_REGISTRY_LOG" || true
}

# fetch_counts_since LINES IMAGE: the distinct per-blob download counts of
# IMAGE in the log lines after LINES ("1" when every blob came once).
fetch_counts_since() {
	tail -n +"$(($1 + 1))" "$CARINA_TEST_REGISTRY_LOG" |
		grep -o "\"GET /v2/$2/blobs/sha256:[0-9a-f]*" | sort | uniq -c | awk '{print $1}' | sort -u | tr '\n' ' '
}


registry_stop() {
	local pid
	pid=$(cat "$CARINA_TEST_REGISTRY_PIDFILE")
	kill "$pid"
	wait_for 10 bash -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"
}

registry_start() {
	setsid /usr/bin/docker-registry serve "$CARINA_TEST_REGISTRY_CONF" \
		>>"$CARINA_TEST_REGISTRY_LOG" 2>>"$CARINA_TEST_REGISTRY_ERRLOG" </dev/null 3>&- &
	echo $! >"$CARINA_TEST_REGISTRY_PIDFILE"
	wait_for 10 curl -sf "http://$CARINA_TEST_REGISTRY/v2/" -o /dev/null
}

# store_state: the store's image records, to show nothing was half-written.
store_state() {
	cat "$CARINA_TEST_IMAGE_STORE"/storage/overlay-images/images.json 2>/dev/null | jq -S '[.[].id]'
}

teardown() {
	# Whatever a test did, leave the registry running for the next one.
	kill -0 "$(cat "$CARINA_TEST_REGISTRY_PIDFILE")" 2>/dev/null || registry_start
}

@test "nodes that find no store pull each blob once for the whole cluster" {
	no_store
	mark=$(log_lines)
	run as_user srun -N"$CARINA_TEST_NODES" --container-image="$CARINA_TEST_IMAGE_DEBIAN" cat /etc/debian_version
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq "$CARINA_TEST_NODES" ]
	# Two blobs (config and one layer), each fetched exactly once.
	[ "$(tail -n +"$((mark + 1))" "$CARINA_TEST_REGISTRY_LOG" | grep -c '"GET /v2/debian/blobs/sha256:')" -eq 2 ]
	[ "$(fetch_counts_since "$mark" debian)" = "1 " ]
	assert_clean
}

@test "srun pulls into the shared store with progress on the terminal; the nodes fetch nothing" {
	empty_store
	mark=$(log_lines)
	run as_user srun -N3 -n6 --container-image="$CARINA_TEST_IMAGE_DEBIAN" cat /etc/debian_version
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q "^carina: pulling $CARINA_TEST_REGISTRY/debian@sha256:[0-9a-f]\{64\} into $CARINA_TEST_IMAGE_STORE" <<<"$output"
	grep -q '^Copying blob sha256:' <<<"$output"
	grep -q "^carina: .* ready (image [0-9a-f]\{12\}) in [0-9.]*s$" <<<"$output"
	[ "$(grep -c '^12\.' <<<"$output")" -eq 6 ]
	[ "$(fetch_counts_since "$mark" debian)" = "1 " ]
	assert_clean
}

@test "a job on a warm store fetches no blob, and by digest makes no registry request at all" {
	run as_user srun -N3 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	[ "$status" -eq 0 ]
	before=$(blob_gets debian)
	run as_user srun -N3 -n6 --container-image="$CARINA_TEST_IMAGE_DEBIAN" cat /etc/debian_version
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq 6 ]
	[ "$(blob_gets debian)" -eq "$before" ]
	pinned=$(as_user /usr/local/lib/carina/carina resolve "$CARINA_TEST_IMAGE_DEBIAN")
	mark=$(log_lines)
	run as_user srun -N3 --container-image="$pinned" cat /etc/debian_version
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq 3 ]
	[ "$(log_lines)" -eq "$mark" ]
	assert_clean
}

@test "a tag moved while a job runs: the job's later steps still run the digest pinned at submit" {
	copy() { skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$1" "docker://$2"; }
	moving=$CARINA_TEST_REGISTRY/moving:1
	copy "$CARINA_TEST_IMAGE_DEBIAN" "$moving"
	# The allocation pins moving:1 (Debian); between the two steps the tag is
	# moved to the shell-less image, which has no cat and no debian_version.
	# (The user's own skopeo is told to use no credentials: with root's
	# podman on the host, its default lookup of /run/containers/UID fails;
	# carina's does not, 120-credentials.bats.)
	run as_user salloc -N3 --container-image="$moving" bash -c "
		srun cat /etc/debian_version &&
		skopeo copy -q --src-no-creds --dest-no-creds --src-tls-verify=false --dest-tls-verify=false docker://$CARINA_TEST_IMAGE_NOSHELL docker://$moving &&
		srun cat /etc/debian_version"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq 6 ]
	# A new job resolves the tag anew.
	run as_user srun -N1 --container-image="$moving" hello
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^hello from the shell-less image' <<<"$output"
	assert_clean
}

@test "an allocation that named no image: each step naming a reference runs the digest the job's first such step pinned, asking no registry" {
	copy() { skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$1" "docker://$2"; }
	moving=$CARINA_TEST_REGISTRY/moving-steps:1
	copy "$CARINA_TEST_IMAGE_DEBIAN" "$moving"
	# The first srun pins moving-steps:1 (Debian); then the tag moves to the
	# shell-less image; the second srun still runs Debian, and between the
	# marks no request names the repository.
	run as_user salloc -N2 bash -c "
		srun --container-image=$moving cat /etc/debian_version &&
		skopeo copy -q --src-no-creds --dest-no-creds --src-tls-verify=false --dest-tls-verify=false docker://$CARINA_TEST_IMAGE_NOSHELL docker://$moving &&
		echo mark=\$(wc -l <$CARINA_TEST_REGISTRY_LOG) &&
		srun --container-image=$moving cat /etc/debian_version &&
		echo end=\$(wc -l <$CARINA_TEST_REGISTRY_LOG)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq 4 ]
	mark=$(sed -n 's/^mark=//p' <<<"$output")
	end=$(sed -n 's/^end=//p' <<<"$output")
	[ "$(sed -n "$((mark + 1)),${end}p" "$CARINA_TEST_REGISTRY_LOG" | grep -c '/v2/moving-steps/')" -eq 0 ]
	# A new job resolves the tag anew.
	run as_user srun -N1 --container-image="$moving" hello
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^hello from the shell-less image' <<<"$output"
	assert_clean
}

@test "a short name resolves through registries.conf (an alias) and is pinned for the job" {
	run as_user srun -N2 --container-image=carina/debian:12 bash -c 'echo "$(cat /etc/debian_version) $CARINA_RESOLVED_FROM $CARINA_RESOLVED"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c "^12\.[0-9]* carina/debian:12 $CARINA_TEST_REGISTRY/debian@sha256:[0-9a-f]\{64\}$" <<<"$output")" -eq 2 ]
	assert_clean
}

@test "an oci-archive: file starts on three nodes without the registry" {
	empty_store
	mark=$(log_lines)
	run as_user srun -N3 --container-image="oci-archive:$CARINA_TEST_FILE_OCI_ARCHIVE" \
		bash -c 'echo "$(cat /etc/debian_version) $CARINA_IMAGE"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.[0-9]* debian12$' <<<"$output")" -eq 3 ]
	[ "$(log_lines)" -eq "$mark" ]
	assert_clean
}

@test "a squashfs path (pyxis style) starts on three nodes without the registry, with its environment and workdir" {
	mark=$(log_lines)
	cd "$(dirname "$CARINA_TEST_FILE_SQUASHFS")"
	# A relative path is taken against the submit directory, as in pyxis.
	run as_user bash -c "cd '$(dirname "$CARINA_TEST_FILE_SQUASHFS")' && srun -N3 -n6 --container-image=./$(basename "$CARINA_TEST_FILE_SQUASHFS") \
		bash -c 'echo \"\$(cat /etc/debian_version) \$CARINA_IMAGE \$PWD \$(id -u)\"'"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c "^12\.[0-9]* debian12-squashfs /srv/work $CARINA_TEST_UID$" <<<"$output")" -eq 6 ]
	[ "$(log_lines)" -eq "$mark" ]
	# No squashfuse or other process of the user outlives the job.
	assert_clean
}

@test "containers-storage: an image from the user's own podman store is copied at submit and runs on three nodes" {
	empty_store
	own() { as_user env XDG_RUNTIME_DIR="$CARINA_TEST_XDG_RUNTIME_DIR" HOME="/home/$CARINA_TEST_USER" "$@"; }
	own podman pull -q "$CARINA_TEST_IMAGE_NOSHELL" >/dev/null
	own podman tag "$CARINA_TEST_IMAGE_NOSHELL" localhost/mine:1
	# The user's own podman leaves its pause process behind; it is not carina's.
	pkill -KILL -u "$CARINA_TEST_USER" || true
	mark=$(log_lines)
	run own srun -N3 --container-image=containers-storage:localhost/mine:1 /hello
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^hello from the shell-less image' <<<"$output")" -eq 3 ]
	[ "$(log_lines)" -eq "$mark" ]
	# Without a shared store to copy it into, it is refused at submit.
	no_store
	run own srun -N1 --container-image=containers-storage:localhost/mine:1 /hello
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q '^srun: error: carina: image containers-storage:localhost/mine:1: an image from your podman store is copied at submit' <<<"$output"
	own podman rmi -f localhost/mine:1 "$CARINA_TEST_IMAGE_NOSHELL" >/dev/null
	pkill -KILL -u "$CARINA_TEST_USER" || true
	assert_clean
}

@test "a missing image file is refused at submit with one carina: line" {
	run as_user srun -N1 --container-image=/nonexistent/image.sqsh true
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q '^srun: error: carina: image /nonexistent/image.sqsh: no such file or directory$' <<<"$output"
	[ -z "$(squeue -h -u "$CARINA_TEST_USER")" ]
}

@test "with the registry stopped, srun fails with a carina: line within 60 s and the store is untouched" {
	empty_store
	run as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	[ "$status" -eq 0 ]
	before=$(store_state)
	registry_stop
	start=$SECONDS
	run as_user timeout 90 srun -N3 --container-image="$CARINA_TEST_IMAGE_NOSHELL" /hello
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[ $((SECONDS - start)) -lt 60 ]
	grep -q "^srun: error: carina: image $CARINA_TEST_IMAGE_NOSHELL: registry unreachable" <<<"$output"
	[ "$(store_state)" = "$before" ]
	registry_start
	assert_clean
}

@test "a registry that comes back while srun retries is used: the job runs" {
	empty_store
	registry_stop
	as_user srun -N3 --container-image="$CARINA_TEST_IMAGE_NOSHELL" /hello >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
	srun_pid=$!
	sleep 0.3
	registry_start
	wait "$srun_pid" || { cat "$BATS_TEST_TMPDIR/out"; false; }
	cat "$BATS_TEST_TMPDIR/out"
	[ "$(grep -c '^hello from the shell-less image' "$BATS_TEST_TMPDIR/out")" -eq 3 ]
	assert_clean
}

@test "the shared store keeps each image as one squashfs file, which every node mounts" {
	empty_store
	as_user srun -N3 --container-image="$CARINA_TEST_IMAGE_DEBIAN" sleep 15 3>&- &
	srun_pid=$!
	id=
	squashed() { id=$(carina images --store "$CARINA_TEST_IMAGE_STORE" --format json | jq -r '.[] | select(.in_use) | .id'); [[ -n $id && -s $CARINA_TEST_IMAGE_STORE/carina/squash/$id.sqsh ]]; }
	wait_for 60 squashed
	[ "$(head -c4 "$CARINA_TEST_IMAGE_STORE/carina/squash/$id.sqsh")" = hsqs ]
	mounted() { [ "$(pgrep -u "$CARINA_TEST_USER" -a squashfuse | grep -c "$CARINA_TEST_IMAGE_STORE/carina/squash/$id.sqsh")" -eq 3 ]; }
	wait_for 60 mounted
	wait "$srun_pid"
	assert_clean
	# gc removes the squashfs file with the image.
	run carina gc --store "$CARINA_TEST_IMAGE_STORE" --format json
	[ "$status" -eq 0 ]
	[ ! -e "$CARINA_TEST_IMAGE_STORE/carina/squash/$id.sqsh" ]
}

@test "an image the admin put in the site store starts for the user with no blob fetched and nothing in the user's store" {
	site=$CARINA_TEST_SITE_STORE
	# Made by make cluster-up, as a site makes it; emptied here.
	[ -d "$site" ]
	find "$site" -mindepth 1 -delete
	# The admin, as root, fills the site store.
	run /usr/local/lib/carina/carina pull --store "$site" --site "$CARINA_TEST_IMAGE_NOSHELL"
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.images | length == 1' "$site/carina/site.json"
	empty_store
	mark=$(log_lines)
	run as_user srun -N3 --container-image="$CARINA_TEST_IMAGE_NOSHELL" /hello
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^hello from the shell-less image' <<<"$output")" -eq 3 ]
	grep -q "^carina: $CARINA_TEST_REGISTRY/noshell@sha256:[0-9a-f]\{64\} is in the site image store" <<<"$output"
	# The resolve asked for the manifest; no blob moved.
	[ "$(tail -n +"$((mark + 1))" "$CARINA_TEST_REGISTRY_LOG" | grep -c '/blobs/')" -eq 0 ]
	[ "$(carina images --store "$CARINA_TEST_IMAGE_STORE" --format json | jq length)" -eq 0 ]
	assert_clean
	find "$site" -mindepth 1 -delete
}

@test "the shared store is the user's own: mode 0700, owned by the user" {
	[ "$(stat -c '%U %a' "$CARINA_TEST_IMAGE_STORE")" = "$CARINA_TEST_USER 700" ]
}
