#!/usr/bin/env bats
# The walking skeleton: srun --container-image on the real 3-node cluster.

load helpers

@test "six tasks on three nodes each read the image's files, not the host's" {
	run as_user srun -N3 -n6 --container-image="$CARINA_TEST_IMAGE_DEBIAN" \
		bash -c 'echo "task=$SLURM_PROCID node=$SLURMD_NODENAME id=$(. /etc/os-release; echo $ID-$VERSION_ID) fs=$(stat -f -c %T /) srun=$(test -e /usr/bin/srun && echo host || echo absent) marker=$CARINA_IMAGE"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'id=debian-12 fs=overlayfs srun=absent marker=debian12' <<<"$output")" -eq 6 ]
	# Slurm's placement is kept: two tasks on each node, block distribution.
	for t in 0 1 2 3 4 5; do
		want=n$((t / 2 + 1))
		[ "$(grep -c "^task=$t node=$want " <<<"$output")" -eq 1 ]
	done
	assert_clean
}

@test "cat /etc/os-release prints the image's Debian 12 identity six times" {
	run as_user srun -N3 -n6 --container-image="$CARINA_TEST_IMAGE_DEBIAN" cat /etc/os-release
	[ "$status" -eq 0 ]
	[ "$(grep -c '^VERSION_ID="12"' <<<"$output")" -eq 6 ]
	[ "$(grep -c '^PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' <<<"$output")" -eq 6 ]
}

@test "each task is a child of its slurmstepd, runs as the user, with its own SLURM_PROCID" {
	run as_user srun -N3 -n6 --container-image="$CARINA_TEST_IMAGE_DEBIAN" \
		bash -c 'echo "rank=$SLURM_PROCID uid=$(id -u) parent=$(cat /proc/$PPID/comm) local=$SLURM_LOCALID"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c "uid=$CARINA_TEST_UID parent=slurmstepd " <<<"$output")" -eq 6 ]
	[ "$(grep -o 'rank=[0-9]*' <<<"$output" | sort -u | tr '\n' ' ')" = "rank=0 rank=1 rank=2 rank=3 rank=4 rank=5 " ]
	# Two local ranks per node, never task 0's value everywhere.
	[ "$(grep -c 'local=0' <<<"$output")" -eq 3 ]
	[ "$(grep -c 'local=1' <<<"$output")" -eq 3 ]
}

@test "exactly one carina container per node while a step runs, none after the job" {
	as_user srun -N3 -n6 --container-image="$CARINA_TEST_IMAGE_DEBIAN" sleep 15 &
	srun_pid=$!
	job=
	get_job() { job=$(squeue -h -u "$CARINA_TEST_USER" -t R -o %i | head -n1); [[ -n $job ]]; }
	wait_for 30 get_job
	mapfile -t used < <(scontrol show hostnames "$(squeue -h -j "$job" -o %N)")
	[ "${#used[@]}" -eq 3 ]
	one_each() {
		local n
		for n in "${used[@]}"; do
			[[ $(store_containers "$n" | grep -c "^carina-$job-$n-") -eq 1 ]] || return 1
		done
	}
	wait_for 60 one_each
	for n in "${used[@]}"; do
		run node_podman "$n" ps --filter "label=carina.job=$job" --filter status=running --format '{{.Names}}'
		echo "$n: $output"
		[ "$status" -eq 0 ]
		[ "$(wc -l <<<"$output")" -eq 1 ]
		[[ $output == "carina-$job-$n-"* ]]
	done
	wait "$srun_pid"
	assert_clean
}

@test "a shell-less image runs its only binary on three nodes" {
	run as_user srun -N3 --container-image="$CARINA_TEST_IMAGE_NOSHELL" /hello
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c "^hello from the shell-less image: node=n[0-9]* rank=[0-2] uid=$CARINA_TEST_UID$" <<<"$output")" -eq 3 ]
	# One task on each of three different nodes.
	[ "$(grep -o 'node=n[0-9]*' <<<"$output" | sort -u | wc -l)" -eq 3 ]
	assert_clean
}

@test "a command is looked up in the image's PATH, not the host's" {
	run as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_NOSHELL" hello
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^hello from the shell-less image: node=n[0-9]* rank=0' <<<"$output"
	# skopeo exists on the host only (Slurm's own commands are relayed:
	# 080-sbatch-relay.bats).
	run as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" skopeo --version
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q 'execve(): skopeo: No such file or directory' <<<"$output"
	assert_clean
}

@test "a non-existent image is refused by srun before allocation with one carina: line" {
	start=$SECONDS
	run as_user timeout 60 srun -N3 --container-image="$CARINA_TEST_REGISTRY/does-not-exist:1" true
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[ $((SECONDS - start)) -lt 30 ]
	[ "$(grep -c 'carina:' <<<"$output")" -eq 1 ]
	grep -q '^srun: error: carina: image .*does-not-exist:1 not found in its registry$' <<<"$output"
	grep -q 'post-option processing failed' <<<"$output"
	assert_clean
	[ "$(sinfo -h -o %t | sort -u)" = "idle" ]
}

@test "an unreachable registry is a carina: error and a non-zero exit within 60 s" {
	start=$SECONDS
	run as_user timeout 90 srun -N1 --container-image=127.0.0.1:1/debian:12 true
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[ $((SECONDS - start)) -lt 60 ]
	grep -q 'carina: image 127.0.0.1:1/debian:12: registry unreachable' <<<"$output"
	assert_clean
}

@test "a malformed reference is rejected by srun before any allocation" {
	run as_user srun -N1 --container-image='Debian::12' true
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q '^srun: error: carina: --container-image="Debian::12": not a valid image reference' <<<"$output"
	# It failed in option processing, before srun asked for an allocation.
	grep -q 'post-option processing failed' <<<"$output"
	[ -z "$(squeue -h -u "$CARINA_TEST_USER")" ]
}
