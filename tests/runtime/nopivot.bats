#!/usr/bin/env bats
# --no-pivot: the rootfs is moved to / (MS_MOVE + chroot) instead of pivot_root.

load helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

@test "run --no-pivot: the container sees its rootfs as /" {
	echo no-pivot-marker >"$BUNDLE/rootfs/etc/zt-marker"
	update_config --arg r "$ROOT" '.process.args = ["sh", "-c", "cat /etc/zt-marker; ls /; [ -e \($r) ] && echo HOST-VISIBLE; true"]'
	IDS+=(np1)
	run rt run --no-pivot np1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = no-pivot-marker ]
	[[ "$output" == *linuxrc* ]]
	# The host's directories are not reachable.
	[[ "$output" != *HOST-VISIBLE* ]]
}

@test "create/start --no-pivot" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(np2)
	rt create --no-pivot np2 >/dev/null 2>&1 </dev/null
	run rt start np2
	echo "$output"
	[ "$status" -eq 0 ]
	wait_status np2 running
	run rt exec np2 cat /etc/hostname
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = zanshin-test ]
}
