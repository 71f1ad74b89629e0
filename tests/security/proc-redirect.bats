#!/usr/bin/env bats
# Issue 18 item 4 (CVE-2025-52881 shape): mounts that land inside /proc or
# /sys, and the runtime's own writes to /proc that something else was put
# over. The image is the attacker: its rootfs holds the symlinks; the
# operator's volume ($VOL) must never end up over a procfs file, and a
# sysctl or oom_score_adj write must reach the kernel or be refused, never
# land in a file someone bound there.

load ../runtime/helpers

setup() {
	setup_bundle
	VOL=$ROOT/volume # the operator's volume file
	echo "operator data" >"$VOL"
	SUM=$(sha256sum <"$VOL")
	update_config '.root.readonly = false | .process.args = ["sh", "-c", "cat /proc/sys/kernel/domainname; sleep 1000"]'
}
teardown() {
	teardown_bundle
	[ -z "${SLEEPER:-}" ] || kill "$SLEEPER" 2>/dev/null || true
}

is_runc() { [[ "$RUNTIME" == */runc ]]; }

# start ID: run detached, output of the runtime in $ROOT/out.
start() {
	local rc=0
	IDS+=("$1")
	rt run -d "$1" >"$ROOT/out" 2>&1 </dev/null || rc=$?
	cat "$ROOT/out"
	return $rc
}

volume_intact() {
	[ "$(sha256sum <"$VOL")" = "$SUM" ] || { echo "volume written: $(cat "$VOL")" >&2; return 1; }
}

# runc 1.1.5 refuses too: "... cannot be mounted because it is inside /proc"
# (securejoin resolves the symlink, checkProcMount sees the real path).
@test "a rootfs symlink into /proc/sys does not put a bind mount over a procfs file" {
	ln -s /proc/sys/kernel/domainname "$BUNDLE/rootfs/data"
	update_config --arg v "$VOL" '.mounts += [{destination: "/data", type: "bind", source: $v, options: ["rbind", "rw"]}]
		| .linux.sysctl = {"kernel.domainname": "redirected"}'
	! start pr1
	grep -q "cannot be mounted because it is inside /proc" "$ROOT/out"
	volume_intact
	grep -qF "$VOL" /proc/self/mountinfo && false
	true
}

@test "a relative symlink chain into /proc is resolved before the check" {
	mkdir -p "$BUNDLE/rootfs/a"
	ln -s ../b "$BUNDLE/rootfs/a/link"
	ln -s proc/sys/kernel "$BUNDLE/rootfs/b"
	update_config --arg v "$VOL" '.mounts += [{destination: "/a/link/hostname", type: "bind", source: $v, options: ["rbind"]}]'
	! start pr2
	grep -q "cannot be mounted because it is inside /proc" "$ROOT/out"
	volume_intact
}

# runc 1.1.5: the same message.
@test "a bind mount straight over a procfs file is refused" {
	update_config --arg v "$VOL" '.mounts += [{destination: "/proc/sys/kernel/core_pattern", type: "bind", source: $v, options: ["bind"]}]'
	! start pr3
	grep -q "cannot be mounted because it is inside /proc" "$ROOT/out"
	volume_intact
}

# runc 1.1.5 allows the lxcfs files too (and also /proc/net/dev, which
# runc 1.3 dropped).
@test "lxcfs-style binds over /proc/cpuinfo and /proc/meminfo are allowed" {
	echo "fake cpuinfo" >"$ROOT/cpuinfo"
	update_config --arg c "$ROOT/cpuinfo" --arg v "$VOL" '.mounts += [
		{destination: "/proc/cpuinfo", type: "bind", source: $c, options: ["bind", "ro"]},
		{destination: "/proc/meminfo", type: "bind", source: $v, options: ["bind", "ro"]}]
		| .process.args = ["sh", "-c", "cat /proc/cpuinfo /proc/meminfo"]'
	IDS+=(pr4)
	run rt run pr4
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fake cpuinfo"*"operator data"* ]]
}

# runc 1.1.5 checks only bind (and unknown-type) mounts: it mounts the tmpfs
# on /proc and fails later ("error closing exec fds: open /proc/self/fd").
# runc 1.3 refuses: "... cannot be mounted because it is not of type proc".
@test "only a procfs may be mounted on /proc" {
	update_config '(.mounts[] | select(.destination == "/proc")) |= {destination: "/proc", type: "tmpfs", source: "tmpfs"}'
	! start pr5
	is_runc || grep -q "cannot be mounted because it is not of type proc" "$ROOT/out"
}

# runc 1.1.5 does not check /sys at all: it mounts the volume over the
# sysfs file. zanshin refuses a mount over any sysfs file.
@test "a rootfs symlink into /sys does not put a bind mount over a sysfs file" {
	is_runc && skip "runc 1.1.5 does not check destinations in /sys"
	ln -s /sys/kernel/profiling "$BUNDLE/rootfs/helper"
	update_config --arg v "$VOL" '.mounts += [{destination: "/helper", type: "bind", source: $v, options: ["bind"]}]'
	! start pr6
	grep -q "cannot be mounted because it is a file inside /sys" "$ROOT/out"
	volume_intact
}

