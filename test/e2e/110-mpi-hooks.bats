#!/usr/bin/env bats
# MPI and OCI hooks inside the node containers (issue 9, first part).
#
# MPI: MPICH (Debian's, UCX netmod) over Slurm's pmi2, with nothing given
# beyond --mpi and --container-image: the ranks of a node's container see
# one world through the PMI descriptor slurmstepd hands every task. Across
# nodes: MPICH over pmi2 and Open MPI over pmix, 3 nodes x 2 ranks and an
# uneven -N3 -n5, each rank on the node Slurm put it on. The simulated
# nodes share one kernel: the cluster's site config sets UCX_TLS (see
# test/cluster/up.sh) and its sim hook gives each node container its own
# /dev/shm, as separate hosts have.
#
# Site injection: carina.toml mounts a host library directory and sets
# LD_LIBRARY_PATH in every container; a program in the image loads it.
#
# Hooks: the site's OCI hooks (containers.conf hooks_dir; the cluster
# installs a test hook that writes one marker per container start) run for
# containers whose annotations, from an environment file, ask for them.

load helpers

MPI_IMG=$CARINA_TEST_IMAGE_MPICH
OMPI_IMG=$CARINA_TEST_IMAGE_OPENMPI
IMG=$CARINA_TEST_IMAGE_DEBIAN
ENVS=/tmp/carina-e2e-hooks

