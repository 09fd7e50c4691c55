#!/bin/bash
# down.sh - stop the carina test cluster started by up.sh (idempotent; run as root).
# Leaves no daemon, no process of the test user (nor of its subordinate uids), no mount
# under /run/carina or /var/lib/carina, and removes /run/carina. Keeps the image cache,
# the registry storage, the logs and the configuration files, so the next up.sh is fast.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$HERE/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"

# The helper the plugin was configured with (env.sh is written by up.sh).
BUILD_DIR=${CARINA_BUILD_DIR:-$REPO/build}
if [[ -f $HERE/env.sh ]]; then
	BUILD_DIR=$(sed -n 's/^export CARINA_BUILD_DIR=//p' "$HERE/env.sh")
fi
HELPER=$(realpath -m "$BUILD_DIR/carina")

# pids_where_comm COMM: pids of the processes named COMM.
pids_where_comm() {
	ps -e -o pid=,stat=,comm= | awk -v c="$1" '$3 == c && $2 !~ /^Z/ { print $1 }'
}

# pids_where_exe PATH: pids of the processes running the executable PATH.
pids_where_exe() {
	local d pid
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[[ $(readlink "$d/exe" 2>/dev/null) == "$1" ]] && printf '%s\n' "$pid"
	done
	return 0
}

# end_pids WHAT PID...: SIGTERM, 5 s grace, SIGKILL, wait.
end_pids() {
	local what=$1 pid
	shift
	(($#)) || return 0
	log "ending $# $what process(es): $*"
	kill -TERM "$@" 2>/dev/null || true
	for pid in "$@"; do
		wait_gone "$pid" 5 && continue
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" 10 || die "$what (pid $pid) does not exit"
	done
}

# 1. Jobs: cancel them while slurmctld still answers, so their steps end normally.
if pid_of /run/slurmctld.pid slurmctld >/dev/null && scontrol ping 2>/dev/null | grep -q 'is UP'; then
	mapfile -t jobs < <(squeue -h -o %A 2>/dev/null || true)
	if ((${#jobs[@]})); then
		log "cancelling ${#jobs[@]} job(s)"
		scancel "${jobs[@]}" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			[[ -z $(squeue -h -o %A 2>/dev/null) ]] && break
			sleep 0.2
		done
	fi
fi

# 2. slurmd's, then any step daemon left over, then slurmctld.
shopt -s nullglob
for f in "$STATE_DIR"/slurmd-*.pid /run/slurmd-*.pid; do
	stop_pidfile "$f" slurmd 10
done
shopt -u nullglob
mapfile -t pids < <(pids_where_comm slurmstepd)
end_pids slurmstepd "${pids[@]}"
stop_pidfile "$STATE_DIR/slurmctld.pid" slurmctld 10
stop_pidfile /run/slurmctld.pid slurmctld 10

# 3. Everything of the test user (podman pause processes, conmon, containers) and any
# carina helper left running.
if uid=$(id -u "$CARINA_TEST_USER" 2>/dev/null); then
	kill_user_processes "$uid"
fi
mapfile -t pids < <(pids_where_exe "$HELPER")
end_pids "carina helper" "${pids[@]}"

# 4. Registry and munged (munged only if up.sh started it).
stop_pidfile "$STATE_DIR/registry.pid" docker-registry 5
stop_pidfile "$STATE_DIR/auth-registry.pid" docker-registry 5
stop_pidfile "$STATE_DIR/munged.pid" munged 5

# 5. Mounts left by containers or the plugin, deepest first, then /run/carina.
mapfile -t mounts < <(findmnt -rn -o TARGET | awk -v a="$RUNTIME_DIR" -v b="$STORE_DIR" \
	'$0 == a || index($0, a "/") == 1 || $0 == b || index($0, b "/") == 1' | sort -r)
for m in "${mounts[@]}"; do
	m=$(printf '%b' "$m") # findmnt -r escapes blanks as \x20
	log "unmounting $m"
	umount -l "$m" || die "cannot unmount $m"
done
rm -rf "$RUNTIME_DIR"

# 6. /dev/mqueue, only if up.sh mounted it.
if [[ -f $STATE_DIR/mqueue.mounted ]]; then
	if mountpoint -q /dev/mqueue; then
		log "unmounting /dev/mqueue"
		umount /dev/mqueue
	fi
	rm -f "$STATE_DIR/mqueue.mounted"
fi

rm -f "$STATE_DIR"/*.pid
rmdir "$STATE_DIR" 2>/dev/null || true
log "down"
