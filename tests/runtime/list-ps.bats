#!/usr/bin/env bats
# list and ps, text and JSON.

load helpers

setup() {
	setup_bundle
	update_config '.process.args = ["sh", "-c", "sleep 1000 & echo ready; wait"]'
}
teardown() { teardown_bundle; }

@test "list --format json and -q" {
	run_bg l1
	update_config '.process.args = ["sleep", "1000"]'
	create_bg l2
	run rt list --format json
	echo "$output"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg b "$BUNDLE" '
		length == 2 and
		(map(select(.id == "l1"))[0] | .status == "running" and .bundle == $b and (.pid | type) == "number" and (.created | type) == "string") and
		(map(select(.id == "l2"))[0] | .status == "created")'
	run rt list -q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]}" | sort | tr '\n' ' ')" = "l1 l2 " ]
	run rt list
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == ID* ]]
	[[ "$output" == *l1*running* ]]
}

@test "list of an empty root" {
	run rt list -q
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run rt list --format json
	echo "$output"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e 'length == 0 or . == null'
}

@test "ps --format json: host pids of every container process" {
	run_bg p1
	wait_file "$ROOT/p1.out" ready
	run rt ps --format json p1
	echo "$output"
	[ "$status" -eq 0 ]
	init=$(state_field p1 pid)
	echo "$output" | jq -e --argjson i "$init" 'type == "array" and length == 2 and (index($i) != null)'
	for p in $(echo "$output" | jq -r '.[]'); do
		[ "$(readlink "/proc/$p/ns/pid")" = "$(readlink "/proc/$init/ns/pid")" ] || [ "$p" = "$init" ]
	done
}

@test "ps (table) lists the processes" {
	run_bg p2
	wait_file "$ROOT/p2.out" ready
	run rt ps p2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *PID* ]]
	[[ "$output" == *"sleep 1000"* ]]
}