setup_file() {
	rm -rf "$ENVS"
	install -d -m 0755 "$ENVS"
	for v in on fail; do
		printf 'image = "%s"\n[annotations]\n"com.carina.test.hook" = "%s"\n' "$IMG" "$v" >"$ENVS/hook-$v.toml"
	done
	chmod 0644 "$ENVS"/*.toml
}

teardown_file() {
	rm -rf "$ENVS"
}

# world OUTPUT SIZE: OUTPUT holds one line per rank 0..SIZE-1, each of a
# world of SIZE whose allreduce of the ranks is right.
world() {
	local out=$1 size=$2 r
	[ "$(grep -c "^rank=[0-9]* size=$size sum=$((size * (size - 1) / 2)) " <<<"$out")" -eq "$size" ] || return 1
	for ((r = 0; r < size; r++)); do
		[ "$(grep -c "^rank=$r size=" <<<"$out")" -eq 1 ] || return 1
	done
}

@test "MPICH over --mpi=pmi2: the ranks in a node's container form one world and reduce correctly" {
	for n in 2 3; do
		run as_user timeout 120 srun --mpi=pmi2 -O -N1 -n"$n" -w n1 --container-image="$MPI_IMG" mpi-allreduce
		echo "$output"
		[ "$status" -eq 0 ]
		world "$output" "$n"
		[ "$(grep -c ' node=n1$' <<<"$output")" -eq "$n" ]
	done
	# Without --mpi every rank is alone: the size above is PMI's doing.
	run as_user timeout 120 srun -N1 -n2 -w n1 --container-image="$MPI_IMG" mpi-allreduce
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^rank=0 size=1 sum=0 ' <<<"$output")" -eq 2 ]
	assert_clean
}

# placement GEOMETRY: "rank=R node=N" lines of where Slurm puts each rank
# of a bare step on n1,n2,n3 with that geometry (-N3 -nK).
placement() {
	as_user timeout 60 srun -w n1,n2,n3 $1 bash -c 'echo "rank=$SLURM_PROCID node=$SLURMD_NODENAME"' | sort
}

# across MPI IMAGE: both geometries over three nodes, each rank on the
# node Slurm chose, one world with the right sum.
across() {
	local mpi=$1 img=$2 geom n want got
	for geom in "-N3 -n6" "-N3 -n5"; do
		n=${geom##*-n}
		want=$(placement "$geom")
		[ "$(wc -l <<<"$want")" -eq "$n" ]
		run as_user timeout 120 srun --mpi="$mpi" -w n1,n2,n3 $geom --container-image="$img" mpi-allreduce
		echo "$output"
		[ "$status" -eq 0 ]
		world "$output" "$n"
		got=$(grep '^rank=' <<<"$output" | sed 's/ size=.* node=/ node=/' | sort)
		[ "$got" = "$want" ]
	done
}

@test "MPICH over --mpi=pmi2 across three nodes: one world, each rank where Slurm put it" {
	across pmi2 "$MPI_IMG"
	assert_clean
}

@test "Open MPI over --mpi=pmix across three nodes: one world, each rank where Slurm put it; mpi4py too" {
	across pmix "$OMPI_IMG"
	run as_user timeout 120 srun --mpi=pmix -w n1,n2 -N2 -n2 --container-image="$OMPI_IMG" \
		python3 -c 'from mpi4py import MPI; c = MPI.COMM_WORLD; print("mpi4py rank=%d size=%d sum=%d" % (c.rank, c.size, c.allreduce(c.rank)))'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^mpi4py rank=[01] size=2 sum=1$' <<<"$output")" -eq 2 ]
	assert_clean
}

@test "a second MPI step of a job joins the running container and still forms its world" {
	# The first step leaves a file in its container; the second finds it
	# there, so it runs in the same container.
	run as_user timeout 180 salloc -N1 -n2 -w n2 bash -c "
		srun --mpi=pmi2 --container-image='$MPI_IMG' bash -c 'mpi-allreduce && touch /tmp/step1-\$SLURM_PROCID' &&
		srun --mpi=pmi2 --container-image='$MPI_IMG' bash -c 'test -e /tmp/step1-\$SLURM_PROCID && echo joined; mpi-allreduce'"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^rank=[01] size=2 sum=1 node=n2$' <<<"$output")" -eq 4 ]
	[ "$(grep -c '^joined$' <<<"$output")" -eq 2 ]
	assert_clean
}

@test "a named container on two nodes runs two MPI steps; the second, by name only, joins it" {
	run as_user timeout 240 salloc -N2 -n4 -w n1,n2 bash -c "
		srun --container-name=mpi --mpi=pmi2 --container-image='$MPI_IMG' bash -c 'mpi-allreduce && touch /tmp/named-\$SLURM_PROCID' &&
		srun --container-name=mpi --mpi=pmi2 bash -c 'test -e /tmp/named-\$SLURM_PROCID && echo joined; mpi-allreduce'"
	echo "$output"
	[ "$status" -eq 0 ]
	world "$(grep '^rank=' <<<"$output" | head -n4)" 4
	world "$(grep '^rank=' <<<"$output" | tail -n4)" 4
	[ "$(grep -c '^rank=.* node=n1$' <<<"$output")" -eq 4 ]
	[ "$(grep -c '^rank=.* node=n2$' <<<"$output")" -eq 4 ]
	[ "$(grep -c '^joined$' <<<"$output")" -eq 4 ]
	assert_clean
}

@test "the site's OCI hooks run once per node container when an environment file's annotations ask" {
	rm -f "$CARINA_TEST_HOOK_MARKER_DIR"/marker.*
	run as_user timeout 120 srun -N3 --environment="$ENVS/hook-on.toml" cat /etc/debian_version
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^12\.' <<<"$output")" -eq 3 ]
	# One marker per node container, each naming the annotation that asked.
	[ "$(find "$CARINA_TEST_HOOK_MARKER_DIR" -name 'marker.*' | wc -l)" -eq 3 ]
	[ "$(grep -l '"com.carina.test.hook":"on"' "$CARINA_TEST_HOOK_MARKER_DIR"/marker.* | wc -l)" -eq 3 ]
	# Without the annotation the hook does not run.
	rm -f "$CARINA_TEST_HOOK_MARKER_DIR"/marker.*
	run as_user timeout 120 srun -N2 --container-image="$IMG" true
	[ "$status" -eq 0 ]
	[ "$(find "$CARINA_TEST_HOOK_MARKER_DIR" -name 'marker.*' | wc -l)" -eq 0 ]
	assert_clean
}

@test "a failing hook gives a carina: line and leaves no container" {
	start=$SECONDS
	run as_user timeout 120 srun -N2 --environment="$ENVS/hook-fail.toml" sh -c 'echo ran'
	echo "$output"
	[ "$status" -ne 0 ]
	grep -q 'carina: starting the container for .*error running hook.*carina test hook: refusing this container' <<<"$output"
	! grep -q '^ran$' <<<"$output" || return 1
	((SECONDS - start < 60))
	assert_clean
}

@test "the site injects a host library directory into every container; a program inside loads it" {
	# carina.toml: [mounts] default brings the directory in, [env] puts it
	# on LD_LIBRARY_PATH (over the image's), for every user and image.
	grep -q '^LD_LIBRARY_PATH = "/opt/carina-host"' /etc/carina/carina.toml
	run as_user timeout 120 srun -N2 -n4 --container-image="$MPI_IMG" bash -c 'echo "$SLURM_PROCID $(host-lib-probe)"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^[0-3] host library loaded from the site stack$' <<<"$output")" -eq 4 ]
	# The library is the host's, read-only, not the image's.
	run as_user timeout 120 srun -N1 --container-image="$MPI_IMG" bash -c 'touch /opt/carina-host/x 2>&1; ls /usr/lib/libcarinahost.so 2>&1'
	echo "$output"
	grep -q 'Read-only file system' <<<"$output"
	grep -q 'No such file' <<<"$output"
	assert_clean
}
