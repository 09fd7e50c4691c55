#!/usr/bin/env bats
# The root side: nothing a user names is read as root, the node's identity
# comes from slurmd, settings that cannot travel never run on the host, no
# descriptor of slurmstepd reaches the user, and per-user directories are
# made without following what a user planted.
#
# A user who wants to forge what reaches the nodes runs srun without
# carina's plugin (their own slurm.conf naming an empty plugstack):
# forged_srun does that, so the job's environment arrives as the user
# wrote it (a hand-made CARINA_SPEC, carina's option variables).

load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN
SECRET=/root/carina-e2e-secret
SECRET_TEXT=CARINA_E2E_SECRET_7f3a
FORGE=/tmp/carina-e2e-forge

setup_file() {
	umask 077
	echo "SECRET = \"$SECRET_TEXT\"" >"$SECRET"
	chmod 0600 "$SECRET"
	rm -rf "$FORGE"
	install -d -o "$CARINA_TEST_USER" -m 0755 "$FORGE"
	grep -v '^PlugStackConfig' /etc/slurm/slurm.conf >"$FORGE/slurm.conf"
	echo "PlugStackConfig=$FORGE/plugstack.conf" >>"$FORGE/slurm.conf"
	: >"$FORGE/plugstack.conf"
	chmod 0644 "$FORGE/slurm.conf" "$FORGE/plugstack.conf"
	mkfifo -m 0666 "$FORGE/fifo"
}

# A test that planted another user's directory in place of the user's
# store takes it away again, whatever happened.
teardown() {
	if [[ -e $CARINA_TEST_IMAGE_STORE || -L $CARINA_TEST_IMAGE_STORE ]] &&
		[[ $(stat -c %U "$CARINA_TEST_IMAGE_STORE") != "$CARINA_TEST_USER" ]]; then
		rm -rf "$CARINA_TEST_IMAGE_STORE"
	fi
}

teardown_file() {
	rm -rf "$SECRET" "$FORGE" /root/carina-e2e-saved
}

# forged_srun SPEC ARGS...: srun as the user, without carina's plugin on
# the submit side, with SPEC as the job's CARINA_SPEC.
forged_srun() {
	local spec=$1
	shift
	as_user env SLURM_CONF="$FORGE/slurm.conf" CARINA_SPEC="$spec" timeout 60 srun "$@"
}

no_secret() {
	! grep -q "$SECRET_TEXT" <<<"$output" || { echo "the secret was shown" >&2; return 1; }
}

