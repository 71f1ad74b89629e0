#!/usr/bin/env bats
# cgroups (v1 on this host): absolute and relative cgroupsPath, cgroup
# namespace, cpuset and a few controllers, cleanup on delete.

load helpers

setup() {
	setup_bundle
	update_config '.process.args = ["sleep", "1000"]'
}
teardown() {
	[ -n "${RELDIR:-}" ] && for c in /sys/fs/cgroup/*/"$RELDIR"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
	teardown_bundle
}

# The caller's own cgroup in CONTROLLER (v1).
own_cgroup() { awk -F: -v c="$1" '$2 == c {print $3}' /proc/self/cgroup; }

@test "absolute cgroupsPath: the init is in that cgroup of every controller" {
	run_bg cg1
	pid=$(state_field cg1 pid)
	for c in memory pids cpu cpuset devices freezer blkio; do
		[ "$(awk -F: -v c="$c" '$2 ~ "(^|,)" c "(,|$)" {print $3}' "/proc/$pid/cgroup")" = "$CG" ]
	done
}

@test "relative cgroupsPath is under the caller's cgroup" {
	RELDIR=zt-rel-$$-$RANDOM
	update_config --arg p "$RELDIR/c" '.linux.cgroupsPath = $p'
	run_bg cg2
	pid=$(state_field cg2 pid)
	mem=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
	parent=$(own_cgroup memory)
	echo "container: $mem, caller: $parent"
	[ "$mem" = "${parent%/}/$RELDIR/c" ]
	rt delete -f cg2
	[ ! -d "/sys/fs/cgroup/memory${parent%/}/$RELDIR/c" ]
	rmdir "/sys/fs/cgroup/memory${parent%/}/$RELDIR" 2>/dev/null || true
}

@test "cgroup namespace: the container sees its cgroup as /" {
	update_config '.linux.namespaces += [{type: "cgroup"}] | .process.args = ["cat", "/proc/self/cgroup"]'
	IDS+=(cg3)
	run rt run cg3
	echo "$output"
	[ "$status" -eq 0 ]
	echo "$output"
	grep -q ':memory:/$' <<<"$output"
	grep -q ':pids:/$' <<<"$output"
}

@test "cpuset, pids and memory limits from config.json" {
	update_config '.linux.resources += {cpu: {cpus: "0", mems: "0"}, pids: {limit: 17}, memory: {limit: 33554432, reservation: 16777216}}'
	run_bg cg4
	[ "$(cat "$(cgroup_dir cpuset)/cpuset.cpus")" = 0 ]
	[ "$(cat "$(cgroup_dir pids)/pids.max")" = 17 ]
	[ "$(cat "$(cgroup_dir memory)/memory.limit_in_bytes")" = 33554432 ]
	[ "$(cat "$(cgroup_dir memory)/memory.soft_limit_in_bytes")" = 16777216 ]
	pid=$(state_field cg4 pid)
	[ "$(awk '/Cpus_allowed_list/ {print $2}' "/proc/$pid/status")" = 0 ]
}

@test "pids limit is enforced" {
	update_config '.linux.resources.pids = {limit: 5} | .process.args = ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 100 & done 2>&1; echo spawned"]'
	IDS+=(cg5)
	run rt run cg5
	echo "$output"
	[[ "$output" == *"Resource temporarily unavailable"* ]] || [[ "$output" == *"can't fork"* ]]
}

@test "delete removes the cgroup in every controller" {
	run_bg cg6
	[ -d "$(cgroup_dir memory)" ]
	rt delete -f cg6
	for c in /sys/fs/cgroup/*"$CG"; do
		[ ! -d "$c" ] || { echo "left: $c"; false; }
	done
}
