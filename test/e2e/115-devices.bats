#!/usr/bin/env bats
# CDI devices named by an environment file (devices = [...]) reach every
# node container. The cluster scripts install a CDI spec (kind
# carina.test/gpu, /etc/cdi/carina-test.json) mapping two fake GPU device
# files and injecting $CARINA_TEST_CDI_ENV with any of its devices. That
# variable reaches the container's init but not yet the joined tasks
# (their environment is built from the image's; issue 9's note), so the
# tests check the device nodes.

load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN
ENVS=/tmp/carina-e2e-devices
# shellcheck disable=SC2016 # expanded inside the container
SHOW='echo "node=$SLURMD_NODENAME devs=$(cd /dev && echo carina-fake-gpu*)"'

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
	[ "$(grep -c '^node=n[0-9]* devs=carina-fake-gpu1$' <<<"$output")" -eq 2 ]
	run as_user timeout 120 srun -N2 --container-image="$IMG" bash -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^node=n[0-9]* devs=carina-fake-gpu\*$' <<<"$output")" -eq 2 ]
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
