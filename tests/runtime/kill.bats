#!/usr/bin/env bats
# kill: signal names and numbers, default SIGTERM, --all.

load helpers

setup() {
	setup_bundle
	# pid 1 ignores signals without a handler: trap them and report.
	update_config '.process.args = ["sh", "-c", "trap \"echo got-USR1\" USR1; trap \"echo got-HUP\" HUP; trap \"echo got-TERM; exit 0\" TERM; echo ready; while :; do sleep 0.1; done"]'
}
teardown() { teardown_bundle; }

@test "kill by name (USR1, SIGHUP) and by number (10)" {
	run_bg k1
	wait_file "$ROOT/k1.out" ready
	run rt kill k1 USR1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_file "$ROOT/k1.out" got-USR1
	run rt kill k1 SIGHUP
	echo "$output"
	[ "$status" -eq 0 ]
	wait_file "$ROOT/k1.out" got-HUP
	run rt kill k1 10
	echo "$output"
	[ "$status" -eq 0 ]
	for _ in $(seq 50); do [ "$(grep -c got-USR1 "$ROOT/k1.out")" -ge 2 ] && break; sleep 0.1; done
	[ "$(grep -c got-USR1 "$ROOT/k1.out")" -eq 2 ]
	[ "$(state_field k1 status)" = running ]
}

@test "kill without a signal sends SIGTERM" {
	run_bg k2
	wait_file "$ROOT/k2.out" ready
	run rt kill k2
	echo "$output"
	[ "$status" -eq 0 ]
	wait_file "$ROOT/k2.out" got-TERM
	wait_status k2 stopped
}

@test "kill KILL and 9 stop the container" {
	run_bg k3
	wait_file "$ROOT/k3.out" ready
	run rt kill k3 KILL
	echo "$output"
	[ "$status" -eq 0 ]
	wait_status k3 stopped
	update_config '.process.args = ["sleep", "1000"]'
	run_bg k4
	run rt kill k4 9
	echo "$output"
	[ "$status" -eq 0 ]
	wait_status k4 stopped
}

@test "kill --all reaches processes outside the init's pid namespace" {
	# Without a pid namespace, killing init does not kill its children.
	update_config '.linux.namespaces -= [{type: "pid"}] | .process.args = ["sh", "-c", "sleep 2001 & sleep 2002 & echo ready; wait"]'
	run_bg k5
	wait_file "$ROOT/k5.out" ready
	run rt ps --format json k5
	echo "$output"
	[ "$status" -eq 0 ]
	n=$(echo "$output" | jq length)
	[ "$n" -ge 3 ]
	pids=$(echo "$output" | jq -r '.[]')
	run rt kill --all k5 KILL
	echo "$output"
	[ "$status" -eq 0 ]
	for _ in $(seq 50); do
		alive=0
		for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	[ $alive = 0 ]
	wait_status k5 stopped
}
