# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark harness, sourced by bench/*.sh. A benchmark records every
# sample it takes; at the end bench/lib/record.py writes
# bench/results/NAME.json (samples + machine + versions + command line + date)
# and bench/lib/report.py regenerates bench/results/README.md and the plots
# from every JSON file there. Nothing under bench/results/ is edited by hand.
#
#   bench_begin NAME TITLE          start recording (scratch dir $BENCH_W)
#   bench_note TEXT                 a line of the method, shown in the README
#   bench_anchor CONFIG             the configuration ratios are taken against
#   bench_sample GROUP CONFIG METRIC VALUE [RUN] [HOP]
#   bench_goal TEXT GROUP METRIC CONFIG VS_GROUP VS_CONFIG MAX_RATIO
#                                   goal: median(CONFIG)/median(VS) <= MAX_RATIO
#   bench_goal_abs TEXT GROUP METRIC CONFIG MAX
#                                   goal: median(CONFIG) <= MAX
#   bench_plot FILE KIND METRIC TITLE [GROUP-REGEX]
#                                   KIND bars (median, p10-p90 per group and
#                                   configuration) or hops (median per hop)
#   bench_end                       write NAME.json, regenerate the README
#
# Environment: BENCH_QUICK=1 (quick mode: fewer runs, set by make bench-quick),
# OUT (bench/results), BENCH_TMP (/dev/shm: scratch, images).

BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_OUT=${OUT:-$BENCH_TOP/bench/results}
BENCH_PY=/usr/bin/python3
if [ "${BENCH_QUICK:-0}" = 1 ]; then BENCH_MODE=quick; else BENCH_MODE=full; fi

# bench_runs FULL QUICK: the number of runs for the mode (RUNS overrides).
bench_runs() {
	if [ -n "${RUNS:-}" ]; then
		echo "$RUNS"
	elif [ "$BENCH_MODE" = quick ]; then
		echo "$2"
	else
		echo "$1"
	fi
}

bench_die() {
	echo "bench ${BENCH_NAME:-?}: $*" >&2
	exit 1
}

bench_log() { echo "bench $BENCH_NAME: $*" >&2; }

# bench_begin NAME TITLE [ARGS...]: ARGS are the script's own arguments,
# kept for the command line.
bench_begin() {
	BENCH_NAME=$1
	local title=$2
	BENCH_W=$(mktemp -d "${BENCH_TMP:-/dev/shm}/zs-bench-$1.XXXXXX") || bench_die "mktemp failed"
	local cmd="" v
	for v in BENCH_QUICK RUNS MIB SIZES HOPS WRITES LINKS WARM SEPARATE MOVES BASE_MOVES WRITE TP_MIB TP_RUNS; do
		[ -n "${!v:-}" ] && cmd+="$v=${!v} "
	done
	cmd+="bench/$(basename "$0")"
	shift 2
	[ $# -gt 0 ] && cmd+=" $*"
	{
		echo "name	$BENCH_NAME"
		echo "title	$title"
		echo "command	$cmd"
		echo "mode	$BENCH_MODE"
		echo "date	$(date -u +%FT%TZ)"
		echo "load_start	$(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$BENCH_W/meta.tsv"
	: >"$BENCH_W/samples.tsv"
	: >"$BENCH_W/goals.tsv"
	: >"$BENCH_W/plots.tsv"
	BENCH_T0=$(date +%s)
}

bench_note() { printf 'note\t%s\n' "$*" >>"$BENCH_W/meta.tsv"; }
bench_anchor() { printf 'anchor\t%s\n' "$1" >>"$BENCH_W/meta.tsv"; }

bench_sample() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-0}" "${6:-}" >>"$BENCH_W/samples.tsv"
}

bench_goal() {
	printf 'ratio\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_W/goals.tsv"
}

bench_goal_abs() {
	printf 'abs\t%s\t%s\t%s\t%s\t\t\t%s\n' "$@" >>"$BENCH_W/goals.tsv"
}

bench_plot() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$BENCH_W/plots.tsv"
}

# bench_time CMD...: run CMD, set BENCH_SECS to its wall time; returns its status.
bench_time() {
	local t0 t1 rc
	t0=$(date +%s%N)
	"$@"
	rc=$?
	t1=$(date +%s%N)
	BENCH_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')
	return $rc
}

bench_end() {
	printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$BENCH_W/meta.tsv"
	printf 'wall_seconds\t%s\n' "$(($(date +%s) - BENCH_T0))" >>"$BENCH_W/meta.tsv"
	mkdir -p "$BENCH_OUT"
	"$BENCH_PY" "$BENCH_TOP/bench/lib/record.py" "$BENCH_W" "$BENCH_OUT/$BENCH_NAME.json" ||
		bench_die "recording the results failed"
	"$BENCH_PY" "$BENCH_TOP/bench/lib/report.py" "$BENCH_OUT" || bench_die "the report failed"
	bench_settle_stores "$BENCH_W"
	[ "${BENCH_KEEP:-0}" = 1 ] && bench_log "kept $BENCH_W" || rm -rf "$BENCH_W"
}

# bench_settle_stores DIR: wait for the background work (keeping, merging) of
# every zanshin remnant store under DIR (`remnant list` waits for it), so
# that removing DIR does not race a store still writing into it.
bench_settle_stores() {
	local r
	[ -x "${ZANSHIN:-}" ] || return 0
	while IFS= read -r -d '' r; do
		"$ZANSHIN" --remnant-root "$r" remnant list >/dev/null 2>&1
	done < <(find "$1" -maxdepth 3 -type d -name '*.remnant' -print0 2>/dev/null)
}
