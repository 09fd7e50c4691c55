#!/bin/bash
# up.sh - bring up the carina test cluster on this machine (idempotent; run as root on
# Debian 12). See README.md in this directory.
#
# Environment:
#   CARINA_BUILD_DIR    directory with spank_carina.so and carina (default <repo>/build)
#   CARINA_TEST_NODES   number of Slurm nodes n1..nN, one slurmd each (default 3)
#   CARINA_TEST_CPUS    CPUs= of every node (default 2)
#   CARINA_NO_PLUGIN=1  debugging override: write an EMPTY plugstack.conf (no carina
#                       plugin loaded), so the cluster comes up before the plugin is built
#   CARINA_TEST_SLURMD_DEBUG   SlurmdDebug= level (default info; e.g. debug2)
#   CARINA_TEST_EXTRA_PACKAGES extra Debian packages to install (space separated)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$HERE/lib.sh"

START=$SECONDS
BUILD_DIR=$(realpath -m "${CARINA_BUILD_DIR:-$REPO/build}")
NODES=${CARINA_TEST_NODES:-3}
CPUS=${CARINA_TEST_CPUS:-2}
NO_PLUGIN=${CARINA_NO_PLUGIN:-0}
SLURMD_DEBUG=${CARINA_TEST_SLURMD_DEBUG:-info}
FIRST_PORT=17001
HOST=$(hostname -s)

[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ $NODES =~ ^[1-9][0-9]*$ && $NODES -le 64 ]] || die "CARINA_TEST_NODES must be 1..64, got '$NODES'"
[[ $CPUS =~ ^[1-9][0-9]*$ ]] || die "CARINA_TEST_CPUS must be a positive integer, got '$CPUS'"

PLUGIN=$BUILD_DIR/spank_carina.so
HELPER=$BUILD_DIR/carina
if [[ $NO_PLUGIN != 1 ]]; then
	[[ -f $PLUGIN ]] || die "$PLUGIN does not exist: build first (make), or set CARINA_BUILD_DIR (or CARINA_NO_PLUGIN=1 to debug the cluster without the plugin)"
	[[ -x $HELPER ]] || die "$HELPER does not exist or is not executable: build first (make)"
fi

mkdir -p "$STATE_DIR" "$LOG_DIR" "$VAR_DIR" "$CACHE_DIR"

# ---------------------------------------------------------------------------------
# Packages
"$HERE/packages.sh"

# ---------------------------------------------------------------------------------
# munge
if munge -n </dev/null >/dev/null 2>&1; then
	log "munged running"
else
	[[ -s /etc/munge/munge.key ]] || die "/etc/munge/munge.key is missing (the munge package creates it)"
	install -d -o munge -g munge -m 0755 /run/munge
	log "starting munged"
	munged --force 2>>"$LOG_DIR/munged.err" || { cat "$LOG_DIR/munged.err" >&2; die "munged failed to start"; }
	for ((i = 0; i < 50; i++)); do
		munge -n </dev/null >/dev/null 2>&1 && break
		sleep 0.1
	done
	munge -n </dev/null >/dev/null 2>&1 || die "munged does not answer; see /var/log/munge/munged.log"
	cp /run/munge/munged.pid "$STATE_DIR/munged.pid"
fi

# ---------------------------------------------------------------------------------
# Test users, each with subordinate ids and a runtime directory (no systemd
# login here). The second one is the other user of the isolation tests.
setup_user() {
	local name=$1 f start
	if ! id "$name" >/dev/null 2>&1; then
		log "creating user $name"
		useradd -m -s /bin/bash "$name"
	fi
	for f in /etc/subuid /etc/subgid; do
		touch "$f"
		if ! grep -q "^$name:" "$f"; then
			start=$(awk -F: 'BEGIN { m = 100000 } $2 + $3 > m { m = $2 + $3 } END { print m }' "$f")
			log "adding $f range $start-$((start + 65535)) for $name"
			if [[ $f == /etc/subuid ]]; then
				usermod --add-subuids "$start-$((start + 65535))" "$name"
			else
				usermod --add-subgids "$start-$((start + 65535))" "$name"
			fi
		fi
		grep -q "^$name:[0-9]*:[1-9]" "$f" || die "no $f range for $name"
	done
	install -d -m 0755 /run/user
	install -d -o "$name" -g "$name" -m 0700 "/run/user/$(id -u "$name")"
}
setup_user "$CARINA_TEST_USER"
setup_user "$CARINA_TEST_USER2"
TEST_UID=$(id -u "$CARINA_TEST_USER")
TEST_UID2=$(id -u "$CARINA_TEST_USER2")
XDG_DIR=/run/user/$TEST_UID

