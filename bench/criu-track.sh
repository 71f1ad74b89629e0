#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Cost of memory tracking (issue 2, "Performance"), side by side in one run
# with stock CRIU 4.2.1 built from the same verified tarball:
#   (i)   restore of a 1 GiB workload: --track-mem vs without   (goal <= +2%)
#   (ii)  full dump of a fresh 1 GiB workload: --track-mem vs without (goal <= +1%)
#   (iii) after restore --track-mem, the workload writes 1% of its pages; the
#         diff dump (--track-mem --prev-images-dir) vs the full dump:
#         size <= 2% and time <= 25% of the full one
# Medians of RUNS runs (default 20); configurations interleave within each run
# (order rotates), images live in page cache (warm), every configuration's
# restored memory is verified page by page once. Writes
#   bench/results/criu-track.md  and  bench/results/criu-track.json
# Images go to tmpfs (BENCH_TMP, default /dev/shm) so that disk writeback
# does not drown the differences being measured.
# Environment: RUNS (20), MIB (1024), CRIU, STOCK_CRIU, OUT (bench/results),
# BENCH_TMP (/dev/shm).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/criu/lib.sh"
RUNS=${RUNS:-20}
MIB=${MIB:-1024}
OUT=${OUT:-$top/bench/results}
NPAGES=$((MIB * 256))
WRITE=$((NPAGES / 100))

die() {
	echo "criu-track: $*" >&2
	exit 1
}
[ -x "$CRIU" ] || die "$CRIU missing (make)"
[ -x "$STOCK_CRIU" ] || die "$STOCK_CRIU missing (make criu-stock)"
criu_has_track_mem || die "$CRIU has no --track-mem (patches missing?)"
ZS_TMP=${BENCH_TMP:-/dev/shm}
zs_setup bench
W=$ZS_T/wl
DATA=$ZS_T/data.tsv
: >"$DATA"

# record CONFIG RUN SECONDS BYTES
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-0}" >>"$DATA"; }

verified=" "
# check_once CONFIG DIR DIGEST: verify every page the first time a configuration restores.
check_once() {
	[[ $verified == *" $1 "* ]] && return 0
	wl_verify "$2" >"$ZS_T/.v" || die "$1: restored memory is wrong: $(cat "$ZS_T/.v")"
	[ "$WL_DIGEST" = "$3" ] || die "$1: restored state is not the dumped one"
	verified="$verified$1 "
}

