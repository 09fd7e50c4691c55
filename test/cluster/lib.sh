#!/bin/bash
# lib.sh - helpers shared by up.sh and down.sh (sourced, not run).
# shellcheck disable=SC2034  # constants are used by the scripts that source this file

CARINA_TEST_USER=carina
CARINA_TEST_USER2=carina2         # the other user of the isolation tests
CARINA_TEST_REGISTRY=127.0.0.1:5000
STATE_DIR=/run/carina-test          # pid files and markers of what up.sh started
LOG_DIR=/var/log/carina-test        # registry logs
VAR_DIR=/var/lib/carina-test        # registry storage and config
CACHE_DIR=/var/cache/carina-test    # built images (see images.sh)
RUNTIME_DIR=/run/carina             # plugin runtime_dir= (plugstack.conf)
STORE_DIR=/var/lib/carina           # plugin store_dir= (plugstack.conf)
IMAGE_STORE_BASE=/var/lib/carina-images # plugin image_store=<this>/{uid}: stands in for a shared filesystem
SITE_STORE=/var/lib/carina-site     # plugin site_image_store=: an admin's store every user reads
SITE_MOUNT=/var/lib/carina-test/site-mount     # carina.toml [mounts] default: mounted at /site everywhere
DENIED_MOUNT=/var/lib/carina-test/denied-mount # carina.toml [mounts] denied
HOST_LIB=/var/lib/carina-test/host-lib         # a host library dir the site config injects into every container
HOOKS_DIR=/etc/containers/oci/hooks.d          # the site's OCI hooks (containers.conf hooks_dir)
HOOK_MARKER_DIR=/var/lib/carina-test/hook-markers # the test hook writes one file per container start here
CDI_ENV=CARINA_TEST_CDI                       # the variable the test CDI spec injects with any of its GPUs
REGISTRY_LOG=$LOG_DIR/registry.log  # HTTP access log, combined format, one line per request
AUTH_REGISTRY=127.0.0.1:5001        # a second registry: TLS (the cluster's own CA in certs.d) and htpasswd
SLOW_REGISTRY=127.0.0.1:5003        # where a fault test runs test/slowregistry (plain HTTP, blobs held)
AUTH_DIR=$VAR_DIR/auth-registry     # its storage, certificates, htpasswd and the test password
AUTH_USER=carina-auth               # its one account (the password is made once, in $AUTH_DIR/password)
AUTH_IMAGE=$AUTH_REGISTRY/private/debian:12 # the debian test image, pushed there

_prog=$(basename "$0" .sh)
log() { printf 'cluster-%s: %s\n' "$_prog" "$*" >&2; }
die() { printf 'cluster-%s: ERROR: %s\n' "$_prog" "$*" >&2; exit 1; }

# gone PID: PID has exited (a zombie counts as gone: init here reaps slowly).
gone() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[[ ${stat%% *} == Z ]]
}

# pid_of FILE COMM: print the pid in FILE if that process is alive (not a zombie) and is COMM.
pid_of() {
	local file=$1 comm=$2 pid
	[[ -r $file ]] || return 1
	pid=$(tr -dc '0-9' <"$file")
	[[ -n $pid ]] || return 1
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
	! gone "$pid" || return 1
	printf '%s\n' "$pid"
}

# wait_gone PID SECONDS: wait until PID has exited; false if still there.
wait_gone() {
	local pid=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		gone "$pid" && return 0
		sleep 0.1
	done
	gone "$pid"
}

# stop_pidfile FILE COMM [GRACE]: SIGTERM the process of FILE (if it is COMM), SIGKILL
# after GRACE seconds (default 10), wait until it is gone, remove FILE.
stop_pidfile() {
	local file=$1 comm=$2 grace=${3:-10} pid
	if pid=$(pid_of "$file" "$comm"); then
		log "stopping $comm (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_gone "$pid" "$grace"; then
			log "$comm (pid $pid) ignored SIGTERM for ${grace}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			wait_gone "$pid" 10 || die "$comm (pid $pid) does not exit"
		fi
	fi
	rm -f "$file"
}

# user_pids UID: pids of every process running as UID or as a uid of its
# subordinate range (/etc/subuid; processes of rootless containers without keep-id).
user_pids() {
	local uid=$1 name range="" lo=-1 hi=-1
	name=$(getent passwd "$uid" | cut -d: -f1 || true)
	if [[ -f /etc/subuid ]]; then
		range=$(awk -F: -v u="$name" -v i="$uid" \
			'($1 == u || $1 == i) { print $2, $2 + $3; exit }' /etc/subuid)
	fi
	[[ -z $range ]] || read -r lo hi <<<"$range"
	ps -e -o pid=,uid=,stat= | awk -v u="$uid" -v lo="$lo" -v hi="$hi" \
		'($2 == u || ($2 >= lo && $2 < hi)) && $3 !~ /^Z/ { print $1 }'
}

# kill_user_processes UID: SIGTERM, 2 s grace, then SIGKILL (rootless podman's pause
# process ignores SIGTERM); wait until none is left.
kill_user_processes() {
	local uid=$1 pids i
	mapfile -t pids < <(user_pids "$uid")
	((${#pids[@]})) || return 0
	log "ending ${#pids[@]} process(es) of uid $uid"
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		mapfile -t pids < <(user_pids "$uid")
		((${#pids[@]})) || return 0
		sleep 0.1
	done
	kill -KILL "${pids[@]}" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		mapfile -t pids < <(user_pids "$uid")
		((${#pids[@]})) || return 0
		sleep 0.1
	done
	die "processes of uid $uid survive SIGKILL: ${pids[*]}"
}

# write_file PATH [MODE]: replace PATH with stdin when the content differs.
# Returns 0 if the file changed, 1 if it was already up to date.
write_file() {
	local path=$1 mode=${2:-0644} tmp
	tmp=$(mktemp "$path.XXXXXX")
	cat >"$tmp"
	chmod "$mode" "$tmp"
	if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
		rm -f "$tmp"
		return 1
	fi
	mv -f "$tmp" "$path"
	return 0
}
