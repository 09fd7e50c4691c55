# helpers.bash - shared by the end-to-end tests. They run on the real local
# cluster (test/cluster/up.sh): real slurmctld/slurmd, rootless podman and a
# real registry; nothing is faked.
# shellcheck shell=bash

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# shellcheck source=../cluster/env.sh
. "$REPO/test/cluster/env.sh"
CARINA_TEST_UID=$(id -u "$CARINA_TEST_USER")
NODES=()
for ((i = 1; i <= CARINA_TEST_NODES; i++)); do NODES+=("n$i"); done

# as_user CMD...: run CMD as the test user from a directory it can read.
as_user() {
	(cd /tmp && runuser -u "$CARINA_TEST_USER" -- "$@")
}

# user_procs: live processes of the test user (zombies waiting for PID 1
# to reap them are not processes that run).
user_procs() {
	ps -u "$CARINA_TEST_USER" -o stat=,pid=,args= | awk '$1 !~ /^Z/'
}

# store_containers NODE: names of the containers recorded in the node's
# store, read from the store itself so that no podman process is started.
store_containers() {
	local f=/var/lib/carina/$1/$CARINA_TEST_UID/storage/overlay-containers/containers.json
	[[ -s $f ]] || return 0
	jq -r '.[].names[]' "$f"
}

# node_podman NODE ARGS...: podman as the test user on NODE's store.
node_podman() {
	local node=$1
	shift
	as_user env XDG_RUNTIME_DIR="/run/carina/$node/$CARINA_TEST_UID" HOME="/home/$CARINA_TEST_USER" \
		podman --root "/var/lib/carina/$node/$CARINA_TEST_UID/storage" \
		--runroot "/run/carina/$node/$CARINA_TEST_UID/storage" --storage-driver overlay "$@"
}

# wait_for SECONDS CMD...: poll CMD until it succeeds; fail after SECONDS.
wait_for() {
	local limit=$1
	shift
	local end=$((SECONDS + limit))
	until "$@"; do
		if ((SECONDS >= end)); then
			echo "timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.5
	done
}

no_user_procs() { [[ -z $(user_procs) ]]; }

no_carina_containers() {
	local n
	for n in "${NODES[@]}"; do
		[[ -z $(store_containers "$n" | grep '^carina-') ]] || return 1
	done
}

all_nodes_idle() {
	[[ $(sinfo -h -N -o '%N %t' | awk '$2 != "idle"' | wc -l) -eq 0 ]]
}

# after_job: what every test checks once its job ended.
assert_clean() {
	wait_for 30 no_user_procs || { user_procs >&2; return 1; }
	wait_for 30 no_carina_containers || { for n in "${NODES[@]}"; do store_containers "$n"; done >&2; return 1; }
	wait_for 30 all_nodes_idle || { sinfo >&2; return 1; }
}

log_lines() { wc -l <"$CARINA_TEST_REGISTRY_LOG"; }

# carina ARGS...: the installed helper's CLI, as the test user.
carina() { as_user /usr/local/lib/carina/carina "$@"; }

# no_store: the user has no image store yet, so srun cannot pre-pull and the
# nodes pull themselves (one of them, under the store's lock).
no_store() {
	wait_for 30 no_user_procs
	rm -rf "$CARINA_TEST_IMAGE_STORE"
}

# empty_store: the store directory exists (writable from the submit host)
# but holds no image: srun pulls it, with progress, before the tasks start.
# carina makes the directory, as at a user's first job: a step from an
# image file (no pull) has the node's root side make it.
empty_store() {
	no_store
	as_user srun -N1 --container-image="$CARINA_TEST_FILE_SQUASHFS" true
	[ "$(stat -c '%U %a' "$CARINA_TEST_IMAGE_STORE")" = "$CARINA_TEST_USER 700" ]
	# Its epilog runs the helper as the user after srun returned (the node
	# stays completing until it is done); a test that then kills the
	# user's processes (pkill -u) must not hit it.
	wait_for 30 all_nodes_idle
	wait_for 30 no_user_procs
}


# last_job_id: the highest job id slurmctld knows (finished jobs stay
# listed for MinJobAge), to prove that a rejected command allocated nothing.
last_job_id() {
	scontrol -o show jobs 2>/dev/null | grep -o '^JobId=[0-9]*' | cut -d= -f2 | sort -n | tail -n1
}

# rejected_at_submit CMD...: CMD (run as the user) must fail with a
# carina: line, quickly, without creating a job.
rejected_at_submit() {
	local before after
	before=$(last_job_id)
	run timeout 30 runuser -u "$CARINA_TEST_USER" -- "$@"
	echo "$output"
	[ "$status" -ne 0 ] || { echo "expected a failure" >&2; return 1; }
	grep -q 'carina: ' <<<"$output" || { echo "no carina: line" >&2; return 1; }
	after=$(last_job_id)
	[ "$before" = "$after" ] || { echo "a job was created: $before -> $after" >&2; return 1; }
}
