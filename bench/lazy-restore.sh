#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Lazy restore (issue 15, docs/lazy-restore.md): a container running
# zs-workload (MIB MiB) is restored from a full image plus a 1 % diff by
#   runc     runc 1.1.5 + stock CRIU, from a full image of the same memory
#   zanshin  restore --track-mem (eager) of the diff chain
#   lazy     zanshin restore --lazy of the diff chain
#   lazy (no manifest)  the same from a copy of the chain without its
#            manifests: restored without verifying them, as runc restores
#            (`lazy` checks the pages as they are served, lib/lazy_verify.c:
#            before the tasks resume it hashes only what CRIU copies then)
# and timed until it runs (the restore command returned: the container's
# tasks are resumed) and until its memory is fully resident (eager: the
# same; lazy: CRIU's .lazy-filled mark of the workload appears, polled
# every 5 ms). Every restore is verified page by page, outside the timings.
# Then the first-touch latency: bench/microbench/lazy-touch.c (MIB MiB,
# one byte of every page read in a random order right after a lazy
# restore by build/bin/criu, prefetch running), the latencies of the reads
# that were faults (> 1.5 us), and the time of that pass against the
# same pass once every page is in (the workload's throughput during the
# prefetch).
# Environment: SIZES ("512 2048" / "512" quick), RUNS (5 / 2), BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
. "$BENCH_TOP/bench/lib/container.sh"
. "$BENCH_TOP/bench/lib/workload.sh"
RUNS=$(bench_runs 5 2)
if [ "$BENCH_MODE" = quick ]; then SIZES=${SIZES:-512}; else SIZES=${SIZES:-512 2048}; fi
CID=bench-lazy
CRIU=$BENCH_TOP/build/bin/criu
for b in "$ZANSHIN" "$RUNC" "$STOCK_CRIU" "$WL" "$CRIU"; do [ -x "$b" ] || bench_die "$b missing"; done

bench_begin lazy-restore "Lazy restore: time until running and until fully resident vs runc + CRIU; first-touch latency" "$@"
bench_anchor "runc + stock CRIU"
# runc's container lives on node R, zanshin's on node A (own bundles)
c_cleanup_on_exit "$BENCH_W/A/state"
lazy_cleanup() {
	rt runc "$BENCH_W/R/state-runc" delete -f "$CID" >/dev/null 2>&1
	c_cleanup
}
trap lazy_cleanup EXIT
node() { if [ "$1" = runc ]; then echo R; else echo A; fi; }
bench_note "container: busybox rootfs, \`zs-workload -m MIB\` (one process), its own network namespace; zanshin restores a full image plus a diff of 1 % of the pages (the chain), runc a full image of the same memory; images in ${BENCH_TMP:-/dev/shm} (tmpfs); free memory warmed before each restore (bench/lib/workload.sh); $RUNS runs per configuration and size; load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
bench_note "lazy (no manifest): the same chain hard-linked into another directory without manifest.json, lineage.json and manifest.blocks: restored without checking it, as runc + CRIU restore (lazy checks every page against its block digest as the fault server serves it, and before the tasks resume only the files that are not pages and the pages CRIU restores eagerly: lib/lazy_verify.c, criu-patches 0042)"
bench_note "until running: wall time of \`restore -d\`; until fully resident: lazy = until CRIU's lazy-pages daemon marks every image page of the workload in (/run/criu/track/*.lazy-filled, polled every 5 ms), eager = until running"

