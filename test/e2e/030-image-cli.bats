#!/usr/bin/env bats
# The image store CLI (carina images / inspect / rmi / gc) on the user's
# real shared store, while real jobs use it.

load helpers

@test "images, inspect, rmi and gc: an image a running job uses is never removed" {
	store=$CARINA_TEST_IMAGE_STORE
	as_user srun -N2 --container-image="$CARINA_TEST_IMAGE_DEBIAN" sleep 20 3>&- &
	srun_pid=$!
	leased() { carina images --store "$store" --format json | jq -e '[.[] | select(.in_use)] | length == 1' >/dev/null; }
	wait_for 60 leased
	id=$(carina images --store "$store" --format json | jq -r '.[] | select(.in_use) | .id')
	[[ $id =~ ^[0-9a-f]{64}$ ]]
	# Two leases: one per node of the job.
	[ "$(carina images --store "$store" --format json | jq -r ".[] | select(.id == \"$id\") | .leases | length")" -eq 2 ]
	run carina inspect --store "$store" "$id"
	[ "$status" -eq 0 ]
	[ "$(jq -r .id <<<"$output")" = "$id" ]
	run carina rmi --store "$store" "$id"
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q '^carina: .*in use' <<<"$output"
	run carina gc --store "$store" --format json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r --arg id "$id" '[.removed[] | select(.id == $id)] | length' <<<"$output")" -eq 0 ]
	carina images --store "$store" --format json | jq -e --arg id "$id" 'any(.[]; .id == $id)'
	wait "$srun_pid"
	assert_clean
	# The job is over: its leases are gone, and gc may now remove the image.
	[ "$(carina images --store "$store" --format json | jq -r --arg id "$id" '.[] | select(.id == $id) | .in_use')" = "false" ]
	run carina gc --store "$store" --format json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r --arg id "$id" '[.removed[] | select(.id == $id)] | length' <<<"$output")" -eq 1 ]
	! carina images --store "$store" --format json | jq -e --arg id "$id" 'any(.[]; .id == $id)' || return 1
	# And the next job pulls it again.
	run as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" cat /etc/debian_version
	[ "$status" -eq 0 ]
	assert_clean
}

@test "carina is on the user's PATH; without --store its store commands work on the user's own store" {
	as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	run as_user env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp bash -c 'command -v carina'
	[ "$output" = /usr/local/bin/carina ]
	run as_user env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp carina images --format json
	echo "$output"
	[ "$status" -eq 0 ]
	mine=$output
	[ "$(jq length <<<"$mine")" -ge 1 ]
	[ "$mine" = "$(carina images --store "$CARINA_TEST_IMAGE_STORE" --format json)" ]
	run as_user env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp carina gc --dry-run --format json
	[ "$status" -eq 0 ]
	# Root has no store of its own: it must name one.
	run /usr/local/bin/carina images
	[ "$status" -eq 1 ]
	grep -q '^carina: root has no image store of its own: --store DIR' <<<"$output"
	assert_clean
}