# ---------------------------------------------------------------------------------
# Podman (rootless) configuration; see /work/shared/ENVIRONMENT.md for why.
mkdir -p /etc/containers/registries.conf.d
write_file /etc/containers/containers.conf <<'EOF' || true
# Written by carina test/cluster/up.sh
[containers]
# no CAP_SYS_RESOURCE here: podman's default ulimits fail with EPERM
default_ulimits = []
# no journald here
log_driver = "k8s-file"

[engine]
# crun fails here ("cgroups in hybrid mode not supported")
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
# the site's OCI hooks (the test hook below)
hooks_dir = ["/usr/share/containers/oci/hooks.d", "/etc/containers/oci/hooks.d"]
EOF
# A test OCI hook, as a site installs one: it runs (prestart, as the job
# user under rootless podman) only for containers whose annotations ask for
# it, writes one marker file per container start, and fails the start on
# request (com.carina.test.hook=fail).
install -d -m 0755 "$HOOKS_DIR" /usr/local/lib/carina-test
install -d -m 1777 "$HOOK_MARKER_DIR"
chmod 1777 "$HOOK_MARKER_DIR"
write_file /usr/local/lib/carina-test/hook.sh 0755 <<'EOF' || true
#!/bin/sh
# carina test OCI hook (test/cluster/up.sh): $1 is the marker directory.
state=$(cat)
case $state in
*'"com.carina.test.hook":"fail"'*)
	echo "carina test hook: refusing this container, as its annotation asks" >&2
	exit 1
	;;
esac
printf '%s\n' "$state" >"$1/marker.$(date +%s%N).$$"
EOF
jq -n --arg dir "$HOOK_MARKER_DIR" '{
	version: "1.0.0",
	hook: {path: "/usr/local/lib/carina-test/hook.sh", args: ["hook.sh", $dir]},
	when: {annotations: {"^com\\.carina\\.test\\.hook$": "^(on|fail)$"}},
	stages: ["prestart"]
}' | write_file "$HOOKS_DIR/50-carina-test.json" 0644 || true
# The simulation's own hook, not a site's: the nodes of this cluster share
# one kernel, so without it every node container would see one host's
# /dev/shm, where Open MPI's shared-memory segments of different nodes
# (named after the host name, the job and the local rank) collide. It
# mounts a /dev/shm of its own in every carina container (entrypoint
# /.carina-init), as each node of a real cluster has; the tasks of a node
# share it. createContainer: in the container's namespaces, before
# pivot_root, with the container's root as working directory; a command
# the hook runs by name is looked up in the image, which may have none (the
# shell-less image), so the hook is the host's static busybox itself.
rm -f /usr/local/lib/carina-test/sim-node.sh # the earlier, shell form
jq -n '{
	version: "1.0.0",
	hook: {path: "/bin/busybox", args: ["busybox", "mount", "-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "carina-sim-shm", "dev/shm"]},
	when: {commands: ["^/\\.carina-init$"]},
	stages: ["createContainer"]
}' | write_file "$HOOKS_DIR/40-carina-sim-node.json" 0644 || true
# Fake GPUs for Slurm's GRES and a CDI spec that maps them (what
# nvidia-ctk cdi generate writes on a GPU node): character devices with
# /dev/null's numbers, two per node, and one variable the spec injects.
for g in 0 1; do
	[[ -c /dev/carina-fake-gpu$g ]] || mknod -m 0666 "/dev/carina-fake-gpu$g" c 1 3
done
install -d -m 0755 /etc/cdi
jq -n --arg env "$CDI_ENV=carina-test-cdi" '{
	cdiVersion: "0.5.0",
	kind: "carina.test/gpu",
	devices: [range(2) | {name: "\(.)", containerEdits: {deviceNodes: [{path: "/dev/carina-fake-gpu\(.)"}]}}],
	containerEdits: {env: [$env]}
}' | write_file /etc/cdi/carina-test.json 0644 || true
write_file /etc/containers/storage.conf <<'EOF' || true
# Written by carina test/cluster/up.sh: overlay (rootless podman would pick vfs).
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF
# The test user's own storage.conf: newer containers/storage (carina's helper,
# reading the user's podman store for containers-storage: images) would
# otherwise apply root's graphroot above to the user as well.
for u in "$CARINA_TEST_USER" "$CARINA_TEST_USER2"; do
	install -d -o "$u" -g "$u" -m 0700 "/home/$u/.config" "/home/$u/.config/containers"
	write_file "/home/$u/.config/containers/storage.conf" <<EOF || true
