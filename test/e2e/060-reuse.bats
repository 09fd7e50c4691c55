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

teardown() {
	global_scope off
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
		srun --container-image=$IMG --container-name=other:create test ! -e /state-kept && echo create-new &&
		{ srun --container-image=$IMG --container-name=work:no_exec true; echo no-exec-running-status=\$?; } &&
		srun --container-image=$IMG --container-name=third:no_exec true && echo no-exec-creates"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q exec-sees-state <<<"$output"
	grep -q auto-joins <<<"$output"
	grep -q 'create-status=[1-9]' <<<"$output"
	grep -q 'carina: --container-name=work:create: a container of that name already runs' <<<"$output"
	grep -q 'exec-missing-status=[1-9]' <<<"$output"
	grep -q 'carina: --container-name=other:exec: no container of that name runs' <<<"$output"
	grep -q create-new <<<"$output"
	grep -q 'no-exec-running-status=[1-9]' <<<"$output"
	grep -q 'carina: --container-name=work:no_exec: a container of that name runs already' <<<"$output"
	grep -q no-exec-creates <<<"$output"
	# Named containers are the job's: removed at its end (container_scope=job).
	assert_clean
}

@test "joining a named container: a missing namespace is refused, other mounts are ignored with one line, the kept entrypoint log is shown" {
	mkdir -p /tmp/carina-e2e-join && chmod 755 /tmp/carina-e2e-join
	run as_user salloc -N2 bash -c "
		srun -N2 --container-image=$CARINA_TEST_IMAGE_BUSYBOX --container-name=j --container-entrypoint true &&
		{ srun -N2 --container-name=j --container-unshare=net true; echo unshare-status=\$?; } &&
		srun -N2 --container-name=j --container-mounts=/tmp/carina-e2e-join:/joinmnt sh -c 'test -e /joinmnt || echo not-mounted' &&
		srun -N1 --container-name=j --container-entrypoint-log true &&
		srun -N1 --container-image=$IMG --container-name=u --container-unshare=net --container-mounts=/tmp/carina-e2e-join:/joinmnt true &&
		srun -N1 --container-name=u --container-unshare=net --container-mounts=/tmp/carina-e2e-join:/joinmnt sh -c 'test -d /joinmnt && echo same-mounts-join'"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'unshare-status=[1-9]' <<<"$output"
	grep -q "carina: --container-unshare=net: the running container j shares the host's net namespace" <<<"$output"
	[ "$(grep -c 'carina: ignoring --container-mounts' <<<"$output")" -eq 1 ]
	[ "$(grep -c not-mounted <<<"$output")" -eq 2 ]
	grep -q "carina: entrypoint: entrypoint ran as uid $CARINA_TEST_UID" <<<"$output"
	grep -q same-mounts-join <<<"$output"
	[ "$(grep -c 'carina: ignoring' <<<"$output")" -eq 1 ]
	rm -rf /tmp/carina-e2e-join
	assert_clean
}

@test "an overlapping step joins a running step's unnamed container as --container-name=JOBID.STEPID" {
	run as_user salloc -N1 bash -c "
		srun --container-image=$IMG bash -c 'touch /step0-was-here; sleep 20' &
		for i in \$(seq 40); do sleep 0.5; srun --overlap --container-name=\$SLURM_JOB_ID.0:exec test -e /step0-was-here 2>/dev/null && break; done
		srun --overlap --container-name=\$SLURM_JOB_ID.0:exec test -e /step0-was-here && echo joined-step0
		{ srun --overlap --container-name=\$SLURM_JOB_ID.77:exec true; echo no-step-status=\$?; }
		scancel -s KILL \$SLURM_JOB_ID.0; wait"
	echo "$output"
	grep -q joined-step0 <<<"$output"
	grep -q 'no-step-status=[1-9]' <<<"$output"
	assert_clean
}

