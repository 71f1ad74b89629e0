#!/usr/bin/env bats
# Checkpoint/restore of containers started as users start them (issue 12):
# detached on the host's /dev/null and on pipes; the counter goes on from
# its count. Needs `criu` on PATH when RUNTIME is runc (skipped otherwise).
load helpers
load stdio_helpers

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
	# out2 starts right after the last count out1 printed, at or after
	# the count the checkpoint saw
	first=$(head -n1 "$ROOT/out2")
	prev=$(tail -n1 "$ROOT/out1")
	echo "out1 ends with $prev, out2 starts with $first, /tmp/count was $last"
	[ "${first#count=}" -eq $((${prev#count=} + 1)) ]
	[ "${first#count=}" -ge "$last" ]
}
