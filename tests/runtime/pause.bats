#!/usr/bin/env bats
# pause / resume through the freezer cgroup.

load helpers

setup() {
	setup_bundle
	update_config '.root.readonly = false | .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.05; done"]'
}
teardown() { teardown_bundle; }

# the counter the container writes (`echo > /count` truncates first: a read
# can fall between the truncate and the write; read again then)
count() {
	local v i
	for ((i = 0; i < 50; i++)); do
		v=$(cat "$BUNDLE/rootfs/count" 2>/dev/null)
		[ -n "$v" ] && { echo "$v"; return; }
		sleep 0.01
	done
}

@test "pause freezes, resume thaws" {
	run_bg pz
	wait_file "$BUNDLE/rootfs/count" 2
	run rt pause pz
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(state_field pz status)" = paused ]
	f=$(cgroup_dir freezer)/freezer.state
	if [ -f "$f" ]; then [ "$(cat "$f")" = FROZEN ]; fi
	a=$(count)
	sleep 0.5
	b=$(count)
	echo "paused: $a -> $b"
	[ "$a" = "$b" ]

	run rt resume pz
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(state_field pz status)" = running ]
	if [ -f "$f" ]; then [ "$(cat "$f")" = THAWED ]; fi
	sleep 0.5
	c=$(count)
	echo "resumed: $b -> $c"
	[ "${c:-0}" -gt "${b:-0}" ]
}

@test "pause of a stopped container fails" {
	update_config '.process.args = ["true"]'
	create_bg pz2
	rt start pz2
	wait_status pz2 stopped
	run rt pause pz2
	echo "$output"
	[ "$status" -ne 0 ]
	run rt resume pz2
	echo "$output"
	[ "$status" -ne 0 ]
}

@test "delete --force of a paused container" {
	run_bg pz3
	pid=$(state_field pz3 pid)
	run rt pause pz3
	echo "$output"
	[ "$status" -eq 0 ]
	run rt delete --force pz3
	echo "$output"
	[ "$status" -eq 0 ]
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null
	assert_no_trace pz3
}
