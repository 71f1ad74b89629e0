#!/usr/bin/env bats
# create / start / state / delete, and the create-start split.

load helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

@test "create waits for start; start runs the process; state follows" {
	update_config '.root.readonly = false | .process.args = ["sh", "-c", "echo started > /ran; exec sleep 1000"]'
	create_bg lc1
	[ "$(state_field lc1 status)" = created ]
	pid=$(state_field lc1 pid)
	[ "$pid" -gt 0 ]
	kill -0 "$pid"
	[ "$(cat "$ROOT/lc1.pid")" = "$pid" ]
	# The user process has not run yet.
	sleep 0.3
	[ ! -e "$BUNDLE/rootfs/ran" ]

	run rt start lc1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_status lc1 running
	wait_file "$BUNDLE/rootfs/ran" started
	[ "$(state_field lc1 pid)" = "$pid" ]
	[ "$(cat "/proc/$pid/comm")" = sleep ]
}

@test "state JSON has the fields containerd and Podman read" {
	update_config '.process.args = ["sleep", "1000"]'
	run_bg st1
	run rt state st1
	echo "$output"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg b "$BUNDLE" '
		.ociVersion != null and .id == "st1" and .status == "running" and
		(.pid | type) == "number" and .bundle == $b and (.created | type) == "string"'
}

@test "start twice fails, container keeps running" {
	update_config '.process.args = ["sleep", "1000"]'
	create_bg st2
	run rt start st2
	echo "$output"
	[ "$status" -eq 0 ]
	run rt start st2
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$(state_field st2 status)" = running ]
}

@test "process exit makes the container stopped; delete removes every trace" {
	update_config '.process.args = ["true"]'
	create_bg st3
	[ -d "$(cgroup_dir memory)" ]
	run rt start st3
	echo "$output"
	[ "$status" -eq 0 ]
	wait_status st3 stopped
	run rt delete st3
	echo "$output"
	[ "$status" -eq 0 ]
	run rt state st3
	echo "$output"
	[ "$status" -ne 0 ]
	assert_no_trace st3
}

@test "delete of a running container needs --force" {
	update_config '.process.args = ["sleep", "1000"]'
	run_bg st4
	pid=$(state_field st4 pid)
	run rt delete st4
	echo "$output"
	[ "$status" -ne 0 ]
	kill -0 "$pid"
	run rt delete --force st4
	echo "$output"
	[ "$status" -eq 0 ]
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null
	assert_no_trace st4
}

@test "delete --force of a created (never started) container" {
	update_config '.process.args = ["sleep", "1000"]'
	create_bg st5
	pid=$(state_field st5 pid)
	run rt delete --force st5
	echo "$output"
	[ "$status" -eq 0 ]
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null
	assert_no_trace st5
}

@test "state directory is not world-readable" {
	update_config '.process.args = ["sleep", "1000"]'
	run_bg st6
	ls -laR "$STATE"
	# Nothing under the container's state directory readable by others.
	[ -z "$(find "$STATE/st6" -perm -o+r ! -type l)" ]
}

@test "concurrent creates of one ID: exactly one wins, nothing is corrupted" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(race)
	for i in 1 2 3 4 5 6; do
		(
			rc=0
			rt create race >/dev/null 2>"$ROOT/race.$i.err" </dev/null || rc=$?
			echo $rc >"$ROOT/race.$i.rc"
		) &
	done
	wait
	ok=0
	for i in 1 2 3 4 5 6; do
		rc=$(cat "$ROOT/race.$i.rc")
		[ "$rc" -eq 0 ] && ok=$((ok + 1))
		[ "$rc" -eq 0 ] || cat "$ROOT/race.$i.err"
	done
	echo "winners: $ok"
	[ "$ok" -eq 1 ]
	[ "$(state_field race status)" = created ]
	kill -0 "$(state_field race pid)"
	run rt delete -f race
	echo "$output"
	[ "$status" -eq 0 ]
	assert_no_trace race
}
