#!/usr/bin/env bats
# Registry credentials, found as podman finds them, on the submit host and
# on every node (issue 10, real hosts). The cluster's second registry
# ($CARINA_TEST_AUTH_REGISTRY) speaks TLS with a certificate from the
# cluster's own CA (trusted through /etc/containers/certs.d) and wants a
# login; up.sh has run podman as root, so /run/containers is root-only, as
# on hosts where root uses podman. Credentials live only in the user's own
# files. Jobs run from a login-like environment (XDG_RUNTIME_DIR set and
# present), from a bare cron-like one (only PATH and HOME), and with the
# login host's XDG_RUNTIME_DIR that a compute node lacks. no_store makes
# the nodes pull for themselves, with the job's credentials.

load helpers

IMG=$CARINA_TEST_AUTH_IMAGE
REG=$CARINA_TEST_AUTH_REGISTRY
UHOME=$(getent passwd "$CARINA_TEST_USER" | cut -d: -f6)
GOOD=$(printf '%s:%s' "$CARINA_TEST_AUTH_USER" "$CARINA_TEST_AUTH_PASSWORD" | base64 -w0)
BAD=$(printf '%s:%s' "$CARINA_TEST_AUTH_USER" "not-the-password" | base64 -w0)
ALTFILE=/tmp/carina-e2e-auth/auth.json
# shellcheck disable=SC2016 # expanded in the task
SHOW='echo "ok node=$SLURMD_NODENAME image=$CARINA_IMAGE"'
FILES=("$UHOME/.config/containers/auth.json" "$UHOME/.docker/config.json"
	"$CARINA_TEST_XDG_RUNTIME_DIR/containers/auth.json" "$ALTFILE")

# put_auth FILE B64: FILE (the user's) holds the login B64 for the registry.
put_auth() {
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG" "$2" |
		as_user bash -c "umask 077 && mkdir -p '$(dirname "$1")' && cat >'$1'"
}

no_auth() { rm -f "${FILES[@]}"; }

setup_file() { no_auth; }
teardown_file() {
	no_auth
	rm -rf "$(dirname "$ALTFILE")"
}
setup() { no_auth; }

# bare CMD...: CMD as the user with only PATH and HOME, as cron runs it.
bare() { (cd /tmp && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$UHOME" /usr/sbin/runuser -u "$CARINA_TEST_USER" -- "$@"); }

# three OUTPUT: three lines from the auth registry's image, one per node.
three() {
	[ "$(grep -c '^ok node=n[0-9]* image=debian12$' <<<"$1")" -eq 3 ]
	[ "$(grep -o 'node=n[0-9]*' <<<"$1" | sort -u | wc -l)" -eq 3 ]
}

@test "right credentials in ~/.config/containers/auth.json start three nodes: login-like, bare, and without the node's runtime dir" {
	put_auth "$UHOME/.config/containers/auth.json" "$GOOD"
	no_store
	run as_user env XDG_RUNTIME_DIR="$CARINA_TEST_XDG_RUNTIME_DIR" timeout 180 srun -N3 --container-image="$IMG" bash -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	three "$output"
	no_store
	run bare timeout 180 srun -N3 --container-image="$IMG" bash -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	three "$output"
	# With the login host's runtime directory, missing here: the nodes
	# pull, and then srun finds the image in the store (on the submit side).
	for i in 1 2; do
		((i == 2)) || no_store
		run as_user env XDG_RUNTIME_DIR=/run/user/login-host-only timeout 180 srun -N3 --container-image="$IMG" bash -c "$SHOW"
		echo "$output"
		[ "$status" -eq 0 ]
		three "$output"
	done
	assert_clean
}

@test "a cron-like sbatch whose srun resolves and pulls on the nodes uses the same credentials" {
	put_auth "$UHOME/.config/containers/auth.json" "$GOOD"
	no_store
	out=/tmp/carina-e2e-auth-sbatch.out
	rm -f "$out"
	run bare timeout 240 sbatch -W -N3 -o "$out" \
		--wrap "srun -N3 --container-image='$IMG' bash -c '$SHOW'"
	echo "$output"
	cat "$out"
	[ "$status" -eq 0 ]
	three "$(cat "$out")"
	rm -f "$out"
	assert_clean
}

@test "credentials where podman also finds them: \$XDG_RUNTIME_DIR/containers, ~/.docker/config.json, REGISTRY_AUTH_FILE" {
	put_auth "$CARINA_TEST_XDG_RUNTIME_DIR/containers/auth.json" "$GOOD"
	no_store
	run as_user env XDG_RUNTIME_DIR="$CARINA_TEST_XDG_RUNTIME_DIR" timeout 180 srun -N3 --container-image="$IMG" bash -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	three "$output"
	no_auth
	put_auth "$UHOME/.docker/config.json" "$GOOD"
	no_store
	run bare timeout 180 srun -N3 --container-image="$IMG" bash -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	three "$output"
	# REGISTRY_AUTH_FILE alone, as in podman: a wrong login elsewhere is not read.
	no_auth
	put_auth "$ALTFILE" "$GOOD"
	put_auth "$UHOME/.config/containers/auth.json" "$BAD"
	no_store
	run bare env REGISTRY_AUTH_FILE="$ALTFILE" timeout 180 srun -N3 --container-image="$IMG" bash -c "$SHOW"
	echo "$output"
	[ "$status" -eq 0 ]
	three "$output"
	assert_clean
}

@test "wrong credentials give a carina: line naming the registry and the file within seconds; none, where carina looked" {
	put_auth "$UHOME/.config/containers/auth.json" "$BAD"
	SECONDS=0
	rejected_at_submit srun -N3 --container-image="$IMG" true
	[ "$SECONDS" -lt 20 ]
	grep -q "carina: image $REG/private/debian:12: the registry $REG refused the credentials from $UHOME/.config/containers/auth.json" <<<"$output"
	no_auth
	SECONDS=0
	rejected_at_submit srun -N3 --container-image="$IMG" true
	[ "$SECONDS" -lt 20 ]
	grep -q "carina: image $REG/private/debian:12: the registry $REG wants credentials and none for it are in $UHOME/.config/containers/auth.json, $UHOME/.docker/config.json" <<<"$output"
	assert_clean
}

@test "no credential lands in the job's environment, a log or the store" {
	put_auth "$UHOME/.config/containers/auth.json" "$GOOD"
	no_store
	# (bare: as_user would hand the test's own environment, which holds
	# the password, to the job.)
	run bare timeout 180 srun -N3 --container-image="$IMG" env
	[ "$status" -eq 0 ]
	[ "$(grep -cF -e "$CARINA_TEST_AUTH_PASSWORD" -e "$GOOD" <<<"$output")" -eq 0 ]
	[ "$(grep -c '^CARINA_IMAGE=debian12$' <<<"$output")" -eq 3 ]
	# Once the job is gone (its epilog removes files while grep would
	# read them), no file holds the password or the login.
	assert_clean
	for d in /var/log/slurm /var/log/carina-test "$CARINA_TEST_IMAGE_STORE" /var/lib/carina /run/carina; do
		found=$(grep -rlaFs -e "$CARINA_TEST_AUTH_PASSWORD" -e "$GOOD" "$d" || true)
		echo "$d: $found"
		[ -z "$found" ]
	done
}