@test "a root-only file named in a forwarded option variable is never opened: the step fails closed" {
	# srun saw no container option: its nodes accept none (forwarded
	# options they get all the same are the user's hand-made ones).
	for var in _SLURM_SPANK_OPTION_carina_environment _SLURM_SPANK_OPTION_carina_container_mounts; do
		run timeout 30 runuser -u "$CARINA_TEST_USER" -- env "$var=$SECRET" srun -N1 sh -c 'echo ran-on-host'
		echo "$output"
		[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
		grep -q 'carina: this step carries carina options that srun, sbatch or salloc did not see (--' <<<"$output"
		! grep -q ran-on-host <<<"$output" || return 1
		no_secret
	done
	# Without srun's settings at all (srun without the plugin), an option
	# forwarded to the nodes fails closed too.
	run as_user env SLURM_CONF="$FORGE/slurm.conf" _SLURM_SPANK_OPTION_carina_environment="$SECRET" \
		timeout 60 srun -N1 sh -c 'echo ran-on-host'
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q 'carina: this step asks for a container but carries no settings from srun' <<<"$output"
	! grep -q ran-on-host <<<"$output" || return 1
	no_secret
	assert_clean
}

@test "a forged CARINA_SPEC naming root-only files reads none of them as root" {
	spec='{"cwd":"/","image":"'$IMG'","environment":"'$SECRET'","mounts":[{"source":"'$SECRET'","target":"/s"}],"save":"/root/carina-e2e-saved"}'
	run forged_srun "$spec" -N1 cat /s
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q "carina: --container-mounts: source $SECRET: permission denied" <<<"$output"
	no_secret
	[ ! -e /root/carina-e2e-saved ]
	assert_clean
}

@test "a forged CARINA_SPEC is decoded strictly: no field smuggles podman arguments" {
	spec='{"cwd":"/","image":"'$IMG'","environment":"'$SECRET'"}'
	run forged_srun "$spec" -N1 cat /etc/debian_version
	echo "$output"
	# The environment file's name is only recorded, never opened: the step
	# runs in the container.
	[ "$status" -eq 0 ]
	grep -q '^12\.' <<<"$output"
	no_secret
	for bad in '{"cwd":"/","image":"'$IMG'","mounts":[{"source":"/tmp:/etc","target":"/x"}]}' \
		'{"cwd":"/","image":"'$IMG'","mounts":[{"source":"/tmp","target":"/x,rw"}]}' \
		'{"cwd":"/","image":"'$IMG'","annotations":{"a=b":"c"}}' \
		'{"cwd":"/","image":"'$IMG'","privileged":true}'; do
		run forged_srun "$bad" -N1 sh -c 'echo ran-on-host'
		echo "$bad -> $output"
		[ "$status" -ne 0 ]
		grep -q 'carina: CARINA_SPEC: ' <<<"$output"
		! grep -q ran-on-host <<<"$output" || return 1
	done
	assert_clean
}

@test "a FIFO and /dev/zero named as environment files give a carina: line within seconds" {
	for f in "$FORGE/fifo" /dev/zero; do
		start=$SECONDS
		rejected_at_submit srun -N1 --environment="$f" true
		grep -q "carina: .*environment file $f: not a regular file" <<<"$output"
		((SECONDS - start < 15))
		# Forwarded to the nodes behind srun's back: refused unopened.
		start=$SECONDS
		run timeout 30 runuser -u "$CARINA_TEST_USER" -- env _SLURM_SPANK_OPTION_carina_environment="$f" srun -N1 true
		echo "$output"
		[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
		grep -q 'carina: this step carries carina options that srun, sbatch or salloc did not see (--environment)' <<<"$output"
		((SECONDS - start < 15))
	done
	assert_clean
}

@test "settings too large for Slurm to carry are refused at submit, and never run on the host" {
	# 700 tmpfs mounts with long targets: about 80 KiB of settings.
	long=$(printf 'd%.0s' {1..100})
	mounts=$(for i in $(seq 700); do printf 'tmpfs:/%s%d,' "$long" "$i"; done)
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts="${mounts%,}" true
	grep -q 'carina: the container settings are [0-9]* bytes' <<<"$output"
	# Forged past srun: a CARINA_SPEC over Slurm's limits, with the option
	# that asks for a container.
	big='{"cwd":"/","image":"'$IMG'","env":{"BIG":"'$(head -c 100000 /dev/zero | tr '\0' x)'"}}'
	run as_user env SLURM_CONF="$FORGE/slurm.conf" CARINA_SPEC="$big" \
		_SLURM_SPANK_OPTION_carina_container_image="$IMG" timeout 60 srun -N1 sh -c 'echo ran-on-host'
	echo "${output:0:2000}"
	[ "$status" -ne 0 ]
	grep -q 'carina: ' <<<"$output"
	! grep -q ran-on-host <<<"$output" || return 1
	assert_clean
}

@test "the node's name comes from slurmd: a forged SLURM_STEP_NODELIST leaves nothing on any node" {
	out=$(mktemp /tmp/carina-e2e-nodelist.XXXXXX)
	chown "$CARINA_TEST_USER" "$out"
	run as_user env SLURM_STEP_NODELIST=n2 sbatch --parsable -w n5 -o "$out" \
		--container-image="$IMG" --wrap 'ls /run/carina 2>&1; cat /etc/debian_version; sleep 5'
	[ "$status" -eq 0 ]
	job=$output
	running() { [[ $(store_containers n5 | grep -c "^carina-$job-n5-") -eq 1 ]]; }
	wait_for 60 running
	[ -z "$(store_containers n2)" ]
	ended() { [[ -z $(squeue -h -j "$job" 2>/dev/null) ]]; }
	wait_for 60 ended
	cat "$out"
	grep -q '^12\.' "$out"
	assert_clean
	# The epilog removes a container's state file just after podman has
	# removed the container: wait for it, as for the container.
	no_state() { [ -z "$(ls /run/carina/*/"$CARINA_TEST_UID"/*.json 2>/dev/null)" ]; }
	wait_for 30 no_state || { ls -l /run/carina/*/"$CARINA_TEST_UID"/ >&2; return 1; }
	for n in "${NODES[@]}"; do
		[ -z "$(ls "$CARINA_TEST_IMAGE_STORE"/carina/leases/*/"$n-$job" 2>/dev/null)" ]
	done
	rm -f "$out"
}

# procs_of NAME...: pid and user of every process with one of these names.
procs_of() {
	local re
	re=$(
		IFS='|'
		echo "$*"
	)
	ps -eo pid=,user:32=,comm= | awk -v re="^($re)$" '$3 ~ re { print $1, $2, $3 }'
}

@test "no descriptor of slurmstepd reaches podman, conmon, the init, the helper or the relay" {
	as_user srun -N2 -w n1,n2 --container-image="$IMG" sleep 20 3>&- &
	up() { [[ $(store_containers n1 | grep -c '^carina-') -ge 1 && $(store_containers n2 | grep -c '^carina-') -ge 1 ]] &&
		[[ -n $(procs_of conmon) ]]; }
	wait_for 60 up
	sleep 1
	# What slurmstepd (root) holds beyond its standard streams.
	declare -A stepd=()
	for p in $(pgrep -f '^slurmstepd: \['); do
		for f in /proc/"$p"/fd/*; do
			[[ ${f##*/} -gt 2 ]] || continue
			t=$(readlink "$f") || continue
			# Not shared objects: /dev/null, anonymous inodes, and the cgroup
			# files every Go program opens for itself (GOMAXPROCS).
			[[ $t == /dev/null || $t == anon_inode:* || $t == /sys/fs/cgroup/* ]] && continue
			stepd[$t]=1
		done
	done
	[ "${#stepd[@]}" -gt 0 ]
	leaks=0
	while read -r pid user comm; do
		for f in /proc/"$pid"/fd/*; do
			t=$(readlink "$f") || continue
			if [[ -n ${stepd[$t]:-} ]]; then
				echo "$comm ($pid, $user) holds slurmstepd's $t as fd ${f##*/}" >&2
				leaks=$((leaks + 1))
			fi
		done
	done < <(procs_of podman conmon catatonit carina squashfuse)
	wait
	[ "$leaks" -eq 0 ]
	assert_clean
}

