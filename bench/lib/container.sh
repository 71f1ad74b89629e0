# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Containers for the container-level benchmarks: a busybox bundle that also
# holds Debian's stress and our zs-workload (with their shared libraries),
# and the two runtimes under comparison:
#   zanshin  build/bin/zanshin (its own CRIU through libcriu)
#   runc     /usr/sbin/runc --criu build/stock/bin/criu (the anchor)
# Sourced after bench/lib/bench.sh.

. "$BENCH_TOP/tests/lib/rootfs.sh"
ZANSHIN=${ZANSHIN:-$BENCH_TOP/build/bin/zanshin}
RUNC=${RUNC:-/usr/sbin/runc}
STOCK_CRIU=${STOCK_CRIU:-$BENCH_TOP/build/stock/bin/criu}
WL=${WL:-$BENCH_TOP/build/bin/zs-workload}

# rt NAME ROOT ARGS...: run a runtime (zanshin or runc) with its state root.
rt() {
	local name=$1 root=$2
	shift 2
	case $name in
	# each state root has its own remnant store beside it (same tmpfs as
	# the images: kept by hard links; never the machine's /var/lib/zanshin)
	zanshin) "$ZANSHIN" --root "$root" --remnant-root "${root%/}.remnant" "$@" ;;
	# runc leaves runc-criu-log-* files in its working directory
	runc) (cd "${BENCH_W:-/}" && exec "$RUNC" --root "$root" --criu "$STOCK_CRIU" "$@") ;;
	*) bench_die "unknown runtime $name" ;;
	esac
}

# c_rootfs DIR: busybox + stress + zs-workload (and their libraries).
c_rootfs() {
	local dir=$1 b l
	mkdir -p "$dir"
	cp -a "$(rootfs_dir busybox)/." "$dir/" || bench_die "no busybox rootfs"
	for b in "$(command -v stress)" "$WL"; do
		[ -x "$b" ] || bench_die "$b missing"
		cp "$b" "$dir/bin/" || return 1
		for l in $(ldd "$b" | grep -o '/[^ ]*'); do
			cp --parents -L "$l" "$dir/" || return 1
		done
	done
	mkdir -p "$dir/wl"
}

# c_bundle DIR ARGS_JSON: a bundle whose rootfs is a copy of the bench rootfs.
c_bundle() {
	local dir=$1
	mkdir -p "$dir"
	if [ ! -d "$BENCH_W/rootfs" ]; then
		c_rootfs "$BENCH_W/rootfs" || bench_die "cannot build the container rootfs"
	fi
	cp -a "$BENCH_W/rootfs" "$dir/rootfs"
	jq -n --argjson args "$2" '{
		ociVersion: "1.0.2",
		process: {terminal: false, user: {uid: 0, gid: 0}, args: $args, cwd: "/",
			env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
			capabilities: (["CAP_KILL"] as $c | {bounding: $c, effective: $c, permitted: $c}),
			noNewPrivileges: true},
		root: {path: "rootfs", readonly: false},
		hostname: "bench",
		mounts: [
			{destination: "/proc", type: "proc", source: "proc"},
			{destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"]},
			{destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]}],
		linux: {
			namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}, {type: "network"}],
			maskedPaths: ["/proc/kcore", "/proc/keys", "/sys/firmware"],
			readonlyPaths: ["/proc/sys", "/proc/sysrq-trigger"]}
	}' >"$dir/config.json"
}

# The container's stdio must not be host files (CRIU cannot restore them
# elsewhere), so the process redirects itself to the container's /dev/null.
C_STRESS_ARGS() { printf '["sh", "-c", "exec stress --vm 1 --vm-bytes %sM --vm-keep </dev/null >/dev/null 2>&1"]' "$1"; }
# zs-workload daemonizes once its memory is filled; init then sleeps.
C_WL_ARGS() { printf '["sh", "-c", "zs-workload -d /wl -m %s </dev/null >/wl/.start 2>&1; exec sleep 100000000 </dev/null >/dev/null 2>&1"]' "$1"; }

c_pid() { rt "$1" "$2" state "$3" 2>/dev/null | jq -r .pid; }

# c_wait_pids ROOT_PID: wait until the init and every process of its pid
# namespace are gone (a restore needs their pids free).
c_gone() {
	local i
	for ((i = 0; i < 200; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# c_cleanup_on_exit ROOT_PREFIX: at exit, container $CID is deleted under
# the state roots ROOT_PREFIX-zanshin and ROOT_PREFIX-runc, and $BENCH_W
# removed (kept with BENCH_KEEP=1).
c_cleanup_on_exit() {
	C_ROOT_PREFIX=$1
	trap c_cleanup EXIT
	trap 'exit 130' INT TERM
}
c_cleanup() {
	local r
	for r in zanshin runc; do rt "$r" "$C_ROOT_PREFIX-$r" delete -f "$CID" >/dev/null 2>&1; done
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_W"
}
