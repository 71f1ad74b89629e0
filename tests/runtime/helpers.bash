# Shared helpers for tests/runtime/*.bats. The runtime under test comes from
# $RUNTIME (default build/bin/zanshin); every file also passes against
# Debian's runc (RUNTIME=/usr/sbin/runc) unless a test says otherwise.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNTIME=${RUNTIME:-$TOP/build/bin/zanshin}
case $RUNTIME in /*) ;; *) RUNTIME=$TOP/$RUNTIME ;; esac
RECVTTY=${RECVTTY:-$TOP/build/tests/recvtty}
# shellcheck source=../lib/rootfs.sh
. "$TOP/tests/lib/rootfs.sh"

# A runc-like default spec, without a terminal and with a unique cgroup.
base_config() {
	local cg=$1
	jq -n --arg cg "$cg" '{
	ociVersion: "1.0.2",
	process: {
		terminal: false, user: {uid: 0, gid: 0},
		args: ["sh"],
		env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
		cwd: "/",
		capabilities: ( ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"] as $c |
			{bounding: $c, effective: $c, permitted: $c, ambient: $c} ),
		rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
		noNewPrivileges: true
	},
	root: {path: "rootfs", readonly: true},
	hostname: "zanshin-test",
	mounts: [
		{destination: "/proc", type: "proc", source: "proc"},
		{destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
		{destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
		{destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
		{destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]},
		{destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]},
		{destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]},
		{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]}
	],
	linux: {
		cgroupsPath: $cg,
		resources: {devices: [{allow: false, access: "rwm"}]},
		namespaces: [{type: "pid"}, {type: "network"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}],
		maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
			"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
		readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
	}
}'
}

# setup_bundle: $ROOT (temp), $STATE (--root), $BUNDLE (cwd) with a copy of
# the busybox rootfs and config.json; $CG is the container's cgroupsPath.
setup_bundle() {
	local rfs
	[ -x "$RUNTIME" ] || skip "RUNTIME=$RUNTIME is not executable (make all)"
	rfs=$(rootfs_dir busybox) || return 1
	ROOT=$(mktemp -d "${BATS_RUN_TMPDIR:-/tmp}/zrt.XXXXXX")
	STATE=$ROOT/state
	BUNDLE=$ROOT/bundle
	CG=/zanshin-rt-test/$(basename "$ROOT")
	mkdir -p "$STATE" "$BUNDLE"
	# mktemp -d gives 0700; a user-namespaced container's root (host uid
	# 100000) must be able to reach its rootfs.
	chmod a+x "$ROOT" "${BATS_RUN_TMPDIR:-/tmp}"
	cp -a "$rfs" "$BUNDLE/rootfs"
	base_config "$CG" >"$BUNDLE/config.json"
	cd "$BUNDLE" || return 1
	IDS=()
}

# rt ARGS...: the runtime with our state root (use with bats `run`).
rt() { "$RUNTIME" --root "$STATE" "$@"; }

# Apply a jq filter to config.json.
update_config() {
	local tmp
	tmp=$(mktemp "$BUNDLE/config.XXXXXX")
	jq "$@" "$BUNDLE/config.json" >"$tmp" && mv "$tmp" "$BUNDLE/config.json"
}

# Start a detached container with stdio going to $ROOT/ID.out / ID.err.
# Never use bats `run` for detached containers: they would hold its pipe.
run_bg() {
	local id=$1
	IDS+=("$id")
	rt run -d --pid-file "$ROOT/$id.pid" "$id" >"$ROOT/$id.out" 2>"$ROOT/$id.err" </dev/null ||
		{ cat "$ROOT/$id.err" >&2; return 1; }
}
create_bg() {
	local id=$1
	IDS+=("$id")
	rt create --pid-file "$ROOT/$id.pid" "$id" >"$ROOT/$id.out" 2>"$ROOT/$id.err" </dev/null ||
		{ cat "$ROOT/$id.err" >&2; return 1; }
}

# state_field ID FIELD
state_field() { rt state "$1" 2>/dev/null | jq -r ".$2"; }

# wait_status ID STATUS [tries of 0.1 s]
wait_status() {
	local i
	for ((i = 0; i < ${3:-50}; i++)); do
		[ "$(state_field "$1" status)" = "$2" ] && return 0
		sleep 0.1
	done
	echo "container $1: status '$(state_field "$1" status)', wanted '$2'" >&2
	return 1
}

# wait_file FILE PATTERN: wait until FILE contains PATTERN.
wait_file() {
	local i
	for ((i = 0; i < ${3:-50}; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$1: no '$2' in: $(cat "$1" 2>/dev/null)" >&2
	return 1
}

# cgroup_dir CONTROLLER: the container's v1 cgroup directory.
cgroup_dir() { echo "/sys/fs/cgroup/$1$CG"; }

teardown_bundle() {
	[ -n "${ROOT:-}" ] || return 0
	cd / || true
	local id
	for id in $(rt list -q 2>/dev/null) "${IDS[@]}"; do
		rt delete -f "$id" >/dev/null 2>&1
	done
	grep -F " $ROOT/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	local c
	for c in /sys/fs/cgroup/*"$CG"; do
		[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$ROOT"
	ROOT=
}

# No trace of container ID: state entry, cgroup, mounts of this bundle.
assert_no_trace() {
	local id=$1 c
	if [ -e "$STATE/$id" ]; then
		echo "state entry $STATE/$id left behind" >&2
		return 1
	fi
	for c in /sys/fs/cgroup/*"$CG"; do
		if [ -d "$c" ]; then
			echo "cgroup $c left behind" >&2
			return 1
		fi
	done
	if grep -qF " $BUNDLE/" /proc/self/mountinfo; then
		echo "mounts left behind: $(grep -F " $BUNDLE/" /proc/self/mountinfo)" >&2
		return 1
	fi
}
