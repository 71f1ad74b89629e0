#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Tracking cost of the wp-async backend (issue 5 item 4), measured by
# bench/microbench/track-cost.c: µs per first write to a tracked page vs a
# write to a present untracked page, PAGEMAP_SCAN + re-arm per GiB, and two
# simple workloads with and without tracking. Then a perf profile of the
# tracked-write phase alone. Writes bench/results/track-cost.json.
# Environment: MIB (256), RUNS (full 30, quick 5), BENCH_QUICK.
set -u
. "$(dirname "$0")/lib/bench.sh"
MIB=${MIB:-256}
REPS=$(bench_runs 30 5)
BIN=$BENCH_TOP/build/bench/track-cost
SRC=$BENCH_TOP/bench/microbench/track-cost.c

mkdir -p "$(dirname "$BIN")"
if [ ! -x "$BIN" ] || [ "$SRC" -nt "$BIN" ]; then
	${CC:-cc} -O2 -Wall -Wextra -Werror -o "$BIN" "$SRC" || bench_die "cannot build $SRC"
fi

bench_begin track-cost "Tracking cost: wp-async faults, scan and re-arm, workload throughput" "$@"
bench_anchor untracked
bench_note "program: \`build/bench/track-cost -m $MIB -r $REPS\` (bench/microbench/track-cost.c): $MIB MiB private anonymous memory, MADV_NOHUGEPAGE (4 KiB pages); userfaultfd UFFD_FEATURE_WP_ASYNC|UFFD_FEATURE_WP_UNPOPULATED, UFFDIO_REGISTER_MODE_WP; armed and scanned with PAGEMAP_SCAN (PM_SCAN_WP_MATCHING|PM_SCAN_CHECK_WPASYNC, category PAGE_IS_WRITTEN), as the patched CRIU does at restore and diff dump; every scan is checked to report exactly the pages written"
bench_note "one sample per repetition (a fresh mapping each); one byte written per page; the tracking cost per fault is, per repetition, (first write to a tracked present page) − (write to a present untracked page)"
bench_note "workloads: random 8-byte writes, 64 per page of the region, memory present, tracking armed just before the run; stress --vm-keep style passes, 8 passes writing one byte per page (tracking armed before the first pass: every page faults once, in the first pass)"

"$BIN" -m "$MIB" -r "$REPS" >"$BENCH_W/out" || bench_die "track-cost failed"
awk '
	/^present_write_ns/ {r++; pres[r] = $2}
	/^tracked_write_ns/ {trk[r] = $2}
	END {for (i = 1; i <= r; i++) printf "%d %.6f\n", i, (trk[i] - pres[i]) / 1000}
' "$BENCH_W/out" >"$BENCH_W/diff"
run=0
while read -r name value; do
	case $name in
	populate_write_ns) run=$((run + 1)); bench_sample "first write to an unpopulated page (page fault + allocation)" untracked "ns per page" "$value" "$run" ;;
	present_write_ns) bench_sample "write to a present page" untracked "ns per page" "$value" "$run" ;;
	tracked_write_ns) bench_sample "write to a present page" "tracked (first write after arming)" "ns per page" "$value" "$run" ;;
	scan_rearm_all_ms_per_gib) bench_sample "PAGEMAP_SCAN + re-arm, every page written" tracked "ms per GiB" "$value" "$run" ;;
	scan_rearm_1pct_ms_per_gib) bench_sample "PAGEMAP_SCAN + re-arm, 1% of pages written" tracked "ms per GiB" "$value" "$run" ;;
	scan_rearm_none_ms_per_gib) bench_sample "PAGEMAP_SCAN + re-arm, nothing written" tracked "ms per GiB" "$value" "$run" ;;
	random_mops_untracked) bench_sample "random 8-byte writes" untracked "Mops/s" "$value" "$run" ;;
	random_mops_tracked) bench_sample "random 8-byte writes" tracked "Mops/s" "$value" "$run" ;;
	passes_gibps_untracked) bench_sample "8 passes, one byte per page" untracked "GiB/s" "$value" "$run" ;;
	passes_gibps_tracked) bench_sample "8 passes, one byte per page" tracked "GiB/s" "$value" "$run" ;;
	esac
done <"$BENCH_W/out"
while read -r r v; do
	bench_sample "tracking cost per fault" "tracked − untracked" "µs per fault" "$v" "$r"
done <"$BENCH_W/diff"
bench_goal_abs "per-fault tracking cost ≤ 1 µs (median)" "tracking cost per fault" "µs per fault" "tracked − untracked" 1.0
bench_plot track-cost-write.svg bars "ns per page" "ns per written page: untracked vs first write after arming" ""

# Where the time of a tracked first write goes: perf on that phase alone.
if command -v perf >/dev/null; then
	if perf record -q -e cpu-clock -F 5000 -g -o "$BENCH_W/perf.data" "$BIN" -t -m "$MIB" -r 10 >/dev/null 2>"$BENCH_W/perf.err"; then
		perf report -i "$BENCH_W/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
			awk '!/^#/ && NF >= 4 && $1 ~ /%$/ {printf "%s%s %s (%s self)", (n++ ? "; " : ""), $4, $1, $2; if (n == 9) exit}' >"$BENCH_W/prof"
		bench_note "perf profile of the tracked first writes alone (\`perf record -e cpu-clock -g track-cost -t\`, symbol: share of samples incl. callees, self): $(cat "$BENCH_W/prof"). The kernel's fault handling proper (handle_mm_fault, of which do_wp_page/wp_page_reuse is the wp-async part) is a small share; most of a fault is the exception entry and return (exc_page_fault self) on this VM, which an untracked page-populating fault pays too (first row group)"
	else
		bench_note "perf record failed: $(head -c 200 "$BENCH_W/perf.err")"
	fi
fi
bench_end
