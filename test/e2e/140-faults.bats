#!/usr/bin/env bats
# Faults a real site meets: a job's epilog while another job of the same
# user pulls on the node for minutes, a node-local store that would fill
# its disk, a job submitted with --export=NONE. Real slurmd, real podman,
# a real registry (behind test/slowregistry where a pull must be slow).

load helpers

TOML=/etc/carina/carina.toml

setup_file() {
	# The slow front of the test registry (a fixture, built from the tree).
	(cd "$REPO" && go build -o "$BATS_FILE_TMPDIR/slowregistry" ./test/slowregistry)
}

teardown() {
	! mountpoint -q "$CARINA_TEST_IMAGE_STORE" || umount "$CARINA_TEST_IMAGE_STORE"
	[[ ! -f $BATS_FILE_TMPDIR/slowregistry.pid ]] || kill "$(cat "$BATS_FILE_TMPDIR/slowregistry.pid")" 2>/dev/null || true
	rm -f "$BATS_FILE_TMPDIR/slowregistry.pid"
	[[ ! -f $BATS_FILE_TMPDIR/carina.toml ]] || mv "$BATS_FILE_TMPDIR/carina.toml" "$TOML"
}

# slow_registry DELAY: serve the test registry at $CARINA_TEST_SLOW_REGISTRY,
# each blob download held for DELAY.
slow_registry() {
	"$BATS_FILE_TMPDIR/slowregistry" -listen "$CARINA_TEST_SLOW_REGISTRY" -upstream "http://$CARINA_TEST_REGISTRY" \
		-delay "$1" >"$BATS_FILE_TMPDIR/slowregistry.log" 2>&1 &
	echo $! >"$BATS_FILE_TMPDIR/slowregistry.pid"
	wait_for 10 curl -fsS -o /dev/null "http://$CARINA_TEST_SLOW_REGISTRY/v2/"
}

# node_local_store LIMIT: the site keeps images on each node (no
# image_store), bounded by store_limit LIMIT when given; n1's store of the
# user starts empty. teardown puts the site's configuration back.
node_local_store() {
	wait_for 30 no_user_procs
	cp -p "$TOML" "$BATS_FILE_TMPDIR/carina.toml"
	sed -i 's/^image_store = /#&/' "$TOML"
	[[ -z $1 ]] || sed -i "1a store_limit = \"$1\"" "$TOML"
	rm -rf "/var/lib/carina/n1/$CARINA_TEST_UID" "/run/carina/n1/$CARINA_TEST_UID"
}

# job_containers JOB NODE: the job's containers in NODE's store.
job_containers() { store_containers "$2" | grep -c "^carina-$1-" || true; }
no_job_containers() { [[ $(job_containers "$1" "$2") -eq 0 ]]; }
has_job_containers() { [[ $(job_containers "$1" "$2") -gt 0 ]]; }
pull_held() { grep -q 'holding ' "$BATS_FILE_TMPDIR/slowregistry.log"; }

@test "a job's epilog removes its container while another job of the user pulls on the node for long" {
	# No shared store: the node pulls for itself, on n1 (srun cannot).
	node_local_store ""
	# Job B: a container from an image file (nothing to pull), running.
	jobb=$(as_user sbatch --parsable -N1 -w n1 -o /dev/null \
		--wrap "srun --container-image=$CARINA_TEST_FILE_SQUASHFS sleep 300")
	wait_for 60 has_job_containers "$jobb" n1
	# Job A, same user, same node: its pull is held by the registry.
	slow_registry 25s
	as_user srun -N1 -w n1 --container-image="$CARINA_TEST_SLOW_REGISTRY/debian:12" cat /etc/debian_version \
		>"$BATS_FILE_TMPDIR/a.out" 2>&1 &
	pida=$!
	wait_for 60 pull_held
	# B ends while A pulls: its epilog must not wait for A's pull.
	start=$SECONDS
	scancel "$jobb"
	wait_for 20 no_job_containers "$jobb" n1
	echo "job B's container removed $((SECONDS - start)) s after scancel"
	kill -0 "$pida" # A is still pulling: B's cleanup did not wait for it
	wait "$pida" || { cat "$BATS_FILE_TMPDIR/a.out"; return 1; }
	cat "$BATS_FILE_TMPDIR/a.out"
	grep -q '^12\.' "$BATS_FILE_TMPDIR/a.out"
	assert_clean
}

# local_images NODE: the names of the images in NODE's node-local store.
local_images() {
	carina images --store "/var/lib/carina/$1/$CARINA_TEST_UID" --format json | jq -r '.[].names[]'
}

