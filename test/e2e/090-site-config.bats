#!/usr/bin/env bats
# The site's TOML configuration (/etc/carina/carina.toml, named on the
# plugstack.conf line with config=): default mounts, denied mount sources,
# the plugstack line overriding a key, and `carina config check`.

load helpers

IMG=$CARINA_TEST_IMAGE_DEBIAN

# Tests that edit the site file keep a copy in /tmp/carina-e2e-site.toml;
# it is put back whatever the test did.
teardown() {
	if [[ -f /tmp/carina-e2e-site.toml ]]; then
		cp -p /tmp/carina-e2e-site.toml /etc/carina/carina.toml
		rm -f /tmp/carina-e2e-site.toml
	fi
}

@test "the cluster's plugstack line names the TOML file and overrides one of its keys" {
	grep -q "config=/etc/carina/carina.toml helper=/usr/local/lib/carina/carina" /etc/slurm/plugstack.conf
	# The file's helper is a path that does not exist: jobs work only
	# because the plugstack line wins.
	grep -q '^helper = "/nonexistent/' /etc/carina/carina.toml
	run as_user srun -N1 --container-image="$IMG" cat /etc/debian_version
	[ "$status" -eq 0 ]
}

@test "[mounts] default: every container gets the site's mounts" {
	run as_user srun -N2 --container-image="$IMG" cat /site/README
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'a file every container sees at /site' <<<"$output")" -eq 2 ]
}

@test "[mounts] denied: a denied source, even through a symlink, is refused at submit" {
	install -d -o "$CARINA_TEST_USER" /tmp/carina-e2e-site
	ln -sfn "$CARINA_TEST_DENIED_MOUNT" /tmp/carina-e2e-site/link
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts="$CARINA_TEST_DENIED_MOUNT:/x" true
	grep -q "denied by the site configuration" <<<"$output"
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts=/tmp/carina-e2e-site/link:/x true
	grep -q "denied by the site configuration" <<<"$output"
	rm -rf /tmp/carina-e2e-site
}

@test "carina config check accepts the installed file and names file:line of a mistake" {
	run /usr/local/lib/carina/carina config check /etc/carina/carina.toml
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "/etc/carina/carina.toml: ok" ]
	bad=$(mktemp)
	printf 'runtime_dir = "/run/carina"\n[podman]\nbinary = "/usr/bin/podman"\nextra_flag = []\n' >"$bad"
	run /usr/local/lib/carina/carina config check --no-owner-check "$bad"
	echo "$output"
	[ "$status" -eq 1 ]
	grep -q "$bad:4: unknown key \"podman.extra_flag\"" <<<"$output"
	# Owned by a user: refused, whatever it says.
	chown "$CARINA_TEST_USER" "$bad"
	run /usr/local/lib/carina/carina config check "$bad"
	[ "$status" -eq 1 ]
	grep -q 'must be owned by root' <<<"$output"
	rm -f "$bad"
}

@test "[defaults]: the site changes a flag's default; the command line still wins" {
	cp -p /etc/carina/carina.toml /tmp/carina-e2e-site.toml
	printf '[defaults]\nremap_root = true\nwritable = false\n' >>/etc/carina/carina.toml
	run as_user srun -N1 --container-image="$IMG" bash -c 'id -u; touch /x 2>&1 || true'
	echo "$output"
	run_status=$status
	out1=$output
	run as_user srun -N1 --container-image="$IMG" --no-container-remap-root id -u
	out2=$output
	cp -p /tmp/carina-e2e-site.toml /etc/carina/carina.toml
	rm -f /tmp/carina-e2e-site.toml
	[ "$run_status" -eq 0 ]
	[ "$(head -n1 <<<"$out1")" = 0 ]
	grep -q 'Read-only file system' <<<"$out1"
	[ "$out2" = "$CARINA_TEST_UID" ]
	assert_clean
}