# Written by carina test/cluster/up.sh
[storage]
driver = "overlay"
runroot = "/run/user/$(id -u "$u")/containers"
graphroot = "/home/$u/.local/share/containers/storage"
EOF
	chown "$u:" "/home/$u/.config/containers/storage.conf"
done
write_file /etc/containers/registries.conf.d/50-carina-test.conf <<EOF || true
# Written by carina test/cluster/up.sh: the test registry speaks plain HTTP.
[[registry]]
location = "$CARINA_TEST_REGISTRY"
insecure = true

# A fault test's slow front of the test registry (test/slowregistry).
[[registry]]
location = "$SLOW_REGISTRY"
insecure = true

# A short-name alias, so that tests can show registries.conf is honoured.
[aliases]
"carina/debian" = "$CARINA_TEST_REGISTRY/debian"
EOF
# --ipc=host needs /dev/mqueue; down.sh unmounts it only if we mounted it.
if ! mountpoint -q /dev/mqueue 2>/dev/null; then
	log "mounting /dev/mqueue"
	mkdir -p /dev/mqueue
	mount -t mqueue mqueue /dev/mqueue
	touch "$STATE_DIR/mqueue.mounted"
fi
# unprivileged squashfuse / fuse-overlayfs need to open /dev/fuse
[[ ! -c /dev/fuse ]] || chmod 0666 /dev/fuse

# ---------------------------------------------------------------------------------
# Slurm
mkdir -p /etc/slurm /var/log/slurm /var/spool/slurmctld
slurm_conf() {
	cat <<EOF
# Written by carina test/cluster/up.sh ($NODES nodes on one host, one slurmd each)
ClusterName=carina
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=6817
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
GresTypes=gpu
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
PlugStackConfig=/etc/slurm/plugstack.conf
ReturnToService=2
# the node definitions below are authoritative (more nodes than cores on one host)
SlurmdParameters=config_overrides
SlurmctldPidFile=/run/slurmctld.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd/%n
SlurmdPidFile=/run/slurmd-%n.pid
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
SlurmdDebug=$SLURMD_DEBUG
SlurmctldDebug=info
# per-node TmpFS (Open MPI's pmix needs distinct ones when nodes share a host)
TmpFS=/tmp/slurm-%n
# short timeouts: fast tests
KillWait=2
MinJobAge=60
InactiveLimit=0
Waittime=0
CompleteWait=0
SlurmdTimeout=30
SlurmctldTimeout=30
MessageTimeout=10
UnkillableStepTimeout=60
EOF
	for ((n = 1; n <= NODES; n++)); do
		echo "NodeName=n$n NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((FIRST_PORT + n - 1)) CPUs=$CPUS Gres=gpu:2 State=UNKNOWN"
	done
	echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4"
}
if write_file /etc/slurm/slurm.conf < <(slurm_conf); then conf_changed=1; else conf_changed=0; fi
# every node's two fake GPUs (all nodes share this host's files)
if echo "Name=gpu File=/dev/carina-fake-gpu[0-1]" | write_file /etc/slurm/gres.conf 0644; then conf_changed=1; fi

if [[ $NO_PLUGIN == 1 ]]; then
	log "CARINA_NO_PLUGIN=1: empty plugstack.conf (the carina plugin is NOT loaded)"
	: | write_file /etc/slurm/plugstack.conf || true
