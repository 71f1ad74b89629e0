# shellcheck shell=bash
# Shared by tests/runtime/stdio*.bats (issue 12): setup/teardown, pipes
# whose helpers close bats's fd 3, the counter workload, fd checks.
setup() {
	setup_bundle
	update_config '.root.readonly = false'
	BG=()
}
teardown() {
	[ -n "${TTYPID:-}" ] && kill -9 "$TTYPID" 2>/dev/null
	teardown_bundle
	local p
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
}

# pipes IN_CMD OUT_FILE: $PIN, a pipe whose writer runs IN_CMD, and $POUT,
# a pipe whose reader copies into OUT_FILE; both helpers close bats's fd 3
# (bats waits for it) and are killed at teardown. Call in the test's shell.
pipes() {
	exec {PIN}< <(exec 3>&-; eval "exec $1")
	BG+=($!)
	exec {POUT}> >(exec 3>&- cat >"$2")
	BG+=($!)
}
close_pipes() { exec {PIN}<&- {POUT}>&-; }

is_zanshin() { "$RUNTIME" --version 2>/dev/null | grep -qi zanshin; }

need_criu() {
	is_zanshin && return 0
	command -v criu >/dev/null || skip "runc needs criu on PATH"
}

# the runtime's checkpoint/restore with a remnant store in the scratch dir
cr() {
	if is_zanshin; then
		"$RUNTIME" --root "$STATE" --remnant-root "$ROOT/store" "$@"
	else
		rt "$@"
	fi
}

# counter: a shell loop that counts, prints every count and keeps the
# last in /tmp/count (the container's rootfs, visible from the host)
counter_config() {
	update_config '.process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/tmp/count.new; mv /tmp/count.new /tmp/count; echo count=$i; sleep 0.1; done"]
		| .mounts |= map(select(.destination != "/tmp"))'
}
count() { cat "$BUNDLE/rootfs/tmp/count" 2>/dev/null; }

# wait until /tmp/count is at least $1
wait_count() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(count)" -ge "$1" ] 2>/dev/null && return 0
		sleep 0.1
	done
	echo "count stayed at '$(count)', wanted $1" >&2
	return 1
}

init_pid() { state_field "$1" pid; }

# fd_in_container PID FD: FD of PID is on a mount of PID's own mount namespace
fd_in_container() {
	local mnt
	mnt=$(awk '/^mnt_id:/ {print $2}' "/proc/$1/fdinfo/$2")
	awk -v m="$mnt" '$1 == m {found = 1} END {exit !found}' "/proc/$1/mountinfo"
}

# fd_is_null PID FD: FD of PID is the null device 1:3
fd_is_null() { [ "$(stat -L -c '%t:%T' "/proc/$1/fd/$2")" = "1:3" ]; }

