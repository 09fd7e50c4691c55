#!/usr/bin/env bats
# The environment precedence table of docs/USAGE.md, one test per row, and
# TOML environment files (--environment) with inheritance.

load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN
UHOME=/home/$CARINA_TEST_USER
EDIR=$UHOME/.config/carina/environments
SITE=/etc/carina/environments

setup_file() {
	as_user srun -N1 --container-image="$CARINA_TEST_IMAGE_DEBIAN" true
	as_user mkdir -p "$EDIR"
	[ -d "$SITE" ] # the site's environments directory: make cluster-up makes it, as a site would
	install -d -o "$CARINA_TEST_USER" /tmp/carina-e2e-env
	echo in-base >/tmp/carina-e2e-env/f
	chown "$CARINA_TEST_USER" /tmp/carina-e2e-env/f
	as_user tee "$EDIR/e2e-base.toml" >/dev/null <<-EOF2
		image = "$CARINA_TEST_IMAGE_DEBIAN"
		mounts = ["/tmp/carina-e2e-env:/from-base:ro"]
		[env]
		FROM_BASE = "base"
		CARINA_IMAGE = "from-base"
	EOF2
	as_user tee "$EDIR/e2e-child.toml" >/dev/null <<-'EOF2'
		base_environment = "e2e-base"
		workdir = "/usr"
		[env]
		CARINA_IMAGE = "from-child"
		SLURM_PROCID = "99"
		CUDA_VISIBLE_DEVICES = "7"
	EOF2
	as_user tee "$EDIR/e2e-bad.toml" >/dev/null <<-'EOF2'
		image = "x"

		imgae = "typo"
	EOF2
	tee "$SITE/e2e-site.toml" >/dev/null <<-EOF2
		image = "$CARINA_TEST_IMAGE_DEBIAN"
		workdir = "/etc"
	EOF2
}

teardown_file() {
	rm -f "$EDIR"/e2e-*.toml "$SITE/e2e-site.toml"
	rm -rf /tmp/carina-e2e-env
}

@test "row 1: host variables reach the task" {
	run as_user env CARINA_E2E_HOST=yes srun -N1 --container-image="$IMG" printenv CARINA_E2E_HOST
	[ "$status" -eq 0 ]
	[ "$output" = yes ]
}

@test "row 2: the image's variables override the host's" {
	run as_user env CARINA_IMAGE=host srun -N1 --container-image="$IMG" printenv CARINA_IMAGE
	[ "$status" -eq 0 ]
	[ "$output" = debian12 ]
}

@test "row 3: an environment file's [env] overrides the image's" {
	run as_user env CARINA_IMAGE=host srun -N1 --environment=e2e-base printenv CARINA_IMAGE FROM_BASE
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "from-base
base" ]
}

@test "row 4: --container-env keeps the host's value over image and file" {
	run as_user env CARINA_IMAGE=host srun -N1 --environment=e2e-child --container-env=CARINA_IMAGE printenv CARINA_IMAGE
	[ "$status" -eq 0 ]
	[ "$output" = host ]
}

@test "the host's locale stays out unless named in --container-env, as in pyxis" {
	run as_user env LANG=de_DE.UTF-8 LC_ALL=de_DE.UTF-8 LC_TIME=de_DE.UTF-8 \
		srun -N1 --container-image="$IMG" bash -c 'perl -e 1; env | grep -E "^(LANG|LC_)" || echo no-locale'
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -q 'Setting locale failed' <<<"$output"
	[ "$output" = no-locale ]
	run as_user env LANG=C.UTF-8 LC_TIME=de_DE.UTF-8 srun -N1 --container-image="$IMG" --container-env=LANG \
		bash -c 'env | grep -E "^(LANG|LC_)"'
	echo "$output"
	[ "$output" = LANG=C.UTF-8 ]
	# A step on the host keeps the host's locale.
	run as_user env LC_TIME=de_DE.UTF-8 srun -N1 printenv LC_TIME
	[ "$output" = de_DE.UTF-8 ]
}

@test "row 5: per-task variables stay each task's own whatever the file says" {
	run as_user srun -N2 -n4 --environment=e2e-child bash -c 'echo "$SLURM_PROCID ${CUDA_VISIBLE_DEVICES:-unset}"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "0 unset 1 unset 2 unset 3 unset " ]
}

@test "--environment: inheritance, mounts from the base, the command line over the file" {
	run as_user srun -N1 --environment=e2e-child bash -c 'pwd; cat /from-base/f; echo $FROM_BASE $CARINA_IMAGE'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "/usr
in-base
base from-child" ]
	run as_user srun -N1 --environment=e2e-child --container-workdir=/var pwd
	[ "$output" = /var ]
	run as_user env CARINA_CONTAINER_ENVIRONMENT="$EDIR/e2e-child.toml" srun -N1 pwd
	[ "$output" = /usr ]
}

@test "--environment: the site directory is searched after the user's" {
	run as_user srun -N1 --environment=e2e-site pwd
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = /etc ]
}

@test "--environment: unknown keys and missing files are refused at submit with file:line" {
	rejected_at_submit srun -N1 --environment=e2e-bad true
	grep -q "e2e-bad.toml:3: unknown key \"imgae\"" <<<"$output"
	rejected_at_submit srun -N1 --environment=e2e-none true
	grep -q 'e2e-none' <<<"$output"
}

@test "sbatch --environment runs the batch script with the file's settings" {
	run as_user bash -c "cd /tmp && sbatch --wait -N1 -o /tmp/carina-e2e-env/out --environment=e2e-child --wrap 'pwd; echo \$FROM_BASE'"
	echo "$output"
	[ "$status" -eq 0 ]
	run cat /tmp/carina-e2e-env/out
	echo "$output"
	[ "$output" = "/usr
base" ]
	assert_clean
}
