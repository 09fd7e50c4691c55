#!/usr/bin/env bats
# Who a task is inside, and how it is confined (issue 11): the host name
# of a private UTS namespace, --container-remap-root per step (also when
# joining a running named container), the home directory at /root for
# root, and joined tasks confined as podman exec confines a process of the
# container (capability bounding set, seccomp filter).

load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN
D=/tmp/carina-e2e-identity

setup_file() {
	as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	rm -rf "$D"
	install -d -o "$CARINA_TEST_USER" -m 0755 "$D"
}

teardown_file() {
	rm -rf "$D"
}

teardown() {
	sed -i '/^# e2e-seccomp$/,$d' /etc/carina/carina.toml
}

@test "--container-unshare=uts: the user sets the container's host name; the host's stays" {
	host=$(hostname)
	run as_user srun -N2 --container-image="$IMG" --container-unshare=uts bash -c 'hostname carina-uts-$SLURM_NODEID && hostname'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "carina-uts-0 carina-uts-1 " ]
	[ "$(hostname)" = "$host" ]
	# Without a UTS namespace of its own the host's name cannot be changed.
	run as_user srun -N1 --container-image="$IMG" bash -c 'hostname carina-not-allowed; echo status=$?; hostname'
	echo "$output"
	grep -q 'status=[1-9]' <<<"$output"
	[ "$(tail -n1 <<<"$output")" = "$host" ]
	[ "$(hostname)" = "$host" ]
	assert_clean
}

@test "--container-mount-home with --container-remap-root: the home is at /root and HOME=/root, as in pyxis" {
	as_user bash -c 'echo home-marker >~/.carina-e2e-remap-home'
	run as_user srun -N1 --container-image="$IMG" --container-mount-home --container-remap-root \
		bash -c 'echo "HOME=$HOME"; findmnt -n -o TARGET /root; cat /root/.carina-e2e-remap-home; id -u'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'HOME=/root\n/root\nhome-marker\n0')" ]
	# Without remap-root: at its own path, HOME unchanged, /root the image's.
	run as_user srun -N1 --container-image="$IMG" --container-mount-home \
		bash -c 'echo "HOME=$HOME"; cat "$HOME/.carina-e2e-remap-home"; findmnt -n /root || echo root-not-mounted'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'HOME=/home/%s\nhome-marker\nroot-not-mounted' "$CARINA_TEST_USER")" ]
	as_user rm -f "/home/$CARINA_TEST_USER/.carina-e2e-remap-home"
	assert_clean
}

@test "--container-remap-root applies per step, also to a step joining a running named container" {
	run as_user salloc -N1 bash -c "
		srun --container-image=$IMG --container-name=asroot --container-remap-root --container-mounts=$D:/out \
			bash -c 'echo created=\$(id -u); touch /out/by-root' &&
		srun --container-name=asroot --no-container-remap-root bash -c 'echo plain=\$(id -u); touch /out/by-plain' &&
		srun --container-name=asroot bash -c 'echo default=\$(id -u)' &&
		srun --container-name=asroot --container-remap-root bash -c 'echo again=\$(id -u)' &&
		srun --container-image=$IMG --container-name=asuser --container-mounts=$D:/out bash -c 'echo user=\$(id -u)' &&
		srun --container-name=asuser --container-remap-root bash -c 'echo remapped=\$(id -u) home=\$HOME; touch /out/by-remapped'"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'created=0' <<<"$output"
	grep -qx "plain=$CARINA_TEST_UID" <<<"$output"
	grep -qx "default=$CARINA_TEST_UID" <<<"$output"
	grep -qx 'again=0' <<<"$output"
	grep -qx "user=$CARINA_TEST_UID" <<<"$output"
	grep -q '^remapped=0 ' <<<"$output"
	# Whatever uid a step sees, what it writes to a mounted directory is the user's.
	[ "$(stat -c %U "$D/by-root" "$D/by-plain" "$D/by-remapped" | sort -u)" = "$CARINA_TEST_USER" ]
	assert_clean
}

# The confinement lines of /proc/PID/status.
confinement='^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):'

@test "joined tasks are confined as the container's own processes: bounding set, capabilities and seccomp filter" {
	# In the task: its own status, then that of the container's init (the
	# process podman started; host PID namespace), found by its command line.
	run as_user srun -N1 --container-image="$IMG" bash -c "
		grep -E '$confinement' /proc/self/status
		for p in /proc/[0-9]*; do
			[ \"\$(tr '\\0' ' ' <\$p/cmdline)\" = '/.carina-init -P ' ] && init=\$p
		done 2>/dev/null
		echo init
		grep -E '$confinement' \$init/status"
	echo "$output"
	[ "$status" -eq 0 ]
	task=$(sed -n '/^init$/q;p' <<<"$output")
	init=$(sed -n '/^init$/,$p' <<<"$output" | tail -n +2)
	[ -n "$task" ] && [ "$task" = "$init" ]
	grep -qE '^Seccomp:\s+2$' <<<"$task"
	grep -qE '^CapEff:\s+0+$' <<<"$task"
	! grep -qE '^CapBnd:\s+0*3?f{10}$' <<<"$task" # not the full set setns gives
	# As root inside (remap-root): the container root's capabilities, no more.
	run as_user srun -N1 --container-image="$IMG" --container-remap-root grep -E "$confinement" /proc/self/status
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qE '^Seccomp:\s+2$' <<<"$output"
	bnd=$(awk '/^CapBnd:/ {print $2}' <<<"$output")
	[ "$(awk '/^CapEff:/ {print $2}' <<<"$output")" = "$bnd" ]
	# The filter is podman's profile: move_pages (279 on x86_64) on no
	# pages succeeds for anyone on the host; the profile refuses it (EPERM).
	movepages='my $r = syscall(279, 0, 0, 0, 0, 0, 0); print "$r ", ($r < 0 ? $!+0 : 0), "\n"'
	[ "$(as_user perl -e "$movepages")" = "0 0" ]
	run as_user srun -N1 --container-image="$IMG" perl -e "$movepages"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "-1 1" ]
	assert_clean
}

@test "[security] seccomp = false: containers and joined tasks run without a filter" {
	printf '# e2e-seccomp\n[security]\nseccomp = false\n' >>/etc/carina/carina.toml
	run as_user srun -N1 --container-image="$IMG" bash -c "grep -E '^Seccomp:' /proc/self/status; perl -e '\$r = syscall(279, 0, 0, 0, 0, 0, 0); print \"\$r\\n\"'"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'Seccomp:\t0\n0')" ]
	assert_clean
}
