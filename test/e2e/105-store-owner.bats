#!/usr/bin/env bats
# Root running the store CLI (carina images / gc ...) on a user's image
# store: the command runs again as the store's owner, and that user must
# get nothing of root's: no terminal (no TIOCSTI into root's shell), no
# inherited descriptor, and no control character of theirs on root's
# screen. Root runs the commands under script(1), on a real terminal.

load helpers

CARINA=/usr/local/lib/carina/carina
STORE=$CARINA_TEST_IMAGE_STORE
IMAGES_JSON=$STORE/storage/overlay-images/images.json
# Where a test keeps what it must undo; teardown undoes it whatever failed.
SAVED_IMAGES_JSON=/tmp/carina-e2e-105-images.json
HOLDER_PID=/tmp/carina-e2e-105-holder.pid

teardown() {
	if [[ -s $HOLDER_PID ]]; then
		kill "$(cat "$HOLDER_PID")" 2>/dev/null || true
	fi
	rm -f "$HOLDER_PID"
	if [[ -f $SAVED_IMAGES_JSON ]]; then
		# Into the user's own file: owner and mode stay theirs.
		cat "$SAVED_IMAGES_JSON" >"$IMAGES_JSON"
		rm -f "$SAVED_IMAGES_JSON"
	fi
}

# a_stored_image: the user's store holds at least one image.
a_stored_image() {
	[[ -d $STORE ]] || empty_store
	as_user "$CARINA" pull --store "$STORE" "$CARINA_TEST_IMAGE_DEBIAN" >/dev/null 2>&1
}

# stat_field PID N: field N of /proc/PID/stat, counted after the command
# name (which may hold spaces) as proc(5) numbers them.
stat_field() {
	local s
	s=$(cat "/proc/$1/stat")
	s=${s##*") "}
	cut -d' ' -f$(($2 - 2)) <<<"$s"
}

@test "root's gc on a user's store runs as the owner in a session of its own, with no terminal or descriptor of root's" {
	a_stored_image
	# The user holds the store's lock, so root's gc (which takes it) waits
	# inside the owner's processes while they are looked at.
	: >"$HOLDER_PID"
	chown "$CARINA_TEST_USER" "$HOLDER_PID"
	# shellcheck disable=SC2016 # $$ and $1 are the inner shell's
	as_user flock "$STORE/pull.lock" sh -c 'echo $$ >"$1"; exec sleep 120' _ "$HOLDER_PID" 3>&- &
	wait_for 10 test -s "$HOLDER_PID"
	# A descriptor root holds and does not mean to pass on: a root-only file.
	secret=$BATS_TEST_TMPDIR/root-only
	echo secret >"$secret"
	chmod 0600 "$secret"
	# --keep with a bound no store reaches: gc takes the lock, removes nothing.
	script -qec "exec 7<'$secret'; exec $CARINA gc --store '$STORE' --keep 1000000" /dev/null \
		>"$BATS_TEST_TMPDIR/gc.out" 2>&1 </dev/null 3>&- &
	script_pid=$!

	root_carina() { pgrep -u 0 -f "^$CARINA gc --store $STORE "; }
	owner_procs() { pgrep -u "$CARINA_TEST_USER" -f "gc --store $STORE " | tr '\n' ' '; }
	wait_for 30 root_carina
	# The owner's process and, inside the user namespace, its child.
	wait_for 30 bash -c "[[ \$(pgrep -u $CARINA_TEST_USER -f 'gc --store $STORE ' | wc -l) -ge 2 ]]"
	root=$(root_carina)
	owners=$(owner_procs)
	echo "root's carina: $root; the owner's: $owners"
	# The set-up is what it claims: root's carina has the terminal on 0-2,
	# and the root-only file on 7.
	for fd in 0 1 2; do
		[[ $(readlink "/proc/$root/fd/$fd") == /dev/pts/* ]]
	done
	[ "$(readlink "/proc/$root/fd/7")" = "$secret" ]
	root_sid=$(stat_field "$root" 6)
	[ "$(stat_field "$root" 7)" -ne 0 ] # root's carina has a controlling terminal

	for pid in $owners; do
		echo "owner process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
		ls -l "/proc/$pid/fd/"
		# Its own session, and no controlling terminal.
		[ "$(stat_field "$pid" 6)" -ne "$root_sid" ]
		[ "$(stat_field "$pid" 7)" -eq 0 ]
		# stdin from /dev/null, stdout and stderr pipes that root reads.
		[ "$(readlink "/proc/$pid/fd/0")" = /dev/null ]
		[[ $(readlink "/proc/$pid/fd/1") == pipe:* ]]
		[[ $(readlink "/proc/$pid/fd/2") == pipe:* ]]
		# No descriptor on a terminal or on root's file. (Above 2 are only
		# those the helper opened itself: Go's poller, the user-namespace
		# set-up's pipes, the lock it waits for.)
		for f in "/proc/$pid/fd/"*; do
			target=$(readlink "$f") || continue
			[[ $target != /dev/pts/* && $target != /dev/tty* && $target != /dev/console && $target != "$secret" ]]
		done
	done

	kill "$(cat "$HOLDER_PID")"
	wait "$script_pid"
	cat "$BATS_TEST_TMPDIR/gc.out"
	grep -q '^nothing to remove: the store holds ' "$BATS_TEST_TMPDIR/gc.out"
	wait_for 30 no_user_procs
}

@test "names a store's user planted print escaped on root's terminal, and exactly in JSON" {
	a_stored_image
	# The user can write anything into their store's records: here an image
	# name that clears the screen, sets the window title, forges a table
	# line and ends with a C1 CSI (U+009B) that turns the text red.
	evil=$'evil\e[2J\e]0;owned\a:1\nffffffffffff  1 B  forged\xc2\x9b31m'
	cp "$IMAGES_JSON" "$SAVED_IMAGES_JSON"
	# shellcheck disable=SC2016 # $1 and $2 are the inner shell's
	as_user bash -c 'jq --arg n "$2" ".[0].names += [\$n]" "$1" >"$1.new" && mv "$1.new" "$1"' _ "$IMAGES_JSON" "$evil"
	escaped='evil\x1b[2J\x1b]0;owned\x07:1\nffffffffffff  1 B  forged\u009b31m'
	images=$("$CARINA" images --store "$STORE" --format json | jq length)

	for cmd in "images --store '$STORE'" "gc --store '$STORE' --dry-run"; do
		run script -qec "$CARINA $cmd" /dev/null </dev/null
		echo "carina $cmd:"
		echo "${output//$'\e'/<ESC>}"
		[ "$status" -eq 0 ]
		grep -qF "$escaped" <<<"$output"
		[[ $output != *$'\e'* && $output != *$'\a'* && $output != *$'\xc2\x9b'* ]]
	done
	# One line per image under the header: the newline forged none.
	run script -qec "$CARINA images --store '$STORE'" /dev/null </dev/null
	[ "$(tr -d '\r' <<<"$output" | grep -c .)" -eq $((images + 1)) ]

	# JSON keeps the name exactly, with nothing raw a terminal acts on.
	run "$CARINA" images --store "$STORE" --format json
	[ "$status" -eq 0 ]
	[[ $output != *$'\e'* && $output != *$'\a'* && $output != *$'\xc2\x9b'* ]]
	jq -e --arg n "$evil" 'any(.[]; any(.names[]; . == $n))' <<<"$output"
	wait_for 30 no_user_procs
}
