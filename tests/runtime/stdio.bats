#!/usr/bin/env bats
# stdio as runc 1.1 leaves it (issue 12): the host's /dev/null on fds 0-2
# is reopened on the container's /dev/null (reOpenDevNull), stdio is
# chowned to the process's user (fixStdioPermissions), and containers
# started the way users start them — detached on /dev/null, on pipes, with
# a terminal — checkpoint and restore with their stdio. Checkpoint tests
# need `criu` on PATH when RUNTIME is runc; they are skipped otherwise.

load helpers

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

@test "run -d </dev/null: stdio is reopened on the container's /dev/null" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(n1)
	rt run -d n1 </dev/null >/dev/null 2>&1
	pid=$(init_pid n1)
	for fd in 0 1 2; do
		fd_is_null "$pid" $fd
		fd_in_container "$pid" $fd
	done
}

@test "create/start </dev/null: stdio is reopened on the container's /dev/null" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(n2)
	rt create n2 </dev/null >/dev/null 2>&1
	rt start n2
	pid=$(init_pid n2)
	for fd in 0 1 2; do
		fd_is_null "$pid" $fd
		fd_in_container "$pid" $fd
	done
}

@test "exec -d </dev/null: the exec'd process gets the container's /dev/null" {
	is_zanshin || skip "runc 1.1 leaves the host's /dev/null on exec'd processes"
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(n3)
	rt run -d n3 </dev/null >/dev/null 2>&1
	rt exec -d --pid-file "$ROOT/exec.pid" n3 sleep 999 </dev/null >/dev/null 2>&1
	pid=$(cat "$ROOT/exec.pid")
	for fd in 0 1 2; do
		fd_is_null "$pid" $fd
		fd_in_container "$pid" $fd
	done
}

@test "pipes and files stay what they are" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(n4)
	pipes "sleep 1000" /dev/null
	rt run -d n4 <&$PIN >"$ROOT/n4.out" 2>/dev/null
	close_pipes
	pid=$(init_pid n4)
	[[ "$(readlink "/proc/$pid/fd/0")" == pipe:* ]]
	[ "$(readlink "/proc/$pid/fd/1")" = "$ROOT/n4.out" ]
	fd_is_null "$pid" 2
	fd_in_container "$pid" 2
}

@test "/dev bound from the host: the host's /dev/null stays (runc's condition)" {
	update_config '.process.args = ["sleep", "1000"]
		| .mounts |= map(select(.destination | startswith("/dev") | not))
		| .mounts += [{destination: "/dev", type: "bind", source: "/dev", options: ["rbind", "ro"]}]'
	IDS+=(n5)
	rt run -d n5 </dev/null >/dev/null 2>&1
	pid=$(init_pid n5)
	fd_is_null "$pid" 0
	[ "$(awk '/^mnt_id:/ {print $2}' "/proc/$pid/fdinfo/0")" = "$(awk '/^mnt_id:/ {print $2}' /proc/self/fdinfo/0 </dev/null)" ]
}

@test "stdio is chowned to process.user.uid, /dev/null is not" {
	update_config '.process.args = ["sleep", "1000"] | .process.user = {uid: 1000, gid: 1000}'
	IDS+=(n6)
	: >"$ROOT/n6.out"
	chmod 0644 "$ROOT/n6.out"
	rt run -d n6 </dev/null >"$ROOT/n6.out" 2>/dev/null
	[ "$(stat -c %u "$ROOT/n6.out")" = 1000 ]
	[ "$(stat -c %u /dev/null)" = 0 ]
}

@test "checkpoint/restore: a counter loop detached on /dev/null continues from its count" {
	need_criu
	counter_config
	IDS+=(c1)
	rt run -d c1 </dev/null >/dev/null 2>&1
	wait_count 5
	run cr checkpoint --image-path "$ROOT/img1" c1
	echo "$output"
	[ "$status" -eq 0 ]
	before=$(count)
	sleep 0.3
	[ "$(count)" = "$before" ] # it is gone, not counting
	run cr restore -d --image-path "$ROOT/img1" c1 </dev/null >/dev/null 2>&1
	[ "$status" -eq 0 ]
	wait_count $((before + 3))
	# the restored init still has the container's /dev/null, and can go again
	pid=$(init_pid c1)
	fd_is_null "$pid" 0 && fd_in_container "$pid" 0
	run cr checkpoint --image-path "$ROOT/img2" c1
	echo "$output"
	[ "$status" -eq 0 ]
	run cr restore -d --image-path "$ROOT/img2" c1 </dev/null >/dev/null 2>&1
	[ "$status" -eq 0 ]
	wait_count $((before + 6))
}

@test "checkpoint/restore: a counter printing to pipes prints on the new pipes, from its count" {
	need_criu
	counter_config
	IDS+=(c2)
	pipes "sleep 1000" "$ROOT/out1"
	rt run -d c2 <&$PIN >&$POUT 2>&1
	close_pipes
	wait_count 5
	run cr checkpoint --image-path "$ROOT/img1" c2
	echo "$output"
	[ "$status" -eq 0 ]
	last=$(count)
	pipes "sleep 1000" "$ROOT/out2"
	cr restore -d --image-path "$ROOT/img1" c2 <&$PIN >&$POUT 2>&1
	close_pipes
	wait_count $((last + 3))
	sleep 0.3
	# out2 starts right after the last count out1 printed
	head -n1 "$ROOT/out2"
	[ "$(head -n1 "$ROOT/out2")" = "count=$((last + 1))" ]
	[ "$(tail -n1 "$ROOT/out1")" = "count=$last" ]
}