# The lxcfs exception lets a file be bound over /proc/sys/kernel/ns_last_pid;
# a sysctl for that key must then refuse rather than write the bound file.
# runc 1.1.5 refuses the config earlier: "sysctl "kernel.ns_last_pid" is
# not in a separate kernel namespace".
@test "a sysctl write does not go into a file bound over the procfs file" {
	is_runc && skip "runc 1.1.5 rejects the sysctl key itself"
	echo 1 >"$VOL"
	SUM=$(sha256sum <"$VOL")
	update_config --arg v "$VOL" '.mounts += [{destination: "/proc/sys/kernel/ns_last_pid", type: "bind", source: $v, options: ["bind"]}]
		| .linux.sysctl = {"kernel.ns_last_pid": "4242"}'
	! start pr7
	grep -q "refusing to write" "$ROOT/out"
	grep -q "kernel.ns_last_pid" "$ROOT/out"
	volume_intact
}

# createContainer hooks run in the container's mount namespace before the
# runtime writes sysctls: a bind they leave over /proc/sys/... stands for
# any way a regular file gets there. runc 1.1.5 writes the sysctl into the
# bound file (os.WriteFile on /proc/sys/...) and the container starts.
@test "a sysctl write refuses a regular file bound over /proc/sys/kernel/domainname" {
	is_runc && skip "runc 1.1.5 writes the bound file"
	update_config --arg v "$VOL" '.linux.sysctl = {"kernel.domainname": "redirected"}
		| .hooks.createContainer = [{path: "/bin/sh", args: ["sh", "-c", ("mount --bind " + $v + " proc/sys/kernel/domainname")]}]'
	! start pr8
	grep -q "kernel.domainname" "$ROOT/out"
	grep -q "refusing to write" "$ROOT/out"
	volume_intact
}

# The same with a file of another procfs (the host's): right file system
# type, wrong file. It must not be written either. runc 1.1.5 writes it:
# here the kernel refuses (EINVAL: another task's comm), with
# kernel/core_pattern it would not.
@test "a sysctl write refuses a host procfs file bound over the container's" {
	is_runc && skip "runc 1.1.5 writes the bound file"
	sleep 1000 &
	SLEEPER=$!
	update_config --arg p "$SLEEPER" '.linux.sysctl = {"kernel.domainname": "redirected"}
		| .hooks.createContainer = [{path: "/bin/sh", args: ["sh", "-c", ("mount --bind /proc/" + $p + "/comm proc/sys/kernel/domainname")]}]'
	! start pr9
	grep -q "refusing to write" "$ROOT/out"
	[ "$(cat "/proc/$SLEEPER/comm")" = sleep ]
}

@test "oomScoreAdj never goes through a file bound over /proc/self/oom_score_adj" {
	# zanshin's parent writes the child's /proc/PID/oom_score_adj through
	# the host's verified procfs (the child is non-dumpable: issue 18 item
	# 1), so a bind inside the container cannot redirect it. runc 1.1.5
	# writes it in its bootstrap, before any mount or hook: the same result.
	update_config --arg v "$VOL" '.process.oomScoreAdj = 500 | .process.args = ["sleep", "1000"]
		| .hooks.createContainer = [{path: "/bin/sh", args: ["sh", "-c", ("mount --bind " + $v + " proc/1/oom_score_adj")]}]'
	start pr10
	volume_intact
	pid=$(rt state pr10 | jq -r .pid)
	[ "$(cat "/proc/$pid/oom_score_adj")" = 500 ]
}

@test "sysctls and oomScoreAdj still reach the kernel" {
	update_config '.linux.sysctl = {"kernel.domainname": "zs-domain"} | .process.oomScoreAdj = 123
		| .process.args = ["sh", "-c", "cat /proc/sys/kernel/domainname /proc/self/oom_score_adj"]'
	IDS+=(pr11)
	run rt run pr11
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *zs-domain*123* ]]
}

# restore prepares the mount points itself (CRIU mounts from the image):
# the same checks apply there. runc 1.1.5 restore runs its checkProcMount
# too (prepareBindMount), with the same message.
@test "restore: a rootfs symlink into /proc does not put a bind mount over a procfs directory" {
	update_config '.process.args = ["sleep", "1000"]'
	# stdio on pipes: CRIU cannot dump a container on the host's /dev/null
	exec {cin}< <(exec sleep 1000 >/dev/null 2>&1)
	SLEEPER=$!
	exec {cout}> >(exec cat >/dev/null 2>&1)
	IDS+=(pr12)
	rt run -d pr12 <&"$cin" >&"$cout" 2>&"$cout"
	exec {cin}<&- {cout}>&-
	mkdir "$ROOT/img"
	rt checkpoint --image-path "$ROOT/img" pr12 </dev/null
	# the image ships a /proc/sys/kernel directory (its /proc is not mounted
	# yet while restore creates the mount points) and a symlink to it; the
	# operator's volume is a directory
	mkdir -p "$BUNDLE/rootfs/proc/sys/kernel" "$ROOT/voldir"
	echo "operator data" >"$ROOT/voldir/file"
	ln -s /proc/sys/kernel "$BUNDLE/rootfs/data"
	update_config --arg v "$ROOT/voldir" '.mounts += [{destination: "/data", type: "bind", source: $v, options: ["rbind", "rw"]}]'
	rt delete -f pr12 >/dev/null 2>&1 || true
	! rt restore -d --image-path "$ROOT/img" pr12 >"$ROOT/out" 2>&1 </dev/null
	cat "$ROOT/out"
	grep -q "cannot be mounted because it is inside /proc" "$ROOT/out"
	grep -qF "$ROOT/voldir" /proc/self/mountinfo && false
	true
}
