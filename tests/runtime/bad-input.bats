#!/usr/bin/env bats
# Bad input: each gets a clear error naming the problem, a non-zero exit,
# and leaves no state entry, cgroup or mount behind.

load helpers

setup() {
	setup_bundle
	update_config '.process.args = ["sleep", "1000"]'
}
teardown() { teardown_bundle; }

# expect_fail PATTERN CMD...: non-zero exit, and the output matches PATTERN
# (extended regex, case-insensitive).
expect_fail() {
	local pat=$1
	shift
	run "$@"
	echo "status $status: $output"
	[ "$status" -ne 0 ]
	grep -Eqi -- "$pat" <<<"$output"
}

@test "malformed config.json" {
	echo '{"ociVersion": "1.0.2", "process": ' >"$BUNDLE/config.json"
	IDS+=(b1)
	# zanshin must name the file (DESIGN.md); runc 1.1 only says "unexpected EOF".
	pat='config\.json'
	[ "$(basename "$RUNTIME")" = runc ] && pat='config\.json|unexpected EOF'
	expect_fail "$pat" rt create b1
	assert_no_trace b1
	expect_fail "$pat" rt run b1
	assert_no_trace b1
}

@test "config.json with a field of the wrong type names the field" {
	update_config '.process.args = "sleep 1000"'
	IDS+=(b2)
	expect_fail 'args' rt create b2
	assert_no_trace b2
}

@test "missing config.json" {
	rm "$BUNDLE/config.json"
	IDS+=(b3)
	expect_fail 'config\.json' rt create b3
	assert_no_trace b3
}

@test "missing rootfs" {
	rm -rf "$BUNDLE/rootfs"
	IDS+=(b4)
	expect_fail 'rootfs' rt create b4
	assert_no_trace b4
	[ ! -e "$BUNDLE/rootfs" ] || [ -z "$(ls -A "$BUNDLE/rootfs")" ]
}

@test "missing executable in the rootfs" {
	update_config '.process.args = ["/bin/zt-no-such"]'
	IDS+=(b5)
	expect_fail 'zt-no-such' rt run b5
	assert_no_trace b5
}

@test "invalid container IDs are refused and create nothing" {
	before=$(ls -A "$ROOT" | tr '\n' ' ')
	for id in "../x" "a/b" "" ".." "." "/abs" "a b" "x
y"; do
		expect_fail 'id|name|invalid' rt create "$id"
		[ -z "$(ls -A "$STATE")" ]
		[ "$(ls -A "$ROOT" | tr '\n' ' ')" = "$before" ]
		! ls /sys/fs/cgroup/memory"$CG" >/dev/null 2>&1
	done
}

@test "duplicate ID: second create fails, first container untouched" {
	create_bg d1
	pid=$(state_field d1 pid)
	expect_fail 'exist' rt create d1
	[ "$(state_field d1 status)" = created ]
	[ "$(state_field d1 pid)" = "$pid" ]
	kill -0 "$pid"
	run rt start d1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_status d1 running
	expect_fail 'exist' rt run d1
	[ "$(state_field d1 pid)" = "$pid" ]
}

@test "unknown signals are refused; the container keeps running" {
	run_bg sig
	for s in SIGFOO FOO 0x9 SIGRTMAX+1 99999; do
		expect_fail 'signal|invalid|unknown' rt kill sig "$s"
	done
	[ "$(state_field sig status)" = running ]
}

@test "non-existent container: every verb says it does not exist" {
	for verb in state start kill pause resume ps events delete; do
		expect_fail 'does not exist' rt $verb zt-nonexistent
	done
	expect_fail 'does not exist' rt exec zt-nonexistent true
	expect_fail 'does not exist' rt update --pids-limit 10 zt-nonexistent
	[ -z "$(ls -A "$STATE")" ]
}

@test "kill of a stopped container: container not running" {
	update_config '.process.args = ["true"]'
	create_bg stp
	rt start stp
	wait_status stp stopped
	expect_fail 'not running' rt kill stp KILL
	run rt delete stp
	echo "$output"
	[ "$status" -eq 0 ]
	assert_no_trace stp
}

@test "an invalid cgroup resource value fails create and leaves no trace" {
	update_config '.linux.resources.cpu = {quota: 1000, period: 1}'
	IDS+=(cgbad)
	expect_fail 'cpu|period|invalid' rt create cgbad
	assert_no_trace cgbad
}
