#!/usr/bin/env bats
# exec: output, exit codes, --env/--cwd/--user, --process, --detach
# --pid-file, --tty through a console socket.

load helpers

setup() {
	setup_bundle
	update_config '.process.args = ["sleep", "1000"]'
	run_bg ex
}
teardown() {
	[ -n "${TTYPID:-}" ] && kill -9 "$TTYPID" 2>/dev/null
	teardown_bundle
}

@test "exec: output and pid namespace" {
	run rt exec ex sh -c 'echo exec-$((40+2)); cat /proc/1/comm'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = exec-42 ]
	[ "${lines[1]}" = sleep ]
}

@test "exec: exit codes" {
	for code in 0 2 77; do
		run rt exec ex sh -c "exit $code"
		echo "$output"
		[ "$status" -eq "$code" ]
	done
}

@test "exec --env --cwd --user" {
	run rt exec --env ZT_X=val --cwd /tmp --user 65534:65534 ex sh -c 'echo "$ZT_X $(pwd) $(id -u):$(id -g)"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "val /tmp 65534:65534" ]
}

@test "exec --process JSON file" {
	jq -n '{terminal: false, user: {uid: 1, gid: 1}, cwd: "/dev", env: ["PATH=/bin:/usr/bin", "ZT_P=proc"],
		args: ["sh", "-c", "echo \"$ZT_P $(pwd) $(id -u)\""]}' >"$ROOT/process.json"
	run rt exec --process "$ROOT/process.json" ex
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "proc /dev 1" ]
}

@test "exec --detach --pid-file" {
	rt exec --detach --pid-file "$ROOT/e.pid" ex sleep 1234 >/dev/null 2>&1 </dev/null
	pid=$(cat "$ROOT/e.pid")
	[ "$(cat "/proc/$pid/comm")" = sleep ]
	grep -q 1234 "/proc/$pid/cmdline"
	# It is in the container's pid namespace.
	[ "$(readlink "/proc/$pid/ns/pid")" = "$(readlink "/proc/$(state_field ex pid)/ns/pid")" ]
}

@test "exec --tty --detach --console-socket: output comes through the pty" {
	"$RECVTTY" --mode single --no-stdin --pid-file "$ROOT/tty.pid" "$ROOT/tty.sock" >"$ROOT/tty.out" 2>&1 &
	# recvtty binds the socket before it writes its pid file: wait for both.
	for _ in $(seq 100); do [ -S "$ROOT/tty.sock" ] && [ -s "$ROOT/tty.pid" ] && break; sleep 0.1; done
	TTYPID=$(cat "$ROOT/tty.pid")
	# As containerd's shim does it: detached, the pty master goes to the socket.
	run rt exec --tty --detach --pid-file "$ROOT/tty-exec.pid" --console-socket "$ROOT/tty.sock" ex sh -c 'tty; echo tty-ok; sleep 1'
	echo "$output"
	[ "$status" -eq 0 ]
	wait_file "$ROOT/tty.out" tty-ok
	grep -q '/dev/pts/' "$ROOT/tty.out"
}

@test "exec into a stopped container fails" {
	rt kill ex KILL
	wait_status ex stopped
	run rt exec ex true
	echo "$output"
	[ "$status" -ne 0 ]
}
