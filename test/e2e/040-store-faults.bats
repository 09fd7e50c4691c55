#!/usr/bin/env bats
# Faults around the image store: pulls killed at any point, a node that
# cannot see the shared store.

load helpers

STORE_BASE=$(dirname "$CARINA_TEST_IMAGE_STORE")

teardown() {
	[[ ! -d $STORE_BASE.hidden ]] || mv "$STORE_BASE.hidden" "$STORE_BASE"
}

# debian_images: how many images of the store are named debian.
debian_images() {
	carina images --store "$CARINA_TEST_IMAGE_STORE" --format json | jq '[.[] | select(any(.names[]; test("/debian[:@]")))] | length'
}

@test "a pull killed with SIGKILL at any point leaves a store the next job uses, and a consistent listing" {
	# A pull takes about 6 s here and its squash about 3 s more: 7 s is mid-squash.
	for delay in 0.2 0.8 1.5 2.5 4 7; do
		empty_store
		as_user /usr/local/lib/carina/carina pull --store "$CARINA_TEST_IMAGE_STORE" "$CARINA_TEST_IMAGE_DEBIAN" \
			>/dev/null 2>&1 3>&- &
		sleep "$delay"
		pkill -KILL -u "$CARINA_TEST_USER" -f '/usr/local/lib/carina/carina (pull|__pull)' || true
		wait || true
		echo "killed after ${delay}s"
		run carina images --store "$CARINA_TEST_IMAGE_STORE" --format json
		echo "$output"
		[ "$status" -eq 0 ]
		jq -e 'type == "array"' <<<"$output"
		run as_user srun -N2 --container-image="$CARINA_TEST_IMAGE_DEBIAN" cat /etc/debian_version
		echo "$output"
		[ "$status" -eq 0 ]
		[ "$(grep -c '^12\.' <<<"$output")" -eq 2 ]
		[ "$(debian_images)" -eq 1 ]
		assert_clean
	done
}

@test "a node that cannot see the shared store pulls into its own store and says so on the terminal and in the log" {
	wait_for 30 no_user_procs
	before=$(cat /var/log/slurm/slurmd-n*.log | grep -c 'shared image store not visible on this node' || true)
	mv "$STORE_BASE" "$STORE_BASE.hidden"
	# Two steps: the second joins the first's containers.
	run as_user timeout 240 salloc -N2 bash -c "for i in 1 2; do srun -N2 --container-image='$CARINA_TEST_IMAGE_DEBIAN' cat /etc/debian_version; done"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq 4 ]
	# Said by each node that fell back, by the step that pulled there
	# (the joining step says nothing), and by each srun, which could not
	# pull for them either.
	[ "$(grep -c "^carina: n[0-9]*: the shared image store $STORE_BASE is not visible on this node; .* was pulled into the node's own store instead" <<<"$output")" -eq 2 ]
	[ "$(grep -c "^carina: the shared image store $STORE_BASE is not visible on this host .*; the nodes pull .* themselves" <<<"$output")" -eq 2 ]
	after=$(cat /var/log/slurm/slurmd-n*.log | grep -c 'shared image store not visible on this node' || true)
	[ "$after" -eq $((before + 4)) ]
	[ ! -e "$STORE_BASE" ]
	assert_clean
}
