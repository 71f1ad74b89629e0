#!/usr/bin/env bats
# Passing fds on purpose: --preserve-fds and systemd socket activation
# (LISTEN_FDS), for run and exec.

load helpers

setup() {
	setup_bundle
	echo fd3-content >"$ROOT/f3"
	echo fd4-content >"$ROOT/f4"
	echo fd5-content >"$ROOT/f5"
}
teardown() { teardown_bundle; }

@test "run --preserve-fds 2: fds 3 and 4 reach the process, 5 does not" {
	update_config '.process.args = ["sh", "-c", "cat <&3; cat <&4; { cat <&5; } 2>/dev/null || echo no-fd5"]'
	IDS+=(pf1)
	run sh -c "exec \"$RUNTIME\" --root \"$STATE\" run --preserve-fds 2 pf1 3<\"$ROOT/f3\" 4<\"$ROOT/f4\" 5<\"$ROOT/f5\""
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "fd3-content
fd4-content
no-fd5" ]
}

@test "exec --preserve-fds 1" {
	update_config '.process.args = ["sleep", "1000"]'
	run_bg pf2
	run sh -c "exec \"$RUNTIME\" --root \"$STATE\" exec --preserve-fds 1 pf2 sh -c 'cat <&3; { cat <&4; } 2>/dev/null || echo no-fd4' 3<\"$ROOT/f3\" 4<\"$ROOT/f4\""
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "fd3-content
no-fd4" ]
}

@test "LISTEN_FDS: activation fds and the variables are passed on" {
	update_config '.process.args = ["sh", "-c", "echo LISTEN_FDS=$LISTEN_FDS; cat <&3"]'
	IDS+=(lf)
	run sh -c "LISTEN_FDS=1 LISTEN_PID=\$\$ exec \"$RUNTIME\" --root \"$STATE\" run lf 3<\"$ROOT/f3\""
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = LISTEN_FDS=1 ]
	[ "${lines[1]}" = fd3-content ]
}
