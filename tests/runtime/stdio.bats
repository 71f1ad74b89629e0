#!/usr/bin/env bats
# stdio as runc 1.1 leaves it (issue 12): the host's /dev/null on fds 0-2
# is reopened on the container's /dev/null (reOpenDevNull), stdio is
# chowned to the process's user (fixStdioPermissions); stdio CRIU cannot
# dump is refused at checkpoint with its name. Checkpoint/restore of the
# stdio shapes users give containers: stdio-cr.bats, stdio-cr-shapes.bats.
load helpers
load stdio_helpers

@test "run -d </dev/null: stdio is reopened on the container's /dev/null" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(n1)
	rt run -d n1 </dev/null >/dev/null 2>&1
	pid=$(init_pid n1)
	for fd in 0 1 2; do
		fd_is_null "$pid" $fd
		fd_in_container "$pid" $fd
	done
}

@test "create/start </dev/null: stdio is reopened on the container's /dev/null" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(n2)
	rt create n2 </dev/null >/dev/null 2>&1
	rt start n2
	pid=$(init_pid n2)
	for fd in 0 1 2; do
		fd_is_null "$pid" $fd
		fd_in_container "$pid" $fd
	done
}

@test "exec -d </dev/null: the exec'd process gets the container's /dev/null" {
	is_zanshin || skip "runc 1.1 leaves the host's /dev/null on exec'd processes"
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(n3)
	rt run -d n3 </dev/null >/dev/null 2>&1
	rt exec -d --pid-file "$ROOT/exec.pid" n3 sleep 999 </dev/null >/dev/null 2>&1
	pid=$(cat "$ROOT/exec.pid")
	for fd in 0 1 2; do
		fd_is_null "$pid" $fd
		fd_in_container "$pid" $fd
	done
}

@test "pipes and files stay what they are" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(n4)
	pipes "sleep 1000" /dev/null
	rt run -d n4 <&$PIN >"$ROOT/n4.out" 2>/dev/null
	close_pipes
	pid=$(init_pid n4)
	[[ "$(readlink "/proc/$pid/fd/0")" == pipe:* ]]
	[ "$(readlink "/proc/$pid/fd/1")" = "$ROOT/n4.out" ]
	fd_is_null "$pid" 2
	fd_in_container "$pid" 2
}

@test "/dev bound from the host: the host's /dev/null stays (runc's condition)" {
	update_config '.process.args = ["sleep", "1000"]
		| .mounts |= map(select(.destination | startswith("/dev") | not))
		| .mounts += [{destination: "/dev", type: "bind", source: "/dev", options: ["rbind", "ro"]}]'
	IDS+=(n5)
	rt run -d n5 </dev/null >/dev/null 2>&1
	pid=$(init_pid n5)
	fd_is_null "$pid" 0
	[ "$(awk '/^mnt_id:/ {print $2}' "/proc/$pid/fdinfo/0")" = "$(awk '/^mnt_id:/ {print $2}' /proc/self/fdinfo/0 </dev/null)" ]
}

@test "stdio is chowned to process.user.uid, /dev/null is not" {
	update_config '.process.args = ["sleep", "1000"] | .process.user = {uid: 1000, gid: 1000}'
	IDS+=(n6)
	: >"$ROOT/n6.out"
	chmod 0644 "$ROOT/n6.out"
	rt run -d n6 </dev/null >"$ROOT/n6.out" 2>/dev/null
	[ "$(stat -c %u "$ROOT/n6.out")" = 1000 ]
	[ "$(stat -c %u /dev/null)" = 0 ]
}

@test "checkpoint of a container whose stdout is a host file: a clear error, the container keeps running" {
	is_zanshin || skip "runc leaves it to CRIU's log"
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(c6)
	rt run -d c6 </dev/null >"$ROOT/c6.log" 2>&1
	run cr checkpoint --image-path "$ROOT/img1" c6
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"stdout (fd 1) is \`$ROOT/c6.log\`, a file outside the container's mounts"* ]]
	[ "$(state_field c6 status)" = running ]
}

@test "checkpoint of a container whose stdio is a host socket: a clear error, the container keeps running" {
	is_zanshin || skip "runc leaves it to CRIU's log"
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(c7)
	python3 -c '
import socket, subprocess, sys
a, b = socket.socketpair()
sys.exit(subprocess.run(sys.argv[1:], stdin=b, stdout=b, stderr=subprocess.DEVNULL).returncode)' \
		"$RUNTIME" --root "$STATE" run -d c7
	run cr checkpoint --image-path "$ROOT/img1" c7
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"stdin (fd 0) is \`socket:["*"a socket of another network namespace"* ]]
	[ "$(state_field c7 status)" = running ]
}