@test "during a job every podman, conmon, catatonit, carina and squashfuse process runs as the job's user" {
	as_user srun -N2 -w n1,n2 --container-image="$IMG" sleep 15 3>&- &
	up() { [[ -n $(procs_of conmon) ]]; }
	wait_for 60 up
	run procs_of podman conmon catatonit carina squashfuse
	echo "$output"
	[ -n "$output" ]
	[ "$(awk -v u="$CARINA_TEST_USER" '$2 != u' <<<"$output" | wc -l)" -eq 0 ]
	wait
	assert_clean
}

@test "a store directory another user made or symlinked first is refused, not adopted" {
	base=$(dirname "$CARINA_TEST_IMAGE_STORE")
	[ "$(stat -c %a "$base")" = 1777 ]
	no_store
	runuser -u "$CARINA_TEST_USER2" -- mkdir "$CARINA_TEST_IMAGE_STORE"
	run as_user timeout 120 srun -N1 --container-image="$IMG" sh -c 'echo ran'
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q "carina: preparing the shared image store: $CARINA_TEST_IMAGE_STORE is owned by uid $CARINA_TEST_UID2" <<<"$output"
	[ "$(stat -c %U "$CARINA_TEST_IMAGE_STORE")" = "$CARINA_TEST_USER2" ]
	rm -rf "$CARINA_TEST_IMAGE_STORE"
	runuser -u "$CARINA_TEST_USER2" -- ln -s "/home/$CARINA_TEST_USER2" "$CARINA_TEST_IMAGE_STORE"
	run as_user timeout 120 srun -N1 --container-image="$IMG" sh -c 'echo ran'
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q "carina: preparing the shared image store: $CARINA_TEST_IMAGE_STORE is not a directory" <<<"$output"
	rm -f "$CARINA_TEST_IMAGE_STORE"
	# Once nothing is planted, carina makes it: the user's own, 0700.
	run as_user timeout 120 srun -N1 --container-image="$IMG" sh -c 'echo ran'
	[ "$status" -eq 0 ]
	[ "$(stat -c '%U %a' "$CARINA_TEST_IMAGE_STORE")" = "$CARINA_TEST_USER 700" ]
	assert_clean
}

as_user2() { (cd /tmp && runuser -u "$CARINA_TEST_USER2" -- "$@"); }
no_user2_procs() { [[ -z $(ps -u "$CARINA_TEST_USER2" -o stat=,pid= | awk '$1 !~ /^Z/') ]]; }

