#!/usr/bin/env bats
# update (flags and --resources -) and events --stats, checked in the cgroup.

load helpers

setup() {
	setup_bundle
	update_config '.linux.resources += {memory: {limit: 67108864}, pids: {limit: 100}, cpu: {shares: 512}}
		| .process.args = ["sleep", "1000"]'
	run_bg up
}
teardown() { teardown_bundle; }

@test "resources from config.json are in the cgroup" {
	[ "$(cat "$(cgroup_dir memory)/memory.limit_in_bytes")" -eq 67108864 ]
	[ "$(cat "$(cgroup_dir pids)/pids.max")" = 100 ]
	[ "$(cat "$(cgroup_dir cpu)/cpu.shares")" = 512 ]
	grep -qx "$(state_field up pid)" "$(cgroup_dir memory)/cgroup.procs"
}

@test "update with single flags" {
	run rt update --memory 134217728 --pids-limit 42 --cpu-share 256 --cpu-quota 50000 --cpu-period 100000 up
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$(cgroup_dir memory)/memory.limit_in_bytes")" -eq 134217728 ]
	[ "$(cat "$(cgroup_dir pids)/pids.max")" = 42 ]
	[ "$(cat "$(cgroup_dir cpu)/cpu.shares")" = 256 ]
	[ "$(cat "$(cgroup_dir cpu)/cpu.cfs_quota_us")" = 50000 ]
	[ "$(cat "$(cgroup_dir cpu)/cpu.cfs_period_us")" = 100000 ]
}

@test "update --resources - (JSON on stdin, as containerd sends it)" {
	run rt update --resources - up <<<'{"memory": {"limit": 100663296}, "pids": {"limit": 77}}'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$(cgroup_dir memory)/memory.limit_in_bytes")" -eq 100663296 ]
	[ "$(cat "$(cgroup_dir pids)/pids.max")" = 77 ]
}

@test "events --stats: one JSON stats record" {
	run timeout 10 "$RUNTIME" --root "$STATE" events --stats up
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg id up '.type == "stats" and .id == $id and
		.data.memory.usage.usage > 0 and .data.memory.usage.limit == 67108864 and
		.data.pids.current >= 1 and .data.pids.limit == 100 and
		(.data.cpu.usage.total | type) == "number"'
}

@test "events --interval: periodic stats records" {
	run timeout 1.2 "$RUNTIME" --root "$STATE" events --interval 200ms up
	n=$(grep -c '"type":"stats"' <<<"$output")
	echo "stats records in 1.2 s: $n"
	[ "$n" -ge 3 ]
	[ "$n" -le 8 ]
	[ "$(head -1 <<<"$output" | jq -r .id)" = up ]
}