@test "--container-save writes the container's filesystem as a squashfs that --container-image starts from" {
	out=/tmp/carina-e2e-save
	rm -rf "$out"
	install -d -o "$CARINA_TEST_USER" "$out"
	run as_user srun -N1 -n2 --container-image="$IMG" --container-remap-root --container-writable \
		--container-save="$out/saved.sqsh" bash -c 'echo "kept by $SLURM_PROCID" > /saved-$SLURM_PROCID'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stat -c %U "$out/saved.sqsh")" = "$CARINA_TEST_USER" ]
	[ -z "$(ls "$out" | grep carina-tmp)" ]
	run as_user srun -N1 --container-image="$out/saved.sqsh" bash -c 'cat /saved-0 /saved-1; . /etc/os-release; echo $ID'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "kept by 0
kept by 1
debian" ]
	rm -rf "$out"
	assert_clean
}

# global_scope on|off: switch the site's container_scope (read afresh by
# every srun, slurmstepd and epilog); teardown switches it off whatever
# a test did.
global_scope() {
	sed -i '/^container_scope = /d' /etc/carina/carina.toml
	if [[ $1 == on ]]; then
		sed -i '1a container_scope = "global"' /etc/carina/carina.toml
	fi
}

@test "container_scope = global: a named container outlives its job, stopped, and the next job starts it again" {
	global_scope on
	run as_user srun -N1 -w n1 --container-image="$IMG" --container-name=keep --container-remap-root touch /kept-across-jobs
	echo "$output"
	[ "$status" -eq 0 ]
	# After the job: no process runs, the container is kept on n1.
	wait_for 30 no_user_procs
	[ "$(store_containers n1 | grep -c '^carina-g-n1-keep$')" -eq 1 ]
	run as_user srun -N1 -w n1 --container-name=keep test -e /kept-across-jobs
	echo "$output"
	[ "$status" -eq 0 ]
	run as_user srun -N1 -w n1 --container-image="$IMG" --container-name=keep:create true
	[ "$status" -ne 0 ]
	grep -q 'a container of that name exists on this node' <<<"$output"
	wait_for 30 no_user_procs
	# The user lists and removes the kept container on its node.
	run as_user srun -N1 -w n1 /usr/local/lib/carina/carina kept list
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = keep ]
	run as_user srun -N1 -w n1 /usr/local/lib/carina/carina kept rm keep
	echo "$output"
	[ "$status" -eq 0 ]
	run as_user srun -N1 -w n1 /usr/local/lib/carina/carina kept rm keep
	[ "$status" -ne 0 ]
	grep -q 'no kept container "keep" on node n1' <<<"$output"
	global_scope off
	assert_clean
}

# debian_id: the id of the debian test image in the user's store ("" when none).
debian_id() {
	carina images --format json | jq -r '[.[] | select(any(.names[]; test("/debian[:@]")))][0].id // ""'
}

@test "container_scope = global: a kept container keeps its image through carina gc, restarted meanwhile, until it is removed" {
	global_scope on
	run as_user srun -N1 -w n1 --container-image="$IMG" --container-name=gckeep --container-remap-root touch /kept-through-gc
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for 30 no_user_procs
	id=$(debian_id)
	[ -n "$id" ]
	# No job holds the image now, only the kept container.
	carina images --format json | jq -e --arg id "$id" \
		'.[] | select(.id == $id) | .in_use and .leases == ["kept@carina-g-n1-gckeep"]'
	# gc with no bound removes every unused image, while a later job starts
	# the kept container again: the image stays, the job runs on it.
	as_user srun -N1 -w n1 --container-name=gckeep bash -c 'test -e /kept-through-gc && sleep 2 && echo restarted' \
		>"$BATS_TEST_TMPDIR/job.out" 2>&1 &
	job=$!
	run carina gc --format json
	echo "$output"
	[ "$status" -eq 0 ]
	wait "$job" || { cat "$BATS_TEST_TMPDIR/job.out"; return 1; }
	grep -q restarted "$BATS_TEST_TMPDIR/job.out"
	[ "$(debian_id)" = "$id" ]
	wait_for 30 no_user_procs
	run carina gc --format json
	[ "$status" -eq 0 ]
	[ "$(debian_id)" = "$id" ]
	# Removed, the container no longer holds it: gc takes it.
	run as_user srun -N1 -w n1 /usr/local/lib/carina/carina kept rm gckeep
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for 30 no_user_procs
	run carina gc --format json
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e --arg id "$id" 'any(.removed[]; .id == $id)' <<<"$output"
	[ -z "$(debian_id)" ]
	global_scope off
	assert_clean
}