@test "another user cannot list, enter, read, stop or remove a user's container, store or sockets" {
	as_user srun -N1 -w n1 --container-name=iso --container-image="$IMG" \
		bash -c 'echo A-was-here >/tmp/marker; sleep 30' 3>&- &
	state() { ls /run/carina/n1/"$CARINA_TEST_UID"/carina-*-n1-n-iso.json 2>/dev/null | head -n1; }
	running() { [[ -n $(state) ]] && [[ -n $(node_podman n1 ps -q --filter name=-n-iso) ]]; }
	wait_for 90 running
	pid=$(jq -r .pid "$(state)")
	[ "$pid" -gt 1 ]
	# Listing, inspecting, stopping, removing through A's store.
	for verb in "ps -a" "inspect carina" "stop -a" "rm -af"; do
		# shellcheck disable=SC2086
		run as_user2 env XDG_RUNTIME_DIR="/run/user/$CARINA_TEST_UID2" podman \
			--root "/var/lib/carina/n1/$CARINA_TEST_UID/storage" --runroot "/run/carina/n1/$CARINA_TEST_UID/storage" $verb
		echo "podman $verb: $output"
		[ "$status" -ne 0 ]
		! grep -q 'carina-' <<<"$output" || return 1
	done
	# A's directories, image store, relay socket and root filesystem.
	for p in "/var/lib/carina/n1/$CARINA_TEST_UID" "/run/carina/n1/$CARINA_TEST_UID" "$CARINA_TEST_IMAGE_STORE" \
		"/proc/$pid/root/"; do
		run as_user2 ls "$p"
		echo "ls $p: $output"
		[ "$status" -ne 0 ]
		grep -q 'Permission denied' <<<"$output"
	done
	sock=$(find "/run/carina/n1/$CARINA_TEST_UID" -type s | head -n1)
	[ -n "$sock" ]
	run as_user2 stat "$sock"
	[ "$status" -ne 0 ]
	run as_user2 cat "/proc/$pid/root/tmp/marker"
	[ "$status" -ne 0 ]
	run as_user2 nsenter -t "$pid" -U -m true
	[ "$status" -ne 0 ]
	run as_user2 kill "$pid"
	[ "$status" -ne 0 ]
	# Pre-creating A's directories on the node is not possible either.
	run as_user2 mkdir "/run/carina/n2/$CARINA_TEST_UID"
	[ "$status" -ne 0 ]
	# B's container of the same name, on the same node, at the same time,
	# is B's own: A's file is not there, and both jobs work.
	run as_user2 timeout 120 srun -N1 -w n1 --container-name=iso --container-image="$IMG" \
		bash -c 'id -u; cat /tmp/marker 2>&1 || true'
	echo "B: $output"
	[ "$status" -eq 0 ]
	grep -qx "$CARINA_TEST_UID2" <<<"$output"
	! grep -q A-was-here <<<"$output" || return 1
	# A's container still runs, untouched.
	[ -n "$(node_podman n1 ps -q --filter name=-n-iso)" ]
	[ "$(as_user nsenter -t "$pid" -U -m --preserve-credentials cat /tmp/marker)" = A-was-here ]
	wait
	assert_clean
	wait_for 30 no_user2_procs
}

@test "a mount source is resolved once, as the user: podman mounts the very path that was checked" {
	real=/tmp/carina-e2e-mount-real
	link=/tmp/carina-e2e-mount-link
	rm -rf "$real" "$link"
	install -d -o "$CARINA_TEST_USER" "$real"
	echo checked >"$real/f"
	as_user ln -s "$real" "$link"
	as_user srun -N1 -w n1 --container-image="$IMG" --container-mounts="$link:/data" sleep 20 3>&- &
	name=
	up() { name=$(store_containers n1 | grep '^carina-' | head -n1) && [[ -n $name ]] &&
		[[ -n $(node_podman n1 ps -q --filter "name=$name") ]]; }
	wait_for 60 up
	run node_podman n1 inspect --format '{{range .Mounts}}{{.Source}}={{.Destination}} {{end}}' "$name"
	echo "$output"
	[ "$status" -eq 0 ]
	# podman was handed the resolved path, not the link the user could
	# point elsewhere after the check.
	grep -q "$real=/data" <<<"$output"
	! grep -q "$link" <<<"$output" || return 1
	wait
	assert_clean
	rm -rf "$real" "$link"
}
