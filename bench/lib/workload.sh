# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Driving zs-workload inside a bench container (bench/lib/container.sh,
# C_WL_ARGS): its control directory is /wl in the rootfs of the node it runs
# on, $BENCH_W/NODE/bundle/rootfs/wl; the container is $CID under the state
# root $BENCH_W/NODE/state-RT. Sourced after bench/lib/container.sh.

# wl_host_pid NODE RT: host pid of zs-workload's process 0 in the container
wl_host_pid() {
	local init p ns want
	init=$(c_pid "$2" "$BENCH_W/$1/state-$2" "$CID")
	ns=$(readlink "/proc/$init/ns/pid")
	want=$(cat "$BENCH_W/$1/bundle/rootfs/wl/pid")
	for p in $(pgrep -x zs-workload); do
		[ "$(readlink "/proc/$p/ns/pid")" = "$ns" ] || continue
		[ "$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status")" = "$want" ] && {
			echo "$p"
			return
		}
	done
}

# wl_do NODE RT OP [ARG]: one workload command; prints its first result line
wl_do() {
	local d=$BENCH_W/$1/bundle/rootfs/wl pid i
	# a file, not a variable: wl_do runs in command substitutions
	WL_SEQ=$(($(cat "$BENCH_W/.seq" 2>/dev/null || echo 0) + 1))
	echo "$WL_SEQ" >"$BENCH_W/.seq"
	echo "$WL_SEQ $3 ${4:-}" >"$d/cmd.new" && mv -f "$d/cmd.new" "$d/cmd"
	pid=$(wl_host_pid "$1" "$2")
	if [ -z "$pid" ] || ! kill -USR1 "$pid"; then
		bench_die "workload not found on node $1"
	fi
	for ((i = 0; i < 3000; i++)); do
		[ "$(cat "$d/ack" 2>/dev/null)" = "$WL_SEQ" ] && break
		sleep 0.02
	done
	[ "$(cat "$d/ack" 2>/dev/null)" = "$WL_SEQ" ] || {
		echo "no answer to $3"
		return 1
	}
	head -n1 "$d/result"
	head -n1 "$d/result" | grep -qE "^$WL_SEQ (OK|PASS) "
}

# warm_memory MIB: this VM hands free memory back to the host (free page
# reporting): the first touch of such memory costs a host fault per page,
# several times a restore's own work. Right before each restore, for both
# runtimes, the restore's worth of free memory is touched and freed again (a
# tmpfs file of the image's size plus a quarter), as on a machine without
# free page reporting — and as runc gets anyway by deleting its sent image
# just before (zanshin keeps it: the remnant).
warm_memory() {
	[ "${WARM:-1}" = 1 ] || return 0
	dd if=/dev/zero of="$BENCH_W/.warm" bs=1M count=$(($1 + $1 / 4)) status=none
	rm -f "$BENCH_W/.warm"
}

# wl_pages MIB PERCENT: how many of MIB MiB's pages PERCENT% is (at least 1).
wl_pages() { awk -v m="$1" -v w="$2" 'BEGIN {k = int(m * 256 * w / 100 + 0.5); print (k < 1 ? 1 : k)}'; }