else
	# The site configuration file, root-owned as the plugin requires; the
	# plugstack line names it and overrides one key (helper), the way a
	# site would.
	install -d -m 0755 /etc/carina "$SITE_MOUNT" "$DENIED_MOUNT" "$HOST_LIB"
	# A host library, as a site injects a host MPI or driver stack: the
	# site config mounts its directory in every container and puts it on
	# LD_LIBRARY_PATH; host-lib-probe in the MPI images loads it.
	printf '%s\n' 'const char *carina_host_hello(void) { return "host library loaded from the site stack"; }' \
		>"$HOST_LIB/host.c"
	gcc -O2 -shared -fPIC -o "$HOST_LIB/libcarinahost.so.tmp" "$HOST_LIB/host.c"
	chmod 0755 "$HOST_LIB/libcarinahost.so.tmp"
	mv -f "$HOST_LIB/libcarinahost.so.tmp" "$HOST_LIB/libcarinahost.so"
	# The users' shared image stores live below this base, as on a shared
	# scratch filesystem: world-writable and sticky. carina (root on each
	# node, fd by fd) makes each user's directory in it.
	install -d -m 1777 "$IMAGE_STORE_BASE"
	chmod 1777 "$IMAGE_STORE_BASE"
	# The admin's site store: root's, every user reads it (carina pull
	# --site fills it). The site's environment files (environments_dir).
	install -d -m 0755 "$SITE_STORE" /etc/carina/environments
	echo "a file every container sees at /site" >"$SITE_MOUNT/README"
	cat <<-EOF | write_file /etc/carina/carina.toml 0644 || true
		# carina's test cluster (test/cluster/up.sh)
		helper = "/nonexistent/overridden/on/the/plugstack/line"
		runtime_dir = "$RUNTIME_DIR"
		store_dir = "$STORE_DIR"
		image_store = "$IMAGE_STORE_BASE/{uid}"
		site_image_store = "$SITE_STORE"
		[podman]
		extra_flags = ["--log-level=error"]
		[mounts]
		default = ["$SITE_MOUNT:/site:ro", "$HOST_LIB:/opt/carina-host:ro"]
		denied = ["/etc/shadow", "$DENIED_MOUNT"]
		[env]
		LD_LIBRARY_PATH = "/opt/carina-host"
		# The simulated nodes share one kernel, so UCX (MPICH's and Open
		# MPI's transport layer) takes their containers for one host and
		# picks shared-memory transports that reach into a peer process
		# (posix through /proc/PID/fd, cma), which the kernel refuses
		# across user namespaces. SysV segments (--ipc=host) work between
		# them; tcp would be used between real hosts.
		UCX_TLS = "self,sysv,tcp"
		# The fake GPUs' CDI spec (/etc/cdi/carina-test.json, above).
		[gpu]
		cdi_kind = "carina.test/gpu"
	EOF
	chown root:root /etc/carina/carina.toml
	echo "required $PLUGIN config=/etc/carina/carina.toml helper=$HELPER" |
		write_file /etc/slurm/plugstack.conf || true
fi
for ((n = 1; n <= NODES; n++)); do
	mkdir -p "/var/spool/slurmd/n$n"
	install -d -m 1777 "/tmp/slurm-n$n"
	chmod 1777 "/tmp/slurm-n$n"
done

# slurmctld: keep a running one unless slurm.conf changed.
if pid=$(pid_of /run/slurmctld.pid slurmctld) && ((conf_changed)); then
	log "slurm.conf changed: restarting slurmctld"
	stop_pidfile /run/slurmctld.pid slurmctld 10
fi
if pid=$(pid_of /run/slurmctld.pid slurmctld); then
	log "slurmctld running (pid $pid)"
else
	log "starting slurmctld"
	slurmctld -i
fi
for ((i = 0; i < 100; i++)); do
	scontrol ping 2>/dev/null | grep -q 'is UP' && break
	sleep 0.2
done
if ! scontrol ping 2>/dev/null | grep -q 'is UP'; then
	tail -n 20 /var/log/slurm/slurmctld.log >&2 || true
	die "slurmctld does not answer"
fi
cp /run/slurmctld.pid "$STATE_DIR/slurmctld.pid"

# slurmd: always restart, so that a rebuilt plugin and plugstack.conf are loaded.
shopt -s nullglob
for f in /run/slurmd-*.pid "$STATE_DIR"/slurmd-*.pid; do
	stop_pidfile "$f" slurmd 10
done
shopt -u nullglob
log "starting $NODES slurmd"
for ((n = 1; n <= NODES; n++)); do
	slurmd -N "n$n" || {
		tail -n 20 "/var/log/slurm/slurmd-n$n.log" >&2 || true
		die "slurmd -N n$n failed"
	}
