#!/usr/bin/env bats
# Images: pulled once per cluster into the user's shared image store.

load helpers

# blob_gets IMAGE: number of blob downloads of IMAGE in the registry log.
blob_gets() {
	grep -c "\"GET /v2/$1/blobs/sha256:" "$CARINA_TEST_REGISTRY_LOG" || true
}

# blob_counts IMAGE: "DIGEST COUNT" for every blob of IMAGE fetched since
# the log had $1 lines.
blob_counts_since() {
	tail -n +"$(($1 + 1))" "$CARINA_TEST_REGISTRY_LOG" |
		grep -o "\"GET /v2/$2/blobs/sha256:[0-9a-f]*" | sort | uniq -c | awk '{print $1}' | sort -u
}

cold_store() {
	wait_for 30 no_user_procs
	rm -rf "$CARINA_TEST_IMAGE_STORE"
}

@test "a 3-node job on a cold store fetches every blob of the image exactly once" {
	cold_store
	mark=$(wc -l <"$CARINA_TEST_REGISTRY_LOG")
	run as_user srun -N3 -n3 --container-image="$CARINA_TEST_IMAGE_DEBIAN" cat /etc/debian_version
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq 3 ]
	# Two blobs (config and one layer), each fetched once, not once per node.
	[ "$(tail -n +"$((mark + 1))" "$CARINA_TEST_REGISTRY_LOG" | grep -c '"GET /v2/debian/blobs/sha256:')" -eq 2 ]
	[ "$(blob_counts_since "$mark" debian)" = "1" ]
	assert_clean
}

@test "a second job on a warm store fetches no blob" {
	run as_user srun -N3 -n3 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	[ "$status" -eq 0 ]
	before=$(blob_gets debian)
	run as_user srun -N3 -n6 --container-image="$CARINA_TEST_IMAGE_DEBIAN" cat /etc/debian_version
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq 6 ]
	[ "$(blob_gets debian)" -eq "$before" ]
	assert_clean
}

@test "the shared store is the user's own: mode 0700, owned by the user" {
	[ "$(stat -c '%U %a' "$CARINA_TEST_IMAGE_STORE")" = "$CARINA_TEST_USER 700" ]
}
