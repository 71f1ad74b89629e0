#!/usr/bin/env bats
# Security items: no fd leaks into the container, /proc/self/exe of the
# runtime not writable, cwd and mount destinations resolved inside the rootfs.

load helpers

setup() {
	setup_bundle
	# Something only reachable from the host's root.
	MARK=zt-marker-$RANDOM$RANDOM
	echo "$MARK" >"$ROOT/marker"
	mkdir -p "$ROOT/target"
	echo keep >"$ROOT/target/file"
}
teardown() { teardown_bundle; }

fds_of() { ls "/proc/$1/fd" | sort -n | tr '\n' ' '; }

@test "fds >= 3 of the caller are not inherited by the container's init" {
	update_config '.process.args = ["sleep", "1000"]'
	exec 7<"$BUNDLE/config.json" 9>"$ROOT/fd9"
	run_bg fd1
	exec 7<&- 9>&-
	pid=$(state_field fd1 pid)
	echo "fds: $(fds_of "$pid")"
	[ "$(fds_of "$pid")" = "0 1 2 " ]
}

@test "fds >= 3 are not inherited by exec'd processes" {
	update_config '.process.args = ["sleep", "1000"]'
	run_bg fd2
	exec 7<"$BUNDLE/config.json"
	rt exec -d --pid-file "$ROOT/e.pid" fd2 sleep 999 >/dev/null 2>&1 </dev/null
	exec 7<&-
	pid=$(cat "$ROOT/e.pid")
	echo "fds: $(fds_of "$pid")"
	[ "$(fds_of "$pid")" = "0 1 2 " ]
}

@test "the container cannot write the runtime binary through /proc/1/exe" {
	sum=$(sha256sum <"$RUNTIME")
	update_config '.process.args = ["sleep", "1000"]'
	create_bg exe1
	# Before start, pid 1 of the container is the runtime's own init.
	pid=$(state_field exe1 pid)
	run sh -c "printf x >> /proc/$pid/exe"
	[ "$status" -ne 0 ]
	run rt exec exe1 sh -c 'printf x >> /proc/1/exe && echo WROTE'
	echo "$output"
	[[ "$output" != *WROTE* ]]
	[ "$(sha256sum <"$RUNTIME")" = "$sum" ]
}

@test "cwd /proc/self/fd/N does not reach the host (CVE-2024-21626 shape)" {
	for n in 3 4 5 6 7 8; do
		update_config --arg n "$n" --arg r "$ROOT" '.process.cwd = "/proc/self/fd/\($n)"
			| .process.args = ["sh", "-c", "cat ../../../../../../../../../..\($r)/marker 2>/dev/null; true"]'
		IDS+=(cwd$n)
		run rt run "cwd$n"
		echo "$output"
		echo "fd $n: status $status: $output"
		[[ "$output" != *"$MARK"* ]]
		rt delete -f "cwd$n" >/dev/null 2>&1 || true
	done
}

@test "a cwd that is a symlink out of the rootfs stays inside it" {
	ln -s ../../../../../../../../.."$ROOT" "$BUNDLE/rootfs/escape"
	update_config '.process.cwd = "/escape" | .process.args = ["sh", "-c", "cat marker 2>/dev/null; pwd"]'
	IDS+=(cwdl)
	run rt run cwdl
	echo "status $status: $output"
	[[ "$output" != *"$MARK"* ]]
}

@test "mount destination through an absolute symlink stays inside the rootfs" {
	ln -s "$ROOT/target" "$BUNDLE/rootfs/evil"
	update_config '.root.readonly = false | .mounts += [{destination: "/evil", type: "tmpfs", source: "tmpfs", options: ["size=1m"]}]
		| .process.args = ["sh", "-c", "touch /evil/pwned 2>/dev/null; sleep 1000"]'
	IDS+=(sl1)
	run_bg sl1 || true
	sleep 0.5
	grep -F " $ROOT/target " /proc/self/mountinfo && false
	[ ! -e "$ROOT/target/pwned" ]
	[ "$(cat "$ROOT/target/file")" = keep ]
}

@test "mount destination through a relative ../ symlink stays inside the rootfs" {
	ln -s ../../../../../../../../.."$ROOT/target" "$BUNDLE/rootfs/evil2"
	update_config '.root.readonly = false | .mounts += [{destination: "/evil2", type: "tmpfs", source: "tmpfs", options: ["size=1m"]}]
		| .process.args = ["sh", "-c", "touch /evil2/pwned 2>/dev/null; sleep 1000"]'
	IDS+=(sl2)
	run_bg sl2 || true
	sleep 0.5
	grep -F " $ROOT/target " /proc/self/mountinfo && false
	[ ! -e "$ROOT/target/pwned" ]
	[ "$(cat "$ROOT/target/file")" = keep ]
}
