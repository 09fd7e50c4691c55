#!/bin/bash
# packages.sh - install every Debian package that building carina and running the
# test cluster need (apt-get update only when something is missing). Root only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$HERE/lib.sh"
[[ $(id -u) -eq 0 ]] || die "must run as root"
mkdir -p "$LOG_DIR"

PACKAGES=(slurm-wlm slurmctld slurmd slurm-client libslurm-dev munge
	podman runc conmon uidmap fuse-overlayfs catatonit golang-github-containers-common
	docker-registry skopeo mmdebstrap busybox-static bats shellcheck jq squashfs-tools squashfuse
	gcc libc6-dev libseccomp-dev pkg-config curl ca-certificates procps util-linux passwd apache2-utils openssl
	mpich libmpich-dev libpmix-dev openmpi-bin libopenmpi-dev)
# shellcheck disable=SC2206  # word splitting of the extra list is intended
[[ -z ${CARINA_TEST_EXTRA_PACKAGES:-} ]] || PACKAGES+=(${CARINA_TEST_EXTRA_PACKAGES})

missing=()
for p in "${PACKAGES[@]}"; do
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) == installed ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	# Keep package scripts from starting daemons (munge, slurm*, docker-registry):
	# this script starts exactly what it needs itself.
	policy_added=0
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		policy_added=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	rc=0
	apt-get update -q >"$LOG_DIR/apt.log" 2>&1 &&
		apt-get install -y -q "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 || rc=$?
	((policy_added == 0)) || rm -f /usr/sbin/policy-rc.d
	if ((rc)); then
		tail -n 30 "$LOG_DIR/apt.log" >&2
		die "apt-get failed (full log: $LOG_DIR/apt.log)"
	fi
else
	log "packages present"
fi