done

# ---------------------------------------------------------------------------------
# OCI registry on 127.0.0.1:5000 (own config; access log -> $REGISTRY_LOG)
REG_CONF=$VAR_DIR/registry.yml
mkdir -p "$VAR_DIR/registry"
write_file "$REG_CONF" <<EOF && reg_changed=1 || reg_changed=0
# Written by carina test/cluster/up.sh
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $VAR_DIR/registry
  delete:
    enabled: true
http:
  addr: $CARINA_TEST_REGISTRY
EOF
if pid=$(pid_of "$STATE_DIR/registry.pid" docker-registry) && ((reg_changed)); then
	stop_pidfile "$STATE_DIR/registry.pid" docker-registry 5
fi
if pid=$(pid_of "$STATE_DIR/registry.pid" docker-registry); then
	log "registry running (pid $pid)"
else
	if curl -s -m 2 -o /dev/null "http://$CARINA_TEST_REGISTRY/v2/"; then
		die "something else already listens on $CARINA_TEST_REGISTRY"
	fi
	log "starting registry on $CARINA_TEST_REGISTRY"
	# docker-registry writes the HTTP access log (combined format) to stdout and its
	# own log to stderr.
	setsid /usr/bin/docker-registry serve "$REG_CONF" \
		>>"$REGISTRY_LOG" 2>>"$LOG_DIR/registry-daemon.log" </dev/null &
	echo $! >"$STATE_DIR/registry.pid"
fi
for ((i = 0; i < 100; i++)); do
	curl -s -m 2 -o /dev/null "http://$CARINA_TEST_REGISTRY/v2/" && break
	sleep 0.1
done
if ! curl -s -m 2 -o /dev/null "http://$CARINA_TEST_REGISTRY/v2/"; then
	tail -n 20 "$LOG_DIR/registry-daemon.log" >&2 || true
	die "registry does not answer on $CARINA_TEST_REGISTRY"
fi

# ---------------------------------------------------------------------------------
# Images
CARINA_TEST_REGISTRY=$CARINA_TEST_REGISTRY CARINA_TEST_CACHE=$CACHE_DIR "$HERE/images.sh" 2>&1 |
	sed -u 's/^images: /cluster-up: images: /' >&2
# The private registry (TLS from the cluster's CA, htpasswd), with debian:12.
"$HERE/auth-registry.sh" 2>&1 | sed -u 's/^cluster-auth-registry: /cluster-up: /' >&2
AUTH_PASSWORD=$(<"$AUTH_DIR/password")

# Root uses podman on this host, as on many real ones: that leaves
# /run/containers root-only (0700), where containers/image, run as uid 0
# in a user's namespace, would look for credentials.
podman info >/dev/null 2>&1 || die "podman info as root failed"

# ---------------------------------------------------------------------------------
# Rootless podman smoke check as the test user, with a throw-away store and HOME (no
# state in the user's own store); its pause process is killed afterwards (it ignores
# SIGTERM).
smoke=$(mktemp -d /tmp/carina-smoke.XXXXXX)
chown "$CARINA_TEST_USER:" "$smoke"
install -d -o "$CARINA_TEST_USER" -g "$CARINA_TEST_USER" "$smoke/home"
driver=$(cd / && runuser -u "$CARINA_TEST_USER" -- env -i HOME="$smoke/home" \
	PATH=/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR="$XDG_DIR" \
	podman --root "$smoke/root" --runroot "$smoke/runroot" info --format '{{.Store.GraphDriverName}}' 2>"$smoke/err") || true
if pid=$(pid_of "$XDG_DIR/libpod/tmp/pause.pid" catatonit); then
	kill -KILL "$pid" 2>/dev/null || true
	wait_gone "$pid" 5 || true
fi
err=$(cat "$smoke/err")
rm -rf "$smoke"
[[ $driver == overlay ]] || die "rootless podman as $CARINA_TEST_USER: graph driver '$driver', expected overlay: $err"
log "rootless podman ok (overlay, runc)"