@test "checkpoint/restore: interactive (stdin a pipe kept open) reads from the restorer's stdin" {
	need_criu
	update_config '.process.args = ["sh", "-c", "while read l; do echo got:$l; done"]'
	IDS+=(c3)
	# what the user types arrives through FIFOs, as with containerd
	# (held open read-write here: the user's side stays open)
	mkfifo "$ROOT/in1" "$ROOT/in2"
	exec {W1}<>"$ROOT/in1" {W2}<>"$ROOT/in2"
	pipes "cat $ROOT/in1" "$ROOT/out1"
	rt run -d c3 <&$PIN >&$POUT 2>&1
	close_pipes
	echo one >&$W1
	wait_file "$ROOT/out1" got:one
	run cr checkpoint --image-path "$ROOT/img1" c3
	echo "$output"
	[ "$status" -eq 0 ]
	pipes "cat $ROOT/in2" "$ROOT/out2"
	cr restore -d --image-path "$ROOT/img1" c3 <&$PIN >&$POUT 2>&1
	close_pipes
	echo two >&$W2
	wait_file "$ROOT/out2" got:two
	! grep got:two "$ROOT/out1"
	exec {W1}>&- {W2}>&-
}

@test "checkpoint/restore: a terminal through --console-socket" {
	need_criu
	update_config '.process.terminal = true | .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done"]
		| .mounts |= map(select(.destination != "/tmp"))'
	IDS+=(c4)
	"$RECVTTY" --mode null --no-stdin --pid-file "$ROOT/tty.pid" "$ROOT/tty.sock" >/dev/null 2>&1 3>&- &
	for _ in $(seq 100); do [ -S "$ROOT/tty.sock" ] && [ -s "$ROOT/tty.pid" ] && break; sleep 0.1; done
	TTYPID=$(cat "$ROOT/tty.pid")
	rt run -d --console-socket "$ROOT/tty.sock" c4 </dev/null >/dev/null 2>&1
	wait_count 3
	run cr checkpoint --image-path "$ROOT/img1" c4
	echo "$output"
	[ "$status" -eq 0 ]
	last=$(count)
	run cr restore -d --console-socket "$ROOT/tty.sock" --image-path "$ROOT/img1" c4 </dev/null >/dev/null 2>&1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_count $((last + 3))
	pid=$(init_pid c4)
	[[ "$(readlink "/proc/$pid/fd/0")" == /dev/pts/* ]]
}

@test "restore with the host's /dev/null of an image with pipes: checkpoints again" {
	is_zanshin || skip "runc 1.1 hands the host's /dev/null to CRIU, which cannot dump it again"
	counter_config
	IDS+=(c5)
	pipes "sleep 1000" /dev/null
	rt run -d c5 <&$PIN >&$POUT 2>&1
	close_pipes
	wait_count 3
	cr checkpoint --image-path "$ROOT/img1" c5
	cr restore -d --image-path "$ROOT/img1" c5 </dev/null >/dev/null 2>&1
	pid=$(init_pid c5)
	fd_is_null "$pid" 0
	! fd_in_container "$pid" 0 # CRIU gave it the restorer's: the host's
	run cr checkpoint --image-path "$ROOT/img2" c5
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.[0] | startswith("file[")' "$ROOT/img2/descriptors.json"
	last=$(count)
	pipes "sleep 1000" /dev/null
	cr restore -d --image-path "$ROOT/img2" c5 <&$PIN >&$POUT 2>&1
	close_pipes
	wait_count $((last + 3))
	fd_is_null "$(init_pid c5)" 1
}

@test "checkpoint of a container whose stdout is a host file: a clear error, the container keeps running" {
	is_zanshin || skip "runc leaves it to CRIU's log"
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(c6)
	rt run -d c6 </dev/null >"$ROOT/c6.log" 2>&1
	run cr checkpoint --image-path "$ROOT/img1" c6
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"stdout (fd 1) is \`$ROOT/c6.log\`, a file outside the container's mounts"* ]]
	[ "$(state_field c6 status)" = running ]
}

@test "checkpoint of a container whose stdio is a host socket: a clear error, the container keeps running" {
	is_zanshin || skip "runc leaves it to CRIU's log"
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(c7)
	python3 -c '
import socket, subprocess, sys
a, b = socket.socketpair()
sys.exit(subprocess.run(sys.argv[1:], stdin=b, stdout=b, stderr=subprocess.DEVNULL).returncode)' \
		"$RUNTIME" --root "$STATE" run -d c7
	run cr checkpoint --image-path "$ROOT/img1" c7
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"stdin (fd 0) is \`socket:["*"a socket of another network namespace"* ]]
	[ "$(state_field c7 status)" = running ]
}
