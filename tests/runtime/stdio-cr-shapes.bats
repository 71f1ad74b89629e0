#!/usr/bin/env bats
# Checkpoint/restore with the other stdio shapes (issue 12): interactive
# (stdin a pipe kept open), a terminal through --console-socket, and a
# restore given the host's /dev/null for an image that had pipes. Needs
# `criu` on PATH when RUNTIME is runc (skipped otherwise).
load helpers
load stdio_helpers

@test "checkpoint/restore: interactive (stdin a pipe kept open) reads from the restorer's stdin" {
	need_criu
	update_config '.process.args = ["sh", "-c", "while read l; do echo got:$l; done"]'
	IDS+=(c3)
	# what the user types arrives through FIFOs, as with containerd
	# (held open read-write here: the user's side stays open)
	mkfifo "$ROOT/in1" "$ROOT/in2"
	exec {W1}<>"$ROOT/in1" {W2}<>"$ROOT/in2"
	pipes "cat $ROOT/in1" "$ROOT/out1"
	rt run -d c3 <&$PIN >&$POUT 2>&1
	close_pipes
	echo one >&$W1
	wait_file "$ROOT/out1" got:one
	run cr checkpoint --image-path "$ROOT/img1" c3
	echo "$output"
	[ "$status" -eq 0 ]
	pipes "cat $ROOT/in2" "$ROOT/out2"
	cr restore -d --image-path "$ROOT/img1" c3 <&$PIN >&$POUT 2>&1
	close_pipes
	echo two >&$W2
	wait_file "$ROOT/out2" got:two
	! grep got:two "$ROOT/out1"
	exec {W1}>&- {W2}>&-
}

@test "checkpoint/restore: a terminal through --console-socket" {
	need_criu
	update_config '.process.terminal = true | .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done"]
		| .mounts |= map(select(.destination != "/tmp"))'
	IDS+=(c4)
	"$RECVTTY" --mode null --no-stdin --pid-file "$ROOT/tty.pid" "$ROOT/tty.sock" >/dev/null 2>&1 3>&- &
	for _ in $(seq 100); do [ -S "$ROOT/tty.sock" ] && [ -s "$ROOT/tty.pid" ] && break; sleep 0.1; done
	TTYPID=$(cat "$ROOT/tty.pid")
	rt run -d --console-socket "$ROOT/tty.sock" c4 </dev/null >/dev/null 2>&1
	wait_count 3
	run cr checkpoint --image-path "$ROOT/img1" c4
	echo "$output"
	[ "$status" -eq 0 ]
	last=$(count)
	run cr restore -d --console-socket "$ROOT/tty.sock" --image-path "$ROOT/img1" c4 </dev/null >/dev/null 2>&1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_count $((last + 3))
	pid=$(init_pid c4)
	[[ "$(readlink "/proc/$pid/fd/0")" == /dev/pts/* ]]
}

@test "restore with the host's /dev/null of an image with pipes: checkpoints again" {
	is_zanshin || skip "runc 1.1 hands the host's /dev/null to CRIU, which cannot dump it again"
	counter_config
	IDS+=(c5)
	pipes "sleep 1000" /dev/null
	rt run -d c5 <&$PIN >&$POUT 2>&1
	close_pipes
	wait_count 3
	cr checkpoint --image-path "$ROOT/img1" c5
	cr restore -d --image-path "$ROOT/img1" c5 </dev/null >/dev/null 2>&1
	pid=$(init_pid c5)
	fd_is_null "$pid" 0
	! fd_in_container "$pid" 0 # CRIU gave it the restorer's: the host's
	run cr checkpoint --image-path "$ROOT/img2" c5
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.[0] | startswith("file[")' "$ROOT/img2/descriptors.json"
	last=$(count)
	pipes "sleep 1000" /dev/null
	cr restore -d --image-path "$ROOT/img2" c5 <&$PIN >&$POUT 2>&1
	close_pipes
	wait_count $((last + 3))
	fd_is_null "$(init_pid c5)" 1
}

@test "checkpoint of a shell that writes a file with echo >file in a loop (its stdout is that file for a moment)" {
	is_zanshin || skip "runc records the file of that moment as the container's stdout"
	# bash and busybox sh dup2() the file over fd 1 for a builtin's
	# redirection: a checkpoint that reads the stdio then must not take
	# that moment's file for the container's stdout (podman's plain
	# counter test hit it now and then). The read -t makes the moment
	# long enough to be seen (fd 1 is the file ~25 % of the time; 10
	# checkpoints of the old runtime all hit it at least once).
	update_config '.process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); { echo $i; read -t 0.001 x; } >/tmp/count; read -t 0.002 x; done"] | .root.readonly = false
		| .mounts |= map(select(.destination != "/tmp"))'
	IDS+=(c6)
	pipes "sleep 1000" "$ROOT/out6"
	rt run -d c6 <&$PIN >&$POUT 2>&1
	close_pipes
	wait_count 100
	for n in $(seq 10); do
		run cr checkpoint --leave-running --image-path "$ROOT/img6-$n" c6
		echo "$n: $output"
		[ "$status" -eq 0 ]
		jq -e 'all(.[]; startswith("pipe:"))' "$ROOT/img6-$n/descriptors.json"
	done
	cr checkpoint --image-path "$ROOT/img6-last" c6
	last=$(count)
	pipes "sleep 1000" "$ROOT/out6b"
	cr restore -d --image-path "$ROOT/img6-last" c6 <&$PIN >&$POUT 2>&1
	close_pipes
	wait_count $((last + 100))
}