# ---------------------------------------------------------------------------------
# Wait for every node to be idle (resume nodes left down/drained by a previous run).
resumed=" "
ok=0
for ((i = 0; i < 120; i++)); do
	ok=1
	while read -r node state; do
		case $state in
		idle | mixed | allocated) ;;
		*)
			ok=0
			if [[ $state != *'*' && $state =~ drain|down|fail && $resumed != *" $node "* ]]; then
				log "resuming $node ($state)"
				scontrol update nodename="$node" state=resume 2>/dev/null || true
				resumed+="$node "
			fi
			;;
		esac
	done < <(sinfo -h -N -o '%N %T')
	((ok)) && break
	sleep 0.5
done
if ((!ok)); then
	sinfo -N -l >&2 || true
	for ((n = 1; n <= NODES; n++)); do
		echo "--- /var/log/slurm/slurmd-n$n.log" >&2
		tail -n 8 "/var/log/slurm/slurmd-n$n.log" >&2 || true
	done
	echo "--- /var/log/slurm/slurmctld.log" >&2
	tail -n 15 /var/log/slurm/slurmctld.log >&2 || true
	die "not every node is idle after 60 s"
fi
for ((n = 1; n <= NODES; n++)); do
	cp "/run/slurmd-n$n.pid" "$STATE_DIR/slurmd-n$n.pid"
done

# ---------------------------------------------------------------------------------
write_file "$HERE/env.sh" <<EOF || true
# shellcheck shell=bash
# Generated by test/cluster/up.sh; source it.
export CARINA_TEST_USER=$CARINA_TEST_USER
export CARINA_TEST_UID=$TEST_UID
export CARINA_TEST_USER2=$CARINA_TEST_USER2
export CARINA_TEST_UID2=$TEST_UID2
export CARINA_TEST_XDG_RUNTIME_DIR=$XDG_DIR
export CARINA_TEST_REGISTRY=$CARINA_TEST_REGISTRY
export CARINA_TEST_IMAGE_DEBIAN=$CARINA_TEST_REGISTRY/debian:12
export CARINA_TEST_IMAGE_NOSHELL=$CARINA_TEST_REGISTRY/noshell:1
export CARINA_TEST_IMAGE_BUSYBOX=$CARINA_TEST_REGISTRY/busybox:1
export CARINA_TEST_IMAGE_MPICH=$CARINA_TEST_REGISTRY/mpich:4
export CARINA_TEST_IMAGE_OPENMPI=$CARINA_TEST_REGISTRY/openmpi:4
export CARINA_TEST_GPU_GRES=gpu:2
export CARINA_TEST_CDI_ENV=$CDI_ENV
export CARINA_TEST_HOOK_MARKER_DIR=$HOOK_MARKER_DIR
export CARINA_TEST_NODES=$NODES
export CARINA_TEST_REGISTRY_LOG=$REGISTRY_LOG
export CARINA_TEST_AUTH_REGISTRY=$AUTH_REGISTRY
export CARINA_TEST_SLOW_REGISTRY=$SLOW_REGISTRY
export CARINA_TEST_AUTH_IMAGE=$AUTH_IMAGE
export CARINA_TEST_AUTH_USER=$AUTH_USER
export CARINA_TEST_AUTH_PASSWORD=$AUTH_PASSWORD
export CARINA_TEST_IMAGE_STORE=$IMAGE_STORE_BASE/$TEST_UID
export CARINA_TEST_SITE_STORE=$SITE_STORE
export CARINA_TEST_SITE_MOUNT=$SITE_MOUNT
export CARINA_TEST_DENIED_MOUNT=$DENIED_MOUNT
export CARINA_TEST_REGISTRY_CONF=$REG_CONF
export CARINA_TEST_REGISTRY_PIDFILE=$STATE_DIR/registry.pid
export CARINA_TEST_REGISTRY_ERRLOG=$LOG_DIR/registry-daemon.log
export CARINA_TEST_FILE_OCI_ARCHIVE=/var/lib/carina-test/files/debian12.oci.tar
export CARINA_TEST_FILE_SQUASHFS=/var/lib/carina-test/files/debian12.sqsh
export CARINA_BUILD_DIR=$BUILD_DIR
export CARINA_TEST_PLUGIN=$([[ $NO_PLUGIN == 1 ]] && echo none || echo "$PLUGIN")
EOF
log "ready: $NODES nodes idle, registry $CARINA_TEST_REGISTRY, in $((SECONDS - START)) s"
