#!/usr/bin/env bats
# Container reuse across the steps of a job, and --container-name's attach
# modes. The container list is read from each node's store while the job
# runs (the job's own shell prints it between steps).

load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN

setup_file() {
	as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	cat >/tmp/carina-e2e-ctrs <<-'SH'
		#!/bin/bash
		# ctrs: "NODE NAME ID" for each carina container of this job.
		for n in $(scontrol show hostnames "$SLURM_JOB_NODELIST"); do
			f=/var/lib/carina/$n/$(id -u)/storage/overlay-containers/containers.json
			[ -s "$f" ] && jq -r --arg n "$n" --arg j "carina-$SLURM_JOB_ID-" \
				'.[] | select(.names[0] | startswith($j)) | "\($n) \(.names[0]) \(.id)"' "$f"
		done | sort
	SH
	chmod 0755 /tmp/carina-e2e-ctrs
}

teardown_file() {
	rm -f /tmp/carina-e2e-ctrs
}

@test "a second step with the same settings joins the running containers; other settings get their own" {
	run as_user salloc -N2 bash -c "
		srun -N2 --container-image=$IMG true && /tmp/carina-e2e-ctrs > /tmp/carina-e2e-a.\$SLURM_JOB_ID &&
		srun -N2 --container-image=$IMG cat /etc/debian_version && /tmp/carina-e2e-ctrs > /tmp/carina-e2e-b.\$SLURM_JOB_ID &&
		srun -N2 --container-image=$IMG --container-mounts=tmpfs:/scratch true && /tmp/carina-e2e-ctrs > /tmp/carina-e2e-c.\$SLURM_JOB_ID &&
		echo job=\$SLURM_JOB_ID"
	echo "$output"
	[ "$status" -eq 0 ]
	job=$(grep -o 'job=[0-9]*' <<<"$output" | cut -d= -f2)
	a=$(cat "/tmp/carina-e2e-a.$job") b=$(cat "/tmp/carina-e2e-b.$job") c=$(cat "/tmp/carina-e2e-c.$job")
	rm -f /tmp/carina-e2e-[abc]."$job"
	echo "after step 1:"; echo "$a"; echo "after step 2:"; echo "$b"; echo "after step 3:"; echo "$c"
	[ "$(wc -l <<<"$a")" -eq 2 ]   # one per node
	[ "$a" = "$b" ]                # same names, same ids: nothing new started
	[ "$(wc -l <<<"$c")" -eq 4 ]   # the tmpfs step got its own on each node
	[ "$(comm -12 <(echo "$a") <(echo "$c") | wc -l)" -eq 2 ]
	assert_clean
}

@test "--container-name: auto creates then joins, keeping the filesystem; create and exec check what exists" {
	run as_user salloc -N1 bash -c "
		srun --container-image=$IMG --container-name=work --container-remap-root touch /state-kept &&
		srun --container-name=work:exec test -e /state-kept && echo exec-sees-state &&
		srun --container-image=$IMG --container-name=work test -e /state-kept && echo auto-joins &&
		{ srun --container-image=$IMG --container-name=work:create true; echo create-status=\$?; } &&
		{ srun --container-name=other:exec true; echo exec-missing-status=\$?; } &&
		srun --container-image=$IMG --container-name=other:create test ! -e /state-kept && echo create-new"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q exec-sees-state <<<"$output"
	grep -q auto-joins <<<"$output"
	grep -q 'create-status=[1-9]' <<<"$output"
	grep -q 'carina: --container-name=work:create: a container of that name already runs' <<<"$output"
	grep -q 'exec-missing-status=[1-9]' <<<"$output"
	grep -q 'carina: --container-name=other:exec: no container of that name runs' <<<"$output"
	grep -q create-new <<<"$output"
	# Named containers are the job's: removed at its end (container_scope=job).
	assert_clean
}