# fresh DIR: start a workload working in DIR; prints its pid.
fresh() {
	wl_start "$1" "$MIB" || die "workload: $(cat "$1/.start")"
	wl_pid "$1"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# One full image per CRIU, for the restore measurements.
echo "criu-track: $MIB MiB workload, $RUNS runs; scratch $ZS_T"
pid=$(fresh "$W")
wl_verify "$W" >/dev/null
D0=$WL_DIGEST
zs_dump base "$ZS_T/base" "$pid" || die "full dump failed: $(zs_log base dump)"
WS=$ZS_T/wl-stock
pid=$(fresh "$WS")
wl_verify "$WS" >/dev/null
DS=$WL_DIGEST
ZS_CRIU=$STOCK_CRIU zs_dump stock-base "$ZS_T/stock-base" "$pid" || die "stock full dump failed"
FULL_BYTES=$(img_bytes "$ZS_T/base")

# (i) restore: stock, ours without tracking, ours with --track-mem.
restore_one() {
	local config=$1 run=$2 criu=$3 img=$4 dir=$5 digest=$6
	shift 6
	ZS_CRIU=$criu zs_restore "r-$config" "$img" "$@" || die "$config restore failed: $(zs_log "r-$config" restore)"
	record "restore-$config" "$run" "$ZS_SECS"
	check_once "restore-$config" "$dir" "$digest"
	wl_stop "$dir"
}

# (ii) full dump of a fresh workload: stock, ours, ours with --track-mem.
dump_one() {
	local config=$1 run=$2 criu=$3 pid
	shift 3
	pid=$(fresh "$ZS_T/wl-dump")
	ZS_CRIU=$criu zs_dump "d-$config" "$ZS_T/d-$config" "$pid" "$@" || die "$config dump failed: $(zs_log "d-$config" dump)"
	record "dump-$config" "$run" "$ZS_SECS" "$(img_bytes "$ZS_T/d-$config")"
	rm -rf "$ZS_T/d-$config"
}

# (iii) restore --track-mem, write 1%, diff dump, then check the diff restores.
# A diff refused because the keeper vanished (other work on this machine may
# kill criu-keeper processes) is retried once and counted.
RETRIED=0
diff_one() {
	local run=$1 try=${2:-1} pid d
	zs_restore "r-diff-$run" "$ZS_T/base" --track-mem || die "restore for diff failed"
	pid=$(wl_pid "$W")
	wl_write "$W" "$WRITE" || die "write failed"
	wl_verify "$W" >/dev/null
	d=$WL_DIGEST
	if ! zs_dump "diff-$run" "$ZS_T/diff" "$pid" --track-mem --prev-images-dir ../base; then
		if [ "$try" = 1 ] && grep -q 'keeper .* is gone' "$ZS_T/logs/diff-$run.dump.log"; then
			echo "criu-track: run $run: $(grep -o 'Tracking of task .* gone' "$ZS_T/logs/diff-$run.dump.log"); retrying"
			RETRIED=$((RETRIED + 1))
			wl_stop "$W"
			rm -rf "$ZS_T/diff"
			diff_one "$run" 2
			return
		fi
		die "diff dump failed: $(zs_log "diff-$run" dump)"
	fi
	record diff "$run" "$ZS_SECS" "$(img_bytes "$ZS_T/diff")"
	record diff-pages "$run" 0 "$(img_pages "$ZS_T/diff")"
	if [ "$(img_pages "$ZS_T/diff")" -gt $((NPAGES / 2)) ]; then
		echo "criu-track: run $run: the diff is not a diff ($(img_pages "$ZS_T/diff") pages); its log says:"
		grep -E 'track:|Error|Warn' "$ZS_T/logs/diff-$run.dump.log" | sed 's/^/    /'
	fi
	if [ "$run" = 1 ]; then
		zs_restore r-diff2 "$ZS_T/diff" || die "restore of the diff failed"
		check_once diff-restore "$W" "$d"
		wl_stop "$W"
	fi
	rm -rf "$ZS_T/diff"
}

for ((run = 1; run <= RUNS; run++)); do
	# rotate the order so that no configuration always runs first
	case $((run % 3)) in
	0) order="stock plain track" ;;
	1) order="plain track stock" ;;
	2) order="track stock plain" ;;
	esac
	for c in $order; do
		case $c in
		stock) restore_one stock "$run" "$STOCK_CRIU" "$ZS_T/stock-base" "$WS" "$DS" ;;
		plain) restore_one plain "$run" "$CRIU" "$ZS_T/base" "$W" "$D0" ;;
		track) restore_one track "$run" "$CRIU" "$ZS_T/base" "$W" "$D0" --track-mem ;;
		esac
	done
	for c in $order; do
		case $c in
		stock) dump_one stock "$run" "$STOCK_CRIU" ;;
		plain) dump_one plain "$run" "$CRIU" ;;
		track) dump_one track "$run" "$CRIU" --track-mem ;;
		esac
	done
	diff_one "$run"
	echo "criu-track: run $run/$RUNS done"
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$OUT"
RETRIED=$RETRIED LOAD="$LOAD_START at start, $LOAD_END at end" /usr/bin/python3 - "$DATA" "$OUT" "$RUNS" "$MIB" "$WRITE" "$FULL_BYTES" "$ZS_TMP" \
	"$("$CRIU" --version | head -n1)" "$("$STOCK_CRIU" --version | head -n1)" \
	"$(git -C "$top" rev-parse --short HEAD 2>/dev/null)$(git -C "$top" diff --quiet -- criu-patches 2>/dev/null || echo +dirty)" <<'PY'
import json, os, platform, statistics, sys, time

data, out, runs, mib, write, full_bytes, tmp, ver, stock_ver, rev = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(data) if l.strip()]
by = {}
for cfg, run, secs, size in rows:
    by.setdefault(cfg, []).append((float(secs), int(size)))

def med(cfg, i=0):
    return statistics.median(v[i] for v in by[cfg])

def rng(cfg):
    xs = [v[0] for v in by[cfg]]
    return min(xs), max(xs)

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
res = {
    "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "command": "RUNS=%s MIB=%s bench/criu-track.sh" % (runs, mib),
    "machine": {"kernel": platform.release(), "nproc": os.cpu_count(), "cpu": cpu,
                "loadavg": os.environ.get("LOAD", "")},
    "diff_runs_retried_keeper_gone": int(os.environ.get("RETRIED", "0")),
    "criu": ver, "stock_criu": stock_ver, "git": rev,
    "workload_mib": int(mib), "pages_written_for_diff": int(write),
    "full_image_bytes": int(full_bytes), "image_dir": tmp,
    "diff_pages": [v[1] for v in by["diff-pages"]],
    "median_seconds": {k: med(k) for k in sorted(by) if k != "diff-pages"},
    "raw_seconds": {k: [v[0] for v in by[k]] for k in sorted(by) if k != "diff-pages"},
    "median_bytes": {k: med(k, 1) for k in sorted(by) if k.startswith("dump") or k == "diff"},
}
r = {
    "restore_track_over_plain": med("restore-track") / med("restore-plain") - 1,
    "restore_track_over_stock": med("restore-track") / med("restore-stock") - 1,
    "dump_track_over_plain": med("dump-track") / med("dump-plain") - 1,
    "dump_track_over_stock": med("dump-track") / med("dump-stock") - 1,
    "diff_size_over_full": med("diff", 1) / int(full_bytes),
    "diff_time_over_full_dump": med("diff") / med("dump-plain"),
}
res["ratios"] = r
goals = {
    "restore_track_over_plain": ("<= +2%", r["restore_track_over_plain"] <= 0.02),
    "dump_track_over_plain": ("<= +1%", r["dump_track_over_plain"] <= 0.01),
    "diff_size_over_full": ("<= 2%", r["diff_size_over_full"] <= 0.02),
    "diff_time_over_full_dump": ("<= 25%", r["diff_time_over_full_dump"] <= 0.25),
}
res["goals_met"] = {k: v[1] for k, v in goals.items()}
json.dump(res, open(os.path.join(out, "criu-track.json"), "w"), indent=2)

