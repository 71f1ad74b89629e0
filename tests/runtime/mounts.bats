#!/usr/bin/env bats
# mounts, masked and read-only paths, readonly root, devices.

load helpers

setup() {
	setup_bundle
	HOSTDIR=$ROOT/hostdir
	mkdir -p "$HOSTDIR"
	echo from-host >"$HOSTDIR/file"
}
teardown() { teardown_bundle; }

@test "bind mount rw: writes are visible on the host" {
	update_config --arg src "$HOSTDIR" '.mounts += [{destination: "/data", type: "bind", source: $src, options: ["rbind", "rw"]}]
		| .process.args = ["sh", "-c", "cat /data/file; echo from-container > /data/new"]'
	IDS+=(m1)
	run rt run m1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = from-host ]
	[ "$(cat "$HOSTDIR/new")" = from-container ]
}

@test "bind mount ro: writes fail, host file unchanged" {
	update_config --arg src "$HOSTDIR" '.mounts += [{destination: "/data", type: "bind", source: $src, options: ["rbind", "ro"]}]
		| .process.args = ["sh", "-c", "cat /data/file; echo x > /data/file && echo WROTE"]'
	IDS+=(m2)
	run rt run m2
	echo "$output"
	[[ "$output" == *from-host* ]]
	[[ "$output" != *WROTE* ]]
	[ "$(cat "$HOSTDIR/file")" = from-host ]
}

@test "tmpfs mount with size and mode; mount point created in the rootfs" {
	update_config '.mounts += [{destination: "/new/dir", type: "tmpfs", source: "tmpfs", options: ["size=1m", "mode=700"]}]
		| .process.args = ["sh", "-c", "grep \" /new/dir \" /proc/self/mountinfo; stat -c %a /new/dir"]'
	IDS+=(m3)
	run rt run m3
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *tmpfs*size=1024k* ]]
	[ "${lines[1]}" = 700 ]
}

@test "root.readonly: / is read-only, /tmp (tmpfs) writable" {
	update_config '.root.readonly = true | .process.args = ["sh", "-c", "touch /x 2>/dev/null && echo ROOT-WRITABLE; touch /tmp/y && echo tmp-ok"]'
	IDS+=(m4)
	run rt run m4
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = tmp-ok ]
	[ ! -e "$BUNDLE/rootfs/x" ]
}

@test "maskedPaths: files read empty, directories are empty" {
	update_config '.process.args = ["sh", "-c", "wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; cat /proc/keys | wc -c"]'
	IDS+=(m5)
	run rt run m5
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	[ "${lines[2]}" = 0 ]
}

@test "readonlyPaths: /proc/sys and /proc/sysrq-trigger not writable" {
	update_config '.process.capabilities = ({bounding: ["CAP_SYS_ADMIN"], effective: ["CAP_SYS_ADMIN"], permitted: ["CAP_SYS_ADMIN"]})
		| .process.args = ["sh", "-c", "echo zt > /proc/sys/kernel/hostname && echo WROTE-SYS; echo h > /proc/sysrq-trigger && echo WROTE-SYSRQ; grep \" /proc/sys \" /proc/self/mountinfo"]'
	IDS+=(m6)
	run rt run m6
	echo "$output"
	[[ "$output" != *WROTE* ]]
	[[ "$output" == *" /proc/sys "*ro,* ]]
}

@test "default devices exist and work; /dev/kmsg does not" {
	update_config '.process.args = ["sh", "-c", "for d in null zero full random urandom tty; do [ -c /dev/$d ] && echo $d; done; head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; [ -e /dev/kmsg ] && echo KMSG; [ -L /dev/fd ] && ls /dev/fd/ >/dev/null 2>&1 && echo fd-ok; readlink /dev/ptmx"]'
	IDS+=(m7)
	run rt run m7
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "${lines[@]:0:6}")" = "null zero full random urandom tty" ]
	[ "${lines[6]}" = 4 ]
	[ "${lines[7]}" = null-ok ]
	[[ "$output" != *KMSG* ]]
	[[ "$output" == *fd-ok* ]]
	[ "${lines[-1]}" = pts/ptmx ]
}

@test "linux.devices: extra device node, allowed by the device cgroup" {
	update_config '.linux.devices = [{path: "/dev/zt-zero", type: "c", major: 1, minor: 5, fileMode: 432, uid: 0, gid: 0}]
		| .linux.resources.devices += [{allow: true, type: "c", major: 1, minor: 5, access: "rwm"}]
		| .process.args = ["sh", "-c", "stat -c \"%F %t:%T %a\" /dev/zt-zero; head -c 3 /dev/zt-zero | wc -c"]'
	IDS+=(m8)
	run rt run m8
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "character special file 1:5 660" ]
	[ "${lines[1]}" = 3 ]
}

@test "device cgroup denies a device node that is not allowed" {
	update_config '.root.readonly = false | .process.args = ["sh", "-c", "mknod /dev/zt-mem c 1 1 2>/dev/null; head -c 1 /dev/zt-mem >/dev/null 2>&1 && echo READ-MEM; echo done"]
		| .process.capabilities.bounding += ["CAP_MKNOD"] | .process.capabilities.effective += ["CAP_MKNOD"] | .process.capabilities.permitted += ["CAP_MKNOD"]'
	IDS+=(m9)
	run rt run m9
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = done ]
}
