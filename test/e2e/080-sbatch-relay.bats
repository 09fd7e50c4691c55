#!/usr/bin/env bats
# sbatch runs the batch script inside the container; nested sruns join the
# same per-node container without repeating the flags; Slurm commands run
# from inside any image through the relay (tested with a static busybox
# image: no glibc, no Slurm); the image's entrypoint on request.

load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN
BB=$CARINA_TEST_IMAGE_BUSYBOX
OUT=/tmp/carina-e2e-sbatch

setup_file() {
	as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_BUSYBOX" true
	rm -rf "$OUT"
	install -d -o "$CARINA_TEST_USER" "$OUT"
}

teardown_file() {
	rm -rf "$OUT"
}

@test "#SBATCH --container-image: the script runs inside; nested sruns join its container; another image gets its own" {
	cat >"$OUT/job.sh" <<-EOF
		#!/bin/bash
		#SBATCH -N2
		#SBATCH --container-image=$IMG
		echo "batch: \$(. /etc/os-release; echo \$ID-\$VERSION_ID) srun-in-image=\$(test -e /usr/bin/srun && echo yes || echo no)"
		echo from-the-batch-step > /tmp/marker
		srun -N2 --ntasks-per-node=1 bash -c 'echo "step: \$SLURMD_NODENAME \$(. /etc/os-release; echo \$ID-\$VERSION_ID) marker=\$(cat /tmp/marker 2>/dev/null || echo none)"'
		srun -N1 -n1 --container-image=$CARINA_TEST_IMAGE_NOSHELL hello
		echo "state: \$(squeue -h -j \$SLURM_JOB_ID -o %T)"
	EOF
	chown "$CARINA_TEST_USER" "$OUT/job.sh"
	run as_user sbatch --wait -o "$OUT/job.out" "$OUT/job.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	run cat "$OUT/job.out"
	echo "$output"
	grep -qx 'batch: debian-12 srun-in-image=no' <<<"$output"
	# Both nodes run the image; the batch node's step sees the batch
	# script's file: it joined the batch step's container.
	[ "$(grep -c '^step: n[0-9]* debian-12 ' <<<"$output")" -eq 2 ]
	[ "$(grep -c 'marker=from-the-batch-step' <<<"$output")" -eq 1 ]
	grep -q '^hello from the shell-less image' <<<"$output"
	grep -qx 'state: RUNNING' <<<"$output"
	assert_clean
}

@test "the relay runs srun, sbatch, squeue, scontrol and scancel from an image without glibc or Slurm" {
	cat >"$OUT/relay.sh" <<-EOF
		#!/bin/sh
		#SBATCH -N2
		#SBATCH --container-image=$BB
		#SBATCH --container-mounts=$OUT
		test -e /lib/x86_64-linux-gnu/libc.so.6 && echo has-glibc || echo no-glibc
		test -e /usr/bin/srun && echo has-srun || echo no-srun
		srun -N2 -n2 --ntasks-per-node=1 --container-image=$IMG bash -c 'echo nested \$SLURM_PROCID \$(. /etc/os-release; echo \$ID)'
		echo "squeue: \$(squeue -h -j \$SLURM_JOB_ID -o %T)"
		echo "scontrol: \$(scontrol show job \$SLURM_JOB_ID | grep -o 'JobState=[A-Z]*')"
		srun -N1 -n1 sh -c 'exit 3'; echo "exit=\$?"
		echo hi | srun -N1 -n1 cat
		jid=\$(sbatch --parsable --hold --wrap true) && echo "sbatch=ok" && scancel "\$jid" && echo "scancel=ok"
		srun -N1 -n1 sh -c 'echo in-same-image \$CARINA_IMAGE'
	EOF
	chown "$CARINA_TEST_USER" "$OUT/relay.sh"
	run as_user sbatch --wait -o "$OUT/relay.out" "$OUT/relay.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	run cat "$OUT/relay.out"
	echo "$output"
	grep -qx no-glibc <<<"$output"
	grep -qx no-srun <<<"$output"
	[ "$(grep -c '^nested [01] debian$' <<<"$output")" -eq 2 ]
	grep -qx 'squeue: RUNNING' <<<"$output"
	grep -qx 'scontrol: JobState=RUNNING' <<<"$output"
	grep -qx 'exit=3' <<<"$output"
	grep -qx 'hi' <<<"$output"
	grep -qx 'sbatch=ok' <<<"$output"
	grep -qx 'scancel=ok' <<<"$output"
	grep -qx 'in-same-image busybox' <<<"$output"
	assert_clean
}

@test "a signal to a relayed srun reaches the real srun" {
	cat >"$OUT/sig.sh" <<-EOF
		#!/bin/sh
		#SBATCH -N1
		#SBATCH --container-image=$BB
		srun -n1 sleep 300 &
		pid=\$!
		sleep 3
		kill -TERM \$pid
		wait \$pid
		echo "srun-status=\$?"
	EOF
	chown "$CARINA_TEST_USER" "$OUT/sig.sh"
	start=$SECONDS
	run as_user sbatch --wait -o "$OUT/sig.out" "$OUT/sig.sh"
	run cat "$OUT/sig.out"
	echo "$output"
	grep -q 'srun-status=1[0-9][0-9]' <<<"$output"
	((SECONDS - start < 60))
	assert_clean
}

@test "--container-entrypoint runs the image's entrypoint once; its variables reach every task; -log shows it" {
	run as_user srun -N1 -n2 --container-image="$BB" sh -c 'echo "ep=${FROM_ENTRYPOINT:-unset}"'
	[ "$status" -eq 0 ]
	[ "$(grep -cx ep=unset <<<"$output")" -eq 2 ] # off by default, as in pyxis
	run as_user srun -N1 -n2 --container-image="$BB" --container-entrypoint --container-entrypoint-log sh -c 'echo "ep=${FROM_ENTRYPOINT:-unset}"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -cx ep=yes <<<"$output")" -eq 2 ]
	grep -q "entrypoint ran as uid $CARINA_TEST_UID" <<<"$output"
	rejected_at_submit srun -N1 --container-image="$BB" --container-entrypoint --no-container-entrypoint true
}

@test "a step can run outside the container of its containerised batch job" {
	cat >"$OUT/escape.sh" <<-EOF
		#!/bin/bash
		#SBATCH -N1
		#SBATCH --container-image=$IMG
		unset \${!SLURM_SPANK__SLURM_SPANK_OPTION_carina_@}
		srun bash -c 'test -e /usr/bin/srun && echo on-the-host || echo in-a-container'
	EOF
	chown "$CARINA_TEST_USER" "$OUT/escape.sh"
	run as_user sbatch --wait -o "$OUT/escape.out" "$OUT/escape.sh"
	[ "$status" -eq 0 ]
	run cat "$OUT/escape.out"
	echo "$output"
	grep -qx on-the-host <<<"$output"
	assert_clean
}