@test "[mounts] allowed: only sources under the allowed prefixes are mounted" {
	cp -p /etc/carina/carina.toml /tmp/carina-e2e-site.toml
	sed -i 's|^default = |allowed = ["/tmp/carina-e2e-allowed"]\ndefault = |' /etc/carina/carina.toml
	install -d -o "$CARINA_TEST_USER" /tmp/carina-e2e-allowed /tmp/carina-e2e-allowed2
	run as_user srun -N1 --container-image="$IMG" --container-mounts=/tmp/carina-e2e-allowed:/a true
	ok_status=$status
	rejected_at_submit srun -N1 --container-image="$IMG" --container-mounts=/tmp/carina-e2e-allowed2:/a true
	refused=$output
	cp -p /tmp/carina-e2e-site.toml /etc/carina/carina.toml
	rm -rf /tmp/carina-e2e-site.toml /tmp/carina-e2e-allowed /tmp/carina-e2e-allowed2
	[ "$ok_status" -eq 0 ]
	grep -q 'is not under an allowed mount source (/tmp/carina-e2e-allowed)' <<<"$refused"
	assert_clean
}

@test "one mount grammar: what carina config check accepts in mounts.default every job mounts; what it refuses, srun refuses" {
	bad=$(mktemp)
	printf '[mounts]\ndefault = ["%s:/grammar:ro,nosuid"]\n' "$CARINA_TEST_SITE_MOUNT" >"$bad"
	run /usr/local/lib/carina/carina config check --no-owner-check "$bad"
	echo "$output"
	[ "$status" -eq 1 ]
	grep -q "$bad:2: mounts.default: --container-mounts: source \"nosuid\" must be an absolute path" <<<"$output"
	rm -f "$bad"
	cp -p /etc/carina/carina.toml /tmp/carina-e2e-grammar.toml
	# The same entry in the installed file: the plugin refuses it the same way.
	sed -i "s|^default = \[|default = [\"$CARINA_TEST_SITE_MOUNT:/grammar:ro,nosuid\", |" /etc/carina/carina.toml
	run timeout 30 runuser -u "$CARINA_TEST_USER" -- srun -N1 --container-image="$IMG" true
	echo "$output"
	srun_status=$status
	srun_out=$output
	# Flags joined by "+", as on the command line: accepted and mounted.
	cp -p /tmp/carina-e2e-grammar.toml /etc/carina/carina.toml
	sed -i "s|^default = \[|default = [\"$CARINA_TEST_SITE_MOUNT:/grammar:ro+nosuid\", |" /etc/carina/carina.toml
	run /usr/local/lib/carina/carina config check /etc/carina/carina.toml
	check_out=$output
	run as_user timeout 120 srun -N2 --container-image="$IMG" bash -c 'grep " /grammar " /proc/self/mountinfo'
	cp -p /tmp/carina-e2e-grammar.toml /etc/carina/carina.toml
	rm -f /tmp/carina-e2e-grammar.toml
	echo "$output"
	[ "$srun_status" -ne 0 ]
	grep -q '^srun: error: carina: the site configuration is invalid, so carina cannot run: /etc/carina/carina.toml:[0-9]*: mounts.default: --container-mounts: source "nosuid" must be an absolute path' <<<"$srun_out"
	[ "$check_out" = "/etc/carina/carina.toml: ok" ]
	[ "$status" -eq 0 ]
	[ "$(grep -c ' /grammar ro,nosuid' <<<"$output")" -eq 2 ]
	assert_clean
}

@test "carina doctor passes on every node of the cluster, as root and as the user; a missing piece is named with its fix" {
	run /usr/local/bin/carina doctor --user "$CARINA_TEST_USER"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^all [0-9]* checks passed$' <<<"$output"
	[ "$(grep -c '^FAIL' <<<"$output")" -eq 0 ]
	# As the user, on each node (as a job), with carina from the PATH.
	run as_user timeout 60 srun -N3 bash -c 'carina doctor >/dev/null && echo "doctor ok on $SLURMD_NODENAME"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^doctor ok on n' <<<"$output")" -eq 3 ]
	# What a node lacks: the plugstack line, a user's subordinate ids.
	empty=$(mktemp)
	run /usr/local/bin/carina doctor --plugstack "$empty" --user nobody
	rm -f "$empty"
	echo "$output"
	[ "$status" -eq 1 ]
	grep -q "^FAIL  plugstack line: no line of $empty (or its includes) loads spank_carina.so" <<<"$output"
	grep -q '^      fix: add `required /usr/local/lib/carina/spank_carina.so' <<<"$output"
	grep -q '^FAIL  /etc/subuid: no range of 65536 ids for nobody' <<<"$output"
	grep -q '^carina: doctor: [0-9]* of [0-9]* checks failed$' <<<"$output"
}
