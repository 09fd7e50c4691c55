#!/usr/bin/env bats
# GPUs and CDI devices in the node containers. The cluster scripts give
# every node two fake GPUs as Slurm GRES (gres.conf, /dev/carina-fake-gpu0
# and 1), a CDI spec (kind carina.test/gpu, /etc/cdi/carina-test.json)
# that maps them and injects $CARINA_TEST_CDI_ENV with any of its devices,
# and the site config's [gpu] cdi_kind = "carina.test/gpu". The step's
# GPUs on a node (all of them, whatever each task is bound to) and an
# environment file's devices = [...] reach the node container through
# CDI; every joined task sees the device nodes and the CDI spec's
# variable, and keeps its own CUDA_VISIBLE_DEVICES.

load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN
ENVS=/tmp/carina-e2e-devices
GRES=$CARINA_TEST_GPU_GRES
# shellcheck disable=SC2016 # expanded inside the container
SHOW='echo "node=$SLURMD_NODENAME devs=$(cd /dev && echo carina-fake-gpu*) cdi=${'"$CARINA_TEST_CDI_ENV"':-unset}"'
# shellcheck disable=SC2016 # expanded in the task
TASK='echo "rank=$SLURM_PROCID node=$SLURMD_NODENAME cvd=${CUDA_VISIBLE_DEVICES:-unset} step_gpus=${SLURM_STEP_GPUS:-unset}"'

setup_file() {
	rm -rf "$ENVS"
	install -d -m 0755 "$ENVS"
	printf 'image = "%s"\ndevices = ["carina.test/gpu=1"]\n' "$IMG" >"$ENVS/gpu1.toml"
	printf 'image = "%s"\ndevices = ["carina.test/gpu=7"]\n' "$IMG" >"$ENVS/gpu7.toml"
	printf 'image = "%s"\ndevices = ["/dev/carina-fake-gpu0"]\n' "$IMG" >"$ENVS/hostpath.toml"
	chmod 0644 "$ENVS"/*.toml
}

teardown_file() {
	rm -rf "$ENVS"
}

@test "an environment file's CDI device reaches every node container, and only that one; without it, none" {
	run as_user timeout 120 srun -N2 --environment="$ENVS/gpu1.toml" bash -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^node=n[0-9]* devs=carina-fake-gpu1 cdi=carina-test-cdi$' <<<"$output")" -eq 2 ]
	run as_user timeout 120 srun -N2 --container-image="$IMG" bash -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^node=n[0-9]* devs=carina-fake-gpu\* cdi=unset$' <<<"$output")" -eq 2 ]
	assert_clean
}

@test "a CDI device no spec defines gives a carina: line naming it and the file, and leaves no container" {
	run as_user timeout 120 srun -N1 --environment="$ENVS/gpu7.toml" true
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q "carina: .*environment file $ENVS/gpu7.toml asks for the CDI devices carina.test/gpu=7" <<<"$output"
	assert_clean
}

@test "a host path as a device is refused at submit with a carina: line" {
	run as_user timeout 60 srun -N1 --environment="$ENVS/hostpath.toml" true
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q 'carina: .*hostpath.toml:2: devices: device "/dev/carina-fake-gpu0": want a CDI device name' <<<"$output"
	assert_clean
}

@test "--gres: every task on every node sees all of the step's GPUs there and the CDI spec's variable" {
	run as_user timeout 120 srun -N2 -n4 --gres="$GRES" --container-image="$IMG" bash -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^node=n[0-9]* devs=carina-fake-gpu0 carina-fake-gpu1 cdi=carina-test-cdi$' <<<"$output")" -eq 4 ]
	[ "$(grep -o 'node=n[0-9]*' <<<"$output" | sort -u | wc -l)" -eq 2 ]
	# One GPU of two: the container holds the one Slurm gave the step.
	# shellcheck disable=SC2016 # expanded in the task
	run as_user timeout 120 srun -N1 -n1 --gres=gpu:1 --container-image="$IMG" \
		bash -c 'echo "step=$SLURM_STEP_GPUS devs=$(cd /dev && echo carina-fake-gpu*)"'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ step=([0-9]+)\ devs=carina-fake-gpu([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	assert_clean
}

@test "--gpus-per-task=1: each task sees all of its node's step GPUs and keeps its own CUDA_VISIBLE_DEVICES" {
	want=$(as_user timeout 60 srun -w n1 -N1 -n2 --gpus-per-task=1 bash -c "$TASK" | sort)
	echo "bare: $want"
	[ "$(wc -l <<<"$want")" -eq 2 ]
	[ "$(grep -c 'cvd=[01] ' <<<"$want")" -eq 2 ]
	[ "$(sed -n 's/.* cvd=\([^ ]*\) .*/\1/p' <<<"$want" | sort -u | wc -l)" -eq 2 ]
	run as_user timeout 120 srun -w n1 -N1 -n2 --gpus-per-task=1 --container-image="$IMG" \
		bash -c "$TASK; $SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep '^rank=' <<<"$output" | sort)" = "$want" ]
	[ "$(grep -c '^node=n1 devs=carina-fake-gpu0 carina-fake-gpu1 cdi=carina-test-cdi$' <<<"$output")" -eq 2 ]
	assert_clean
}