# lazy_filled PID: CRIU's mark that every image page of PID is in.
lazy_filled() {
	local ns st
	ns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
	st=$(awk '{print $22}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -e "/run/criu/track/$ns-$1-$st.lazy-filled" ]
}

# restore_timed RT GROUP CONFIG RUN IMG DIGEST ARGS...
restore_timed() {
	local r=$1 group=$2 cfg=$3 run=$4 img=$5 digest=$6 t0 t1 pid out N
	shift 6
	N=$(node "$r")
	warm_memory "$MIB"
	t0=$(date +%s%N)
	rt "$r" "$BENCH_W/$N/state-$r" restore -d "$@" --image-path "$img" --bundle "$BENCH_W/$N/bundle" "$CID" \
		</dev/null >/dev/null 2>"$BENCH_W/err" || bench_die "$cfg restore failed: $(tail -c 600 "$BENCH_W/err")"
	t1=$(date +%s%N)
	if [[ $cfg == lazy* ]]; then
		pid=$(wl_host_pid "$N" "$r")
		while ! lazy_filled "$pid"; do
			[ $(($(date +%s%N) - t0)) -lt 120000000000 ] || bench_die "lazy: memory not resident after 120 s"
			sleep 0.005
		done
	fi
	bench_sample "$group" "$cfg" "until running (s)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')" "$run"
	bench_sample "$group" "$cfg" "until fully resident (s)" \
		"$(awk -v a="$t0" -v b="$(date +%s%N)" -v c="$t1" -v l="$cfg" 'BEGIN {printf "%.6f", ((l ~ /^lazy/ ? b : c) - a) / 1e9}')" "$run"
	out=$(wl_do "$N" "$r" verify) || bench_die "$cfg: restored memory wrong: $out"
	[[ $out == *"digest=$digest"* ]] || bench_die "$cfg: another state was restored ($out, want $digest)"
	pid=$(c_pid "$r" "$BENCH_W/$N/state-$r" "$CID")
	rt "$r" "$BENCH_W/$N/state-$r" delete -f "$CID" >/dev/null 2>&1
	c_gone "$pid"
	bench_log "$cfg $MIB MiB run $run: $(((t1 - t0) / 1000000)) ms until running"
}

# prepare RT: the container of MIB MiB, checkpointed: runc a full image,
# zanshin a full image then (after an eager restore) a 1 % diff. Sets DIGEST.
prepare() {
	local r=$1 k out N
	N=$(node "$r")
	k=$(wl_pages "$MIB" 1)
	rm -rf "$BENCH_W/$N/bundle" "$BENCH_W/$N/img"
	c_bundle "$BENCH_W/$N/bundle" "$(C_WL_ARGS "$MIB")"
	mkdir -p "$BENCH_W/$N/img"
	rt "$r" "$BENCH_W/$N/state-$r" run -d --bundle "$BENCH_W/$N/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
		bench_die "$r run failed: $(cat "$BENCH_W/err")"
	for ((n = 0; n < 1200; n++)); do [ -s "$BENCH_W/$N/bundle/rootfs/wl/pid" ] && break; sleep 0.1; done
	out=$(wl_do "$N" "$r" write "$k") || bench_die "$r: write failed: $out"
	out=$(wl_do "$N" "$r" verify) || bench_die "$r: verify failed: $out"
	DIGEST=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
	rt "$r" "$BENCH_W/$N/state-$r" checkpoint --image-path "$BENCH_W/$N/img/full" "$CID" 2>"$BENCH_W/err" ||
		bench_die "$r checkpoint failed: $(tail -c 600 "$BENCH_W/err")"
	[ "$r" = runc ] && return 0
	sleep 1.5 # pid 1 reaps slowly
	rt "$r" "$BENCH_W/$N/state-$r" restore -d --track-mem --image-path "$BENCH_W/$N/img/full" \
		--bundle "$BENCH_W/$N/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
		bench_die "$r restore failed: $(tail -c 600 "$BENCH_W/err")"
	out=$(wl_do "$N" "$r" write "$k") || bench_die "$r: write failed: $out"
	out=$(wl_do "$N" "$r" verify) || bench_die "$r: verify failed: $out"
	DIGEST=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
	rt "$r" "$BENCH_W/$N/state-$r" checkpoint --track-mem --parent-path ../full \
		--image-path "$BENCH_W/$N/img/d1" "$CID" 2>"$BENCH_W/err" ||
		bench_die "$r diff checkpoint failed: $(tail -c 600 "$BENCH_W/err")"
	sleep 1.5
}

for MIB in $SIZES; do
	group="$MIB MiB (full + 1 % diff)"
	prepare runc
	rdigest=$DIGEST
	prepare zanshin
	# the chain again (hard links), without its manifests
	cp -al "$BENCH_W/A/img" "$BENCH_W/A/nm" || bench_die "cannot copy the chain"
	rm -f "$BENCH_W/A/nm"/*/{manifest.json,lineage.json,manifest.blocks}
	sleep 1.5
	for ((run = 1; run <= RUNS; run++)); do
		restore_timed runc "$group" "runc + stock CRIU" "$run" "$BENCH_W/R/img/full" "$rdigest"
		restore_timed zanshin "$group" "zanshin (eager)" "$run" "$BENCH_W/A/img/d1" "$DIGEST" --track-mem
		restore_timed zanshin "$group" lazy "$run" "$BENCH_W/A/img/d1" "$DIGEST" --lazy
		restore_timed zanshin "$group" "lazy (no manifest)" "$run" "$BENCH_W/A/nm/d1" "$DIGEST" --lazy
	done
	for cfg in lazy "lazy (no manifest)"; do
		bench_goal "$group, $cfg: time until running ≤ 0.1 × runc + CRIU's restore (issue 15)" "$group" "until running (s)" "$cfg" "$group" "runc + stock CRIU" 0.1
		bench_goal "$group, $cfg: time until fully resident ≤ 1.0 × runc + CRIU's restore (issue 15)" "$group" "until fully resident (s)" "$cfg" "$group" "runc + stock CRIU" 1.0
	done
	rm -rf "$BENCH_W/R/img" "$BENCH_W/A/img" "$BENCH_W/A/nm"
done

# ---- first-touch latency (raw CRIU, one process)
MIB=${SIZES%% *}
LT=$BENCH_TOP/build/bench/lazy-touch
mkdir -p "$(dirname "$LT")"
${CC:-cc} -O2 -Wall -Wextra -o "$LT" "$BENCH_TOP/bench/microbench/lazy-touch.c" || bench_die "cannot build lazy-touch"
bench_note "first touch: \`build/bench/lazy-touch DIR $MIB\` (bench/microbench/lazy-touch.c) dumped with \`criu dump --track-mem\`, restored with \`criu lazy-pages --track-mem\` + \`criu restore --lazy-pages --track-mem\` (build/bin/criu), then at once one byte of every page read in a random order: the reads slower than 1.5 us are the pages not yet filled by the prefetch, served by a userfaultfd fault; microseconds per such read. Throughput: that pass's wall time (during the prefetch, which may end before the pass does), and the same pass again once every page is in (resident)"
lgroup="first touch, $MIB MiB"
for ((run = 1; run <= RUNS; run++)); do
	d=$BENCH_W/lt
	rm -rf "$d" && mkdir -p "$d/img"
	setsid "$LT" "$d" "$MIB" </dev/null >/dev/null 2>&1 &
	for ((n = 0; n < 600; n++)); do [ -e "$d/ready" ] && break; sleep 0.1; done
	p=$(pgrep -f "^$LT $d ") || bench_die "lazy-touch did not start"
	"$CRIU" dump -t "$p" -D "$d/img" -o dump.log --track-mem || bench_die "criu dump failed: $(tail -n 3 "$d/img/dump.log")"
	c_gone "$p"
	sleep 1.5
	"$CRIU" lazy-pages -D "$d/img" -W "$d/img" --track-mem -o lazy.log --daemon --pidfile "$d/lazy.pid" ||
		bench_die "criu lazy-pages failed"
	"$CRIU" restore -D "$d/img" -W "$d/img" --lazy-pages --track-mem -o restore.log --restore-detached ||
		bench_die "criu restore --lazy-pages failed: $(tail -n 3 "$d/img/restore.log")"
	kill -USR1 "$p"
	for ((n = 0; n < 1200; n++)); do [ -e "$d/done" ] && break; sleep 0.1; done
	grep -q " bad=0" "$d/done" 2>/dev/null || bench_die "lazy-touch: $(cat "$d/done" 2>/dev/null || echo no result)"
	# the same pass again once every page is in
	for ((n = 0; n < 24000; n++)); do lazy_filled "$p" && break; sleep 0.005; done
	lazy_filled "$p" || bench_die "lazy-touch: memory not resident after 120 s"
	kill -USR1 "$p"
	for ((n = 0; n < 1200; n++)); do [ -e "$d/done2" ] && break; sleep 0.1; done
	grep -q " bad=0" "$d/done2" 2>/dev/null || bench_die "lazy-touch: $(cat "$d/done2" 2>/dev/null || echo no result)"
	kill -KILL "$p"
	for f in done done2; do
		v=$(sed -n 's/.* ns=\([0-9]*\).*/\1/p' "$d/$f")
		bench_sample "$lgroup" "$([ $f = done ] && echo "during the prefetch" || echo "resident")" "random-read pass (ms)" \
			"$(awk -v v="$v" 'BEGIN {printf "%.3f", v / 1e6}')" "$run"
	done
	awk '$1 > 1500 {print $1 / 1000}' "$d/lat" | sort -n >"$d/faults"
	nf=$(wc -l <"$d/faults")
	bench_sample "$lgroup" lazy "faulted reads (of $((MIB * 256)))" "$nf" "$run"
	for q in 50 90 99; do
		v=$(awk -v q=$q '{a[NR] = $1} END {i = int(NR * q / 100); if (i < 1) i = 1; print (NR ? a[i] : 0)}' "$d/faults")
		bench_sample "$lgroup" lazy "first touch p$q (us)" "$v" "$run"
	done
	c_gone "$p"
done
bench_goal_abs "first touch served from the local image: median ≤ 10 us per 4 KiB page (issue 15)" "$lgroup" "first touch p50 (us)" lazy 10
bench_plot lazy-restore-touch-pass.svg bars "random-read pass (ms)" "Lazy restore: a pass reading every page once in random order, during the prefetch and once resident"
bench_plot lazy-restore-running.svg bars "until running (s)" "Lazy restore: time until the container runs"
bench_plot lazy-restore-resident.svg bars "until fully resident (s)" "Lazy restore: time until its memory is resident"
bench_end