def row(name, cfg, what):
    lo, hi = rng(cfg)
    return "| %s | %s | %.3f | %.3f–%.3f |" % (name, what, med(cfg), lo, hi)

def pct(x):
    return "%+.2f%%" % (100 * x)

md = []
md.append("# CRIU memory tracking: cost of restore, dump and diff\n")
md.append("Generated by `bench/criu-track.sh` on %s; do not edit by hand.\n" % res["generated"])
md.append("- command: `%s` (medians of %s runs; configurations interleaved, order rotated per run)" % (res["command"], runs))
md.append("- machine: Linux %s, %s CPUs, %s; load average %s (other work shares the machine)" % (platform.release(), os.cpu_count(), cpu, os.environ.get("LOAD", "?")))
md.append("- CRIU: ours = build/bin/criu (%s, zanshin %s, criu-patches/series); stock = build/stock/bin/criu (%s, same verified tarball, no patches)" % (ver, rev, stock_ver))
md.append("- workload: `zs-workload -m %s` (one process, %s MiB of anonymous memory filled with a verifiable pattern); images in %s" % (mib, mib, tmp))
md.append("- restore: `criu restore -D IMG -d [--track-mem]` of a full image, wall time of the command; the restored memory of every configuration was verified page by page once")
md.append("- dump: `criu dump -t PID -D IMG [--track-mem]` of a freshly started workload, wall time")
if int(os.environ.get("RETRIED", "0")):
    md.append("- %s diff run(s) were refused because the run's criu-keeper had vanished and were retried once (see the benchmark's output)" % os.environ["RETRIED"])
md.append("- diff: `criu restore --track-mem` of the full image, the workload writes %s pages (1%%), then `criu dump -t PID -D diff --track-mem --prev-images-dir ../base`; the first diff was restored and verified\n" % write)
md.append("| measurement | configuration | median (s) | min–max (s) |")
md.append("|---|---|---:|---:|")
md.append(row("restore 1 GiB" if mib == "1024" else "restore", "restore-stock", "stock CRIU"))
md.append(row("", "restore-plain", "ours, no tracking"))
md.append(row("", "restore-track", "ours, --track-mem"))
md.append(row("full dump", "dump-stock", "stock CRIU"))
md.append(row("", "dump-plain", "ours, no tracking"))
md.append(row("", "dump-track", "ours, --track-mem"))
md.append(row("diff dump (1% written)", "diff", "ours, --track-mem --prev-images-dir"))
md.append("")
md.append("| goal (issue 2) | measured | met |")
md.append("|---|---:|:---:|")
md.append("| restore with --track-mem ≤ +2%% over without | %s (vs stock %s) | %s |" % (pct(r["restore_track_over_plain"]), pct(r["restore_track_over_stock"]), "yes" if goals["restore_track_over_plain"][1] else "**no**"))
md.append("| dump with --track-mem ≤ +1%% over without | %s (vs stock %s) | %s |" % (pct(r["dump_track_over_plain"]), pct(r["dump_track_over_stock"]), "yes" if goals["dump_track_over_plain"][1] else "**no**"))
dp = [v[1] for v in by["diff-pages"]]
md.append("| diff size ≤ 2%% of the full image | %.2f%% (%d of %d bytes; %d–%d pages stored for %s written) | %s |" % (100 * r["diff_size_over_full"], med("diff", 1), int(full_bytes), min(dp), max(dp), write, "yes" if goals["diff_size_over_full"][1] else "**no**"))
md.append("| diff time ≤ 25%% of the full dump | %.1f%% | %s |" % (100 * r["diff_time_over_full_dump"], "yes" if goals["diff_time_over_full_dump"][1] else "**no**"))
md.append("")
open(os.path.join(out, "criu-track.md"), "w").write("\n".join(md))
print("\n".join(md))
PY
