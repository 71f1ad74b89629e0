#!/usr/bin/env bats
# `run`: foreground output and exit codes, detached mode, --pid-file.

load helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

@test "run: output of the container process" {
	update_config '.process.args = ["sh", "-c", "echo hello-$((6*7)); echo pid=$$; hostname"]'
	IDS+=(r1)
	run rt run r1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *hello-42* ]]
	[[ "$output" == *pid=1* ]]
	[[ "$output" == *zanshin-test* ]]
	assert_no_trace r1
}

@test "run: exit codes are the process's" {
	for code in 0 1 3 42 255; do
		update_config --argjson c "$code" '.process.args = ["sh", "-c", "exit \($c)"]'
		IDS+=(r2)
		run rt run r2
		echo "$output"
		echo "want $code got $status"
		[ "$status" -eq "$code" ]
	done
}

@test "run: a process killed by a signal gives 128+signal" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(r3)
	rt run r3 >/dev/null 2>&1 </dev/null &
	bg=$!
	wait_status r3 running
	kill -KILL "$(state_field r3 pid)"
	rc=0
	wait "$bg" || rc=$?
	[ "$rc" -eq 137 ]
}

@test "run: a missing executable is an error naming it" {
	update_config '.process.args = ["/no/such/binary"]'
	IDS+=(r4)
	run rt run r4
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == */no/such/binary* ]]
	assert_no_trace r4
}

@test "run -d --pid-file: detached, pid file matches state" {
	update_config '.process.args = ["sleep", "1000"]'
	run_bg r5
	[ "$(state_field r5 status)" = running ]
	[ "$(cat "$ROOT/r5.pid")" = "$(state_field r5 pid)" ]
	[ "$(cat "/proc/$(cat "$ROOT/r5.pid")/comm")" = sleep ]
}

@test "run: env, cwd, user, hostname, rlimits from config.json" {
	update_config '.process.env += ["ZT_A=one two"] | .process.cwd = "/tmp"
		| .process.user = {uid: 65534, gid: 65534, additionalGids: [5]}
		| .process.rlimits = [{type: "RLIMIT_NOFILE", soft: 321, hard: 654}]
		| .hostname = "zt-host"
		| .process.args = ["sh", "-c", "echo \"$ZT_A|$(pwd)|$(id -u):$(id -g)|$(id -G)|$(hostname)|$(ulimit -n)|$(ulimit -Hn)\""]'
	IDS+=(r6)
	run rt run r6
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "one two|/tmp|65534:65534|65534 5|zt-host|321|654" ]
}

@test "run: umask from config.json" {
	update_config '.process.user.umask = 63 | .process.args = ["sh", "-c", "umask; touch /tmp/f; stat -c %a /tmp/f"]'
	IDS+=(r7)
	run rt run r7
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *077 ]]
	[ "${lines[1]}" = 600 ]
}
