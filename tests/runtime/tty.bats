#!/usr/bin/env bats
# terminal: true with --console-socket (as containerd and Podman use it).

load helpers

setup() {
	setup_bundle
	"$RECVTTY" --mode single --no-stdin --pid-file "$ROOT/tty.pid" "$ROOT/tty.sock" >"$ROOT/tty.out" 2>&1 &
	# recvtty binds the socket before it writes its pid file: wait for both.
	for _ in $(seq 100); do [ -S "$ROOT/tty.sock" ] && [ -s "$ROOT/tty.pid" ] && break; sleep 0.1; done
	TTYPID=$(cat "$ROOT/tty.pid")
	update_config '.process.terminal = true'
}
teardown() {
	[ -n "${TTYPID:-}" ] && kill -9 "$TTYPID" 2>/dev/null
	teardown_bundle
}

@test "run -d --console-socket: the process has the pty as stdio and controlling tty" {
	update_config '.process.args = ["sh", "-c", "tty; for f in 0 1 2; do readlink /proc/self/fd/$f; done; echo tty-done; sleep 1000"]'
	IDS+=(t1)
	run rt run -d --console-socket "$ROOT/tty.sock" t1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_file "$ROOT/tty.out" tty-done
	cat "$ROOT/tty.out"
	[ "$(grep -c '^/dev/pts/0' "$ROOT/tty.out")" -eq 4 ]
}

@test "run -d --console-socket does not keep the caller's stdout open" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(t2)
	# With a terminal the container's stdio is the pty: the pipe must see
	# EOF as soon as the runtime exits.
	run timeout 10 sh -c "\"$RUNTIME\" --root \"$STATE\" run -d --console-socket \"$ROOT/tty.sock\" t2 | cat"
	[ "$status" -eq 0 ]
	[ "$(state_field t2 status)" = running ]
}

@test "terminal: true without --console-socket in detached mode is an error" {
	update_config '.process.args = ["true"]'
	IDS+=(t3)
	run rt run -d t3
	echo "$output"
	[ "$status" -ne 0 ]
	assert_no_trace t3
}