@test "store_limit bounds a node-local store: unused images go, least recently used first; images in use stay" {
	# No shared store: every node keeps its own, bounded to 20 MiB (the
	# debian image alone is larger; busybox and the shell-less one are not).
	node_local_store 20M
	run as_user srun -N1 -w n1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for 30 no_user_procs
	local_images n1 | grep -q '/debian[:@]' # over its bound, but in use by the job
	# debian in use by a running job: busybox's pull leaves it there.
	joba=$(as_user sbatch --parsable -N1 -w n1 -o /dev/null \
		--wrap "srun --container-image=$CARINA_TEST_IMAGE_DEBIAN sleep 300")
	wait_for 60 has_job_containers "$joba" n1
	run as_user srun -N1 -w n1 --container-image="$CARINA_TEST_IMAGE_BUSYBOX" true
	echo "$output"
	[ "$status" -eq 0 ]
	local_images n1 | grep -q '/debian[:@]'
	local_images n1 | grep -q '/busybox[:@]'
	scancel "$joba"
	wait_for 30 no_job_containers "$joba" n1
	# Nothing uses debian now: the next pull removes it, the store is in bound.
	run as_user srun -N1 -w n1 --container-image="$CARINA_TEST_IMAGE_NOSHELL" /hello
	echo "$output"
	[ "$status" -eq 0 ]
	# Said once, on the terminal of the step whose pull made room.
	[ "$(grep -c "carina: n1: your node-local image store is bounded by the site's store_limit (20.0 MiB): removed 1 unused image" <<<"$output")" -eq 1 ]
	run local_images n1
	echo "$output"
	! grep -q '/debian[:@]' <<<"$output" || return 1
	grep -q '/busybox[:@]' <<<"$output"
	grep -q '/noshell[:@]' <<<"$output"
	bytes=$(carina images --store "/var/lib/carina/n1/$CARINA_TEST_UID" --format json | jq '[.[].size] | add')
	echo "node-local store of n1: $bytes bytes"
	[ "$bytes" -le $((20 << 20)) ]
	assert_clean
}

@test "sbatch --export=NONE: the batch step and its sruns run in the container with the settings given at submit" {
	out=/tmp/carina-e2e-export-none.out
	rm -f "$out"
	run as_user sbatch --wait --export=NONE -N2 -o "$out" --container-image="$CARINA_TEST_IMAGE_DEBIAN" \
		--wrap 'cat /etc/debian_version; srun -N2 cat /etc/debian_version; srun -N1 --container-mounts=tmpfs:/scratch findmnt -n /scratch'
	echo "$output"
	cat "$out"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' "$out")" -eq 3 ]
	grep -q '^/scratch' "$out"
	rm -f "$out"
	assert_clean
}

@test "a full image store: srun says so in one line, makes no job, and leaves a store that lists and works once there is room" {
	no_store
	# The user's store on a filesystem too small for the debian image.
	install -d -o "$CARINA_TEST_USER" -m 0700 "$CARINA_TEST_IMAGE_STORE"
	mount -t tmpfs -o "size=40m,uid=$CARINA_TEST_UID,gid=$CARINA_TEST_UID,mode=0700" carina-e2e-full "$CARINA_TEST_IMAGE_STORE"
	start=$SECONDS
	rejected_at_submit srun -N2 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	echo "took $((SECONDS - start)) s"
	((SECONDS - start < 60))
	[ "$(grep -c '^carina: ' <<<"$output")" -eq 1 ]
	grep -q "carina: pulling .*debian.*: the image store $CARINA_TEST_IMAGE_STORE ran out of space (no space left on device on its 40.0 MiB filesystem): remove images with carina gc or carina rmi" <<<"$output"
	# Nothing half-written is listed; a smaller image fits and runs.
	run carina images --format json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "[]" ]
	run as_user srun -N2 --container-image="$CARINA_TEST_IMAGE_BUSYBOX" true
	echo "$output"
	[ "$status" -eq 0 ]
	umount "$CARINA_TEST_IMAGE_STORE"
	assert_clean
}

@test "a damaged squashfs file in the image store is made again from the image's layers, and the step runs" {
	run as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	[ "$status" -eq 0 ]
	id=$(carina images --format json | jq -r '[.[] | select(any(.names[]; test("/debian[:@]")))][0].id')
	sqsh=$CARINA_TEST_IMAGE_STORE/carina/squash/$id.sqsh
	[ -f "$sqsh" ]
	wait_for 30 no_user_procs
	head -c 65536 /dev/urandom >"$sqsh" # the user's file, overwritten in place
	run as_user srun -N2 --container-image="$CARINA_TEST_IMAGE_DEBIAN" cat /etc/debian_version
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq 2 ]
	grep -q "carina: n[0-9]*: the squashfs of image ${id:0:12} in your image store could not be mounted; it was made again from the image's layers" <<<"$output"
	unsquashfs -s "$sqsh" >/dev/null
	[ "$(stat -c %U "$sqsh")" = "$CARINA_TEST_USER" ]
	assert_clean
}
