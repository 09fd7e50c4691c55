#!/usr/bin/env bats
# The built plugin itself: what Slurm sees of it, and what it links.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

@test "the plugin exports only Slurm's entry points and plugin data" {
	run bash -c "nm -D --defined-only '$REPO/build/spank_carina.so' | awk '{print \$3}' | sort"
	[ "$status" -eq 0 ]
	echo "$output"
	want=$(printf '%s\n' plugin_name plugin_type plugin_version slurm_spank_exit slurm_spank_init \
		slurm_spank_init_post_opt slurm_spank_job_epilog slurm_spank_task_exit slurm_spank_task_init spank_plugin_version | sort)
	[ "$output" = "$want" ]
}

@test "the plugin links no containers/image or containers/storage machinery" {
	cd "$REPO"
	run go list -deps ./spank
	[ "$status" -eq 0 ]
	# Only the reference parser (and the regexp helper it uses) may come in.
	[ "$(grep '^go.podman.io/' <<<"$output" | sort | tr '\n' ' ')" = "go.podman.io/image/v5/docker/reference go.podman.io/storage/pkg/regexp " ]
}

@test "the plugin needs no library beyond libc at load time" {
	run bash -c "readelf -d '$REPO/build/spank_carina.so' | awk '/NEEDED/ {print \$5}'"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "[libc.so.6]" ]
}
