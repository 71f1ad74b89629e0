#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The paper's Tables 2 and 3 at the CRIU level (issue 5 items 1-2), patched
# CRIU (build/bin/criu) and stock CRIU 4.2.1 (build/stock/bin/criu) side by
# side in one run, on a process tree running
#   stress --vm 1 --vm-bytes SIZE --vm-keep
# (Debian's stress; it rewrites its whole buffer continuously, so a diff
# checkpoint stores every page: the paper's worst case).
#
# Each run, per size, three cycles in rotating order, each from a full image
# of that CRIU taken once at the start:
#   stock  stock restore; stock dump
#   ours   restore; dump                                    (no tracking)
#   diff   restore --track-mem; dump --track-mem --prev-images-dir ../base
# The restores give Table 3 (restore with and without --track-mem, stock
# alongside), the dumps Table 2 (checkpoint vs diff checkpoint). Between a
# restore and the dump the tree runs SETTLE seconds (0.5). Images in tmpfs.
# Environment: SIZES ("256 1024" full, "256" quick; MiB), RUNS (100 full,
# 5 quick), SETTLE, BENCH_QUICK, BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
ZS_TMP=${BENCH_TMP:-/dev/shm}
. "$BENCH_TOP/tests/criu/lib.sh"
RUNS=$(bench_runs 100 5)
if [ "$BENCH_MODE" = quick ]; then SIZES=${SIZES:-256}; else SIZES=${SIZES:-256 1024}; fi
SETTLE=${SETTLE:-0.5}
STRESS=$(command -v stress) || bench_die "stress missing (Debian package stress)"
[ -x "$CRIU" ] || bench_die "$CRIU missing (make)"
[ -x "$STOCK_CRIU" ] || bench_die "$STOCK_CRIU missing (make criu-stock)"
criu_has_track_mem || bench_die "$CRIU has no --track-mem"

bench_begin criu-tables "Paper Tables 2 and 3 at the CRIU level: stress --vm, patched vs stock CRIU" "$@"
zs_setup criu-tables
bench_anchor "stock CRIU"
bench_note "workload: \`stress --vm 1 --vm-bytes SIZE --vm-keep\` started with setsid (a parent and one worker that rewrites its SIZE buffer continuously); sizes (MiB): $SIZES; $RUNS runs"
bench_note "per run and size, three cycles in rotating order, each restoring the full image its CRIU dumped once at the start: stock CRIU (restore; dump), ours (restore; dump), ours tracked (restore --track-mem; dump --track-mem --prev-images-dir ../base = the diff checkpoint); the tree runs ${SETTLE} s between restore and dump"
bench_note "times are the wall time of \`criu restore -d\` / \`criu dump -t PID\` (-v4 log to a file), images in $ZS_TMP (tmpfs); the dumped tree's pids are reaped before the next restore"
bench_note "the diff stores every page here (stress dirties all of it), so Table 2 measures the cost of tracking and diffing, not the saving; the saving is in the migration benchmark"

# start_stress DIR MIB: a stress tree working in DIR; prints the session leader's pid.
start_stress() {
	mkdir -p "$1"
	(cd "$1" && exec setsid "$STRESS" --vm 1 --vm-bytes "${2}M" --vm-keep </dev/null >/dev/null 2>&1) &
	local pid=$! i
	# wait for the worker to fill its buffer
	for ((i = 0; i < 100; i++)); do
		[ -n "$(pgrep -P "$pid")" ] && break
		sleep 0.05
	done
	sleep 1
	echo "$pid"
}

alive() { kill -0 "$1" 2>/dev/null && [ -n "$(pgrep -P "$1")" ]; }

# cycle CONFIG RUN MIB: restore then dump, recording both.
cycle() {
	local cfg=$1 run=$2 mib=$3 criu=$CRIU base=$ZS_T/base-$3 rargs=() dargs=() pid
	local g="$mib MiB"
	case $cfg in
	stock) criu=$STOCK_CRIU base=$ZS_T/stock-$mib ;;
	diff)
		rargs=(--track-mem)
		dargs=(--track-mem --prev-images-dir "../base-$mib")
		;;
	esac
	pid=$(cat "$base.pid")
	ZS_CRIU=$criu zs_restore "r-$cfg" "$base" "${rargs[@]}" || bench_die "$cfg restore failed: $(zs_log "r-$cfg" restore)"
	local rs=$ZS_SECS
	alive "$pid" || bench_die "$cfg: the restored tree $pid is not running"
	sleep "$SETTLE"
	rm -rf "$ZS_T/d-$mib"
	ZS_CRIU=$criu zs_dump "d-$cfg" "$ZS_T/d-$mib" "$pid" "${dargs[@]}" || bench_die "$cfg dump failed: $(zs_log "d-$cfg" dump)"
	local name
	case $cfg in
	stock) name="stock CRIU" ;;
	ours) name="ours" ;;
	diff) name="ours, --track-mem" ;;
	esac
	bench_sample "Table 3: restore $g" "$name" "time (s)" "$rs" "$run"
	case $cfg in
	diff) name="ours, diff checkpoint (--track-mem --prev-images-dir)" ;;
	esac
	bench_sample "Table 2: checkpoint $g" "$name" "time (s)" "$ZS_SECS" "$run"
	bench_sample "image size $g" "$name" "bytes" "$(img_bytes "$ZS_T/d-$mib")" "$run"
	rm -rf "$ZS_T/d-$mib"
}

for mib in $SIZES; do
	# one full image per CRIU (no tracking), the base of every cycle
	for c in ours stock; do
		criu=$CRIU dir=$ZS_T/base-$mib
		[ $c = stock ] && criu=$STOCK_CRIU dir=$ZS_T/stock-$mib
		pid=$(start_stress "$ZS_T/wl" "$mib")
		alive "$pid" || bench_die "stress did not start"
		ZS_CRIU=$criu zs_dump "base-$c-$mib" "$dir" "$pid" || bench_die "$c base dump failed: $(zs_log "base-$c-$mib" dump)"
		echo "$pid" >"$dir.pid"
	done
	bench_log "$mib MiB: base images $(img_bytes "$ZS_T/base-$mib") / $(img_bytes "$ZS_T/stock-$mib") bytes; $RUNS runs"
	for ((run = 1; run <= RUNS; run++)); do
		case $((run % 3)) in
		0) order="stock ours diff" ;;
		1) order="ours diff stock" ;;
		2) order="diff stock ours" ;;
		esac
		for c in $order; do cycle "$c" "$run" "$mib"; done
		((run % 10 == 0)) && bench_log "$mib MiB: run $run/$RUNS"
	done
	g="$mib MiB"
	bench_goal "$g: restore --track-mem ≤ +2% over restore (paper +10%)" "Table 3: restore $g" "time (s)" "ours, --track-mem" "Table 3: restore $g" ours 1.02
	bench_goal "$g: diff checkpoint ≤ +1% over checkpoint (paper +1.48%)" "Table 2: checkpoint $g" "time (s)" "ours, diff checkpoint (--track-mem --prev-images-dir)" "Table 2: checkpoint $g" ours 1.01
	rm -rf "$ZS_T/base-$mib" "$ZS_T/stock-$mib"
done
bench_plot criu-tables-time.svg bars "time (s)" "CRIU level: checkpoint (Table 2) and restore (Table 3) of stress --vm" ""
bench_end
