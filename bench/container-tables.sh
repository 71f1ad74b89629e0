#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The paper's Tables 2 and 3 at the container level (issue 5 items 1-2):
# a busybox container running `stress --vm 1 --vm-bytes SIZE --vm-keep`,
# zanshin vs runc 1.1.5 + stock CRIU 4.2.1 (`runc --criu build/stock/bin/criu`)
# in one run. Per run and size, in rotating order, each from a full
# checkpoint its runtime took once at the start:
#   runc         runc restore -d; runc checkpoint
#   zanshin      zanshin restore -d --no-track-mem; zanshin checkpoint
#   zanshin-trk  zanshin restore -d --track-mem;
#                zanshin checkpoint --track-mem --parent-path ../base (the diff)
# Restores give Table 3, checkpoints Table 2. The container runs SETTLE s
# (0.5) between restore and checkpoint. Images in tmpfs.
# Environment: SIZES ("256 1024" full, "256" quick), RUNS (100 / 5), SETTLE,
# RUNTIMES ("runc zanshin"), BENCH_QUICK, BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
. "$BENCH_TOP/bench/lib/container.sh"
RUNS=$(bench_runs 100 5)
if [ "$BENCH_MODE" = quick ]; then SIZES=${SIZES:-256}; else SIZES=${SIZES:-256 1024}; fi
SETTLE=${SETTLE:-0.5}
RUNTIMES=${RUNTIMES:-runc zanshin}
command -v stress >/dev/null || bench_die "stress missing (Debian package stress)"

bench_begin container-tables "Paper Tables 2 and 3 at the container level: stress --vm, zanshin vs runc + stock CRIU" "$@"
bench_anchor "runc + stock CRIU"
bench_note "container: busybox rootfs with Debian's stress, \`stress --vm 1 --vm-bytes SIZE --vm-keep\` (rewrites its whole buffer continuously: the diff checkpoint stores every page, the paper's setting); sizes (MiB): $SIZES; $RUNS runs; runtimes: $RUNTIMES"
bench_note "per run and size, cycles in rotating order, each restoring the full checkpoint its runtime took once at the start: runc + stock CRIU (restore -d; checkpoint), zanshin (restore -d --no-track-mem; checkpoint), zanshin tracked (restore -d --track-mem; checkpoint --track-mem --parent-path ../base = the diff checkpoint); ${SETTLE} s between restore and checkpoint; wall time of the runtime command; images in ${BENCH_TMP:-/dev/shm} (tmpfs)"
CID=bench-tab
FAILED=0
c_cleanup_on_exit "$BENCH_W/state"

# cycle CFG RUN MIB
cycle() {
	local cfg=$1 run=$2 mib=$3 r=zanshin rargs=(--no-track-mem) cargs=() name rs
	local img=$BENCH_W/$r-$mib
	case $cfg in
	runc) r=runc rargs=() img=$BENCH_W/runc-$mib name="runc + stock CRIU" ;;
	zanshin) name="zanshin" ;;
	zanshin-trk)
		rargs=(--track-mem)
		cargs=(--track-mem --parent-path "../zanshin-$mib/base")
		name="zanshin, --track-mem"
		;;
	esac
	bench_time rt "$r" "$BENCH_W/state-$r" restore -d "${rargs[@]}" --image-path "$img/base" --bundle "$BENCH_W/bundle-$mib" "$CID" \
		</dev/null >/dev/null 2>"$BENCH_W/err" || { echo "$cfg restore failed: $(tail -c 400 "$BENCH_W/err")"; return 1; }
	rs=$BENCH_SECS
	sleep "$SETTLE"
	rm -rf "$BENCH_W/ck"
	bench_time rt "$r" "$BENCH_W/state-$r" checkpoint "${cargs[@]}" --image-path "$BENCH_W/ck" "$CID" 2>"$BENCH_W/err" ||
		{ echo "$cfg checkpoint failed: $(tail -c 400 "$BENCH_W/err")"; return 1; }
	rt "$r" "$BENCH_W/state-$r" delete -f "$CID" >/dev/null 2>&1
	bench_sample "Table 3: restore $mib MiB" "$name" "time (s)" "$rs" "$run"
	[ "$cfg" = zanshin-trk ] && name="zanshin, diff checkpoint (--track-mem --parent-path)"
	bench_sample "Table 2: checkpoint $mib MiB" "$name" "time (s)" "$BENCH_SECS" "$run"
	bench_sample "checkpoint size $mib MiB" "$name" "bytes" "$(du -sb --exclude='*.log' "$BENCH_W/ck" | cut -f1)" "$run"
	rm -rf "$BENCH_W/ck"
}

for mib in $SIZES; do
	c_bundle "$BENCH_W/bundle-$mib" "$(C_STRESS_ARGS "$mib")"
	cfgs=()
	for r in $RUNTIMES; do
		rt "$r" "$BENCH_W/state-$r" run -d --bundle "$BENCH_W/bundle-$mib" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
			bench_die "$r run failed: $(cat "$BENCH_W/err")"
		sleep 1.5
		mkdir -p "$BENCH_W/$r-$mib"
		rt "$r" "$BENCH_W/state-$r" checkpoint --image-path "$BENCH_W/$r-$mib/base" "$CID" 2>"$BENCH_W/err" ||
			bench_die "$r base checkpoint failed: $(cat "$BENCH_W/err")"
		rt "$r" "$BENCH_W/state-$r" delete -f "$CID" >/dev/null 2>&1
		if [ "$r" = zanshin ]; then cfgs+=(zanshin zanshin-trk); else cfgs+=(runc); fi
	done
	for ((run = 1; run <= RUNS; run++)); do
		n=${#cfgs[@]}
		for ((i = 0; i < n; i++)); do
			c=${cfgs[$(((i + run) % n))]}
			[[ " ${SKIP:-} " == *" $c "* ]] && continue
			if ! msg=$(cycle "$c" "$run" "$mib"); then
				bench_log "$msg"
				bench_note "**FAILED** ($mib MiB, run $run): $msg; $c skipped from then on"
				for r in zanshin runc; do rt "$r" "$BENCH_W/state-$r" delete -f "$CID" >/dev/null 2>&1; done
				SKIP="${SKIP:-} $c"
				FAILED=1
			fi
		done
		((run % 10 == 0)) && bench_log "$mib MiB: run $run/$RUNS"
	done
	SKIP=""
	g="$mib MiB"
	bench_goal "$g: restore --track-mem ≤ +2% over restore (paper +10%)" "Table 3: restore $g" "time (s)" "zanshin, --track-mem" "Table 3: restore $g" zanshin 1.02
	bench_goal "$g: restore --track-mem ≤ 1.05× runc's restore (issue 4)" "Table 3: restore $g" "time (s)" "zanshin, --track-mem" "Table 3: restore $g" "runc + stock CRIU" 1.05
	bench_goal "$g: diff checkpoint ≤ +1% over checkpoint (paper +1.48%)" "Table 2: checkpoint $g" "time (s)" "zanshin, diff checkpoint (--track-mem --parent-path)" "Table 2: checkpoint $g" zanshin 1.01
	rm -rf "$BENCH_W"/*-"$mib"
done
bench_plot container-tables-time.svg bars "time (s)" "Container level: checkpoint (Table 2) and restore (Table 3) of stress --vm" ""
bench_end
exit $FAILED
