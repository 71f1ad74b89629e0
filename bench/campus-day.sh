#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A campus day: bytes moved by zanshin's remnant-aware scheduler vs. the
# same policies with l = 0 vs. runc + CRIU full moves (issue 14, the seed
# paper's argument), with the byte model calibrated by real checkpoints.
#
# 1. Measured (this machine, real runtimes, the memory workload zs-workload
#    in a busybox container, images on $BENCH_TMP):
#    - full images: `zanshin checkpoint` and `runc checkpoint` (stock CRIU)
#      of the container at each size in SIZES MiB: the image's bytes (every
#      file but logs);
#    - diff images: at MIB MiB, restored with --track-mem, then WRITES % of
#      its pages written, `zanshin checkpoint --track-mem --parent-path`:
#      the diff's bytes, for each write share (memory verified, every page,
#      after every restore);
#    - the Bundle: config.json plus the tar of its rootfs as zanshind sends
#      it (GNU tar, names sorted, numeric owners; uncompressed).
#    Least squares give bytes = A * memory + B (full, per runtime) and
#    bytes = A * written + B (diff).
# 2. Modelled (bench/campus-day.c, with the coordinator's own timetable,
#    policy and scheduler code): 40 PCs in 4 rooms, 100 containers of
#    128-1024 MiB, 14 h, a class timetable per room; the bytes of each move
#    from the fits above; the pages a container writes from a write rate
#    (5-30 % of its memory per hour, distinct pages) times the time since
#    it arrived.
# Writes bench/results/campus-day.json (samples: calibration and the three
# totals), campus-day-sim.json (the simulation's own output), campus-day.md
# and the plot bench/results/plots/campus-day-bytes.svg.
# Environment: SIZES ("64 256"; quick "32 64"), MIB (256; quick 64), WRITES ("1 5 10 30"),
# BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
. "$BENCH_TOP/bench/lib/container.sh"
. "$BENCH_TOP/bench/lib/workload.sh"
if [ "$BENCH_MODE" = quick ]; then
	SIZES=${SIZES:-32 64} MIB=${MIB:-64}
fi
SIZES=${SIZES:-64 256}
MIB=${MIB:-256}
WRITES=${WRITES:-1 5 10 30}
SIM=$BENCH_TOP/build/bench/campus-day
make -C "$BENCH_TOP" -s "$SIM" >/dev/null || bench_die "cannot build $SIM"
for b in "$ZANSHIN" "$WL" "$RUNC" "$STOCK_CRIU" "$SIM"; do [ -x "$b" ] || bench_die "$b missing"; done
CID=bench-campus-$$

bench_begin campus-day "A campus day: bytes moved, remnant-aware vs l = 0 vs runc + CRIU (byte model measured)" "$@"
bench_anchor "runc + CRIU (full moves)"
c_cleanup_on_exit "$BENCH_W/A/state"
IMG=$BENCH_W/img
mkdir -p "$IMG"

# image_bytes DIR: the bytes of an image (every regular file but logs)
image_bytes() { find "$1" -type f ! -name '*.log' -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

# start RT SIZE: the workload container on runtime RT, memory filled
start() {
	local out i
	rm -rf "$BENCH_W/A/bundle"
	c_bundle "$BENCH_W/A/bundle" "$(C_WL_ARGS "$2")"
	rt "$1" "$BENCH_W/A/state-$1" run -d --bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
		bench_die "$1 run ($2 MiB) failed: $(tail -c 600 "$BENCH_W/err")"
	for ((i = 0; i < 600; i++)); do [ -s "$BENCH_W/A/bundle/rootfs/wl/pid" ] && break; sleep 0.1; done
	out=$(wl_do A "$1" verify) || bench_die "$1: the workload does not verify: $out"
}

# full RT SIZE: checkpoint a fresh container, record the image's bytes
full() {
	local d=$IMG/$1-full-$2 bytes
	start "$1" "$2"
	rt "$1" "$BENCH_W/A/state-$1" checkpoint --image-path "$d" "$CID" 2>"$BENCH_W/err" ||
		bench_die "$1 checkpoint ($2 MiB) failed: $(tail -c 600 "$BENCH_W/err")"
	rt "$1" "$BENCH_W/A/state-$1" delete -f "$CID" >/dev/null 2>&1
	bytes=$(image_bytes "$d")
	bench_sample "calibration: full image" "$1 $2 MiB" "image bytes" "$bytes" 1 "$2"
	FULL_PTS[$1]+="$(($2 * 1048576)) $bytes"$'\n'
	bench_log "$1 full image of $2 MiB: $bytes bytes"
	rm -rf "$d"
}

# diffs: at MIB MiB, the diff after each write share of WRITES
diffs() {
	local prev=$IMG/d0 k out w d n=0 bytes
	start zanshin "$MIB"
	zs_() { rt zanshin "$BENCH_W/A/state-zanshin" "$@"; }
	zs_ checkpoint --image-path "$prev" "$CID" 2>"$BENCH_W/err" || bench_die "baseline checkpoint failed: $(tail -c 600 "$BENCH_W/err")"
	for w in $WRITES; do
		n=$((n + 1))
		d=$IMG/d$n
		zs_ delete -f "$CID" >/dev/null 2>&1
		zs_ restore -d --track-mem --image-path "$prev" --bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
			bench_die "restore before the $w % diff failed: $(tail -c 600 "$BENCH_W/err")"
		out=$(wl_do A zanshin verify) || bench_die "restored memory wrong before the $w % diff: $out"
		k=$(wl_pages "$MIB" "$w")
		out=$(wl_do A zanshin write "$k") || bench_die "write failed: $out"
		zs_ checkpoint --track-mem --parent-path "../$(basename "$prev")" --image-path "$d" "$CID" 2>"$BENCH_W/err" ||
			bench_die "diff checkpoint ($w %) failed: $(tail -c 600 "$BENCH_W/err")"
		bytes=$(image_bytes "$d")
		bench_sample "calibration: diff image" "zanshin $w % written" "image bytes" "$bytes" 1 "$w"
		DIFF_PTS+="$((k * 4096)) $bytes"$'\n'
		bench_log "diff after $k pages ($w % of $MIB MiB) written: $bytes bytes"
		prev=$d
	done
	zs_ delete -f "$CID" >/dev/null 2>&1
}

# fit: least squares of "x y" lines -> "A,B"
fit() {
	awk 'NF == 2 {n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2}
	END {d = n * sxx - sx * sx; a = d ? (n * sxy - sx * sy) / d : 0; b = (sy - a * sx) / n; printf "%.6f,%.0f", a, b}'
}

declare -A FULL_PTS=()
DIFF_PTS=
for s in $SIZES; do
	full zanshin "$s"
	full runc "$s"
done
diffs
c_bundle "$BENCH_W/bundle-size" "$(C_WL_ARGS "$MIB")"
BUNDLE=$(($(stat -c %s "$BENCH_W/bundle-size/config.json") +
	$(tar --sort=name --numeric-owner -cf - -C "$BENCH_W/bundle-size/rootfs" . | wc -c)))
bench_sample "calibration: Bundle" "config.json + rootfs tar" "bundle bytes" "$BUNDLE"
F_Z=$(fit <<<"${FULL_PTS[zanshin]}")
F_R=$(fit <<<"${FULL_PTS[runc]}")
F_D=$(fit <<<"$DIFF_PTS")
bench_log "model: zanshin full $F_Z, runc full $F_R, diff $F_D, Bundle $BUNDLE bytes"

"$SIM" --full "$F_Z" --diff "$F_D" --runc "$F_R" --bundle "$BUNDLE" >"$BENCH_OUT/campus-day-sim.json" ||
	bench_die "the simulation failed"
sim() { jq -r "$1" "$BENCH_OUT/campus-day-sim.json"; }
bench_sample "campus day" "zanshin (k = l = m = 1)" "bytes moved" "$(sim .runs.zanshin.bytes)"
bench_sample "campus day" "zanshin policies, l = 0" "bytes moved" "$(sim .runs.zanshin_l0.bytes)"
bench_sample "campus day" "runc + CRIU (full moves)" "bytes moved" "$(sim .runs.runc_criu.bytes)"
bench_note "measured: full images of zs-workload in a busybox container at ${SIZES// /, } MiB with zanshin and with runc + stock CRIU (bytes of every image file but logs); diffs at $MIB MiB after ${WRITES// /, } % of its pages written (restore --track-mem, write, checkpoint --track-mem --parent-path; memory verified after every restore); the Bundle as zanshind sends it (config.json + GNU tar of the rootfs, uncompressed)"
bench_note "fits (bytes = A * x + B): zanshin full $F_Z, runc full $F_R (x = memory), diff $F_D (x = bytes of pages written); Bundle $BUNDLE bytes"
bench_note "modelled (bench/campus-day.c, the coordinator's timetable, policy and scheduler code): 40 PCs in 4 rooms, 100 containers of 128-1024 MiB, 07:00-21:00, evacuation 15 min before each class; pages written = write rate (5-30 % of memory per hour) x time since arrival, capped at memory"
bench_plot "campus-day-bytes.svg" bars "bytes moved" "A campus day: total bytes moved (byte model measured here)" "^campus day"
bench_end

# campus-day.md: what is measured and what is modelled, and the totals
"$BENCH_PY" - "$BENCH_OUT" "$F_Z" "$F_R" "$F_D" "$BUNDLE" "$SIZES" "$MIB" "$WRITES" <<'PY'
import json, sys
out, fz, fr, fd, bundle, sizes, mib, writes = sys.argv[1:9]
r = json.load(open(f"{out}/campus-day-sim.json"))
b = json.load(open(f"{out}/campus-day.json"))
GiB = 1 << 30
cal = [s for s in b["samples"] if s["group"].startswith("calibration")]
with open(f"{out}/campus-day.md", "w") as f:
    f.write(f"# A campus day ({r['pcs']} PCs in {r['rooms']} rooms, {r['containers']} containers, {r['hours']} h)\n\n")
    f.write("`bench/campus-day.sh`. Plot: [plots/campus-day-bytes.svg](plots/campus-day-bytes.svg).\n\n")
    f.write("## Measured (real checkpoints on this machine)\n\n")
    f.write(f"The memory workload (zs-workload) in a busybox container, checkpointed with the real runtimes: full images at {sizes} MiB "
            "with `zanshin checkpoint` and with `runc checkpoint` (runc 1.1.5, stock CRIU 4.2.1); diff images at "
            f"{mib} MiB after {writes} % of its pages were written since a `restore --track-mem` "
            "(`checkpoint --track-mem --parent-path`, memory verified page by page after every restore); "
            "the Bundle as zanshind sends it (config.json + GNU tar of the rootfs, uncompressed). "
            "Bytes are those of every image file but logs.\n\n| what | bytes |\n|---|---|\n")
    for s in cal:
        f.write(f"| {s['group'].split(': ', 1)[1]}: {s['config']} | {int(s['value']):,} |\n")
    f.write(f"\nLeast-squares fits fed to the simulation (bytes = A·x + B): zanshin full image A,B = {fz} "
            f"(x = memory), runc + CRIU full image {fr}, zanshin diff image {fd} (x = bytes of pages written), "
            f"Bundle {int(bundle):,} bytes.\n\n")
    f.write("## Modelled (bench/campus-day.c)\n\n"
            "The coordinator's own timetable (libical, TZID Europe/Berlin), policy (evacuate 15 min before a class) and "
            "scheduler (cost k·(C+M) − l·(P+B) − m·L) code, minute by minute from 07:00 to 21:00: each room's PCs "
            "have 3–4 of 5 daily 90-min classes; 100 containers of 128–1024 MiB start on random PCs. Not measured but "
            "modelled: the load of a node (1/8 CPU and 1 GiB per container), the pages a container writes (a write "
            "rate of 5–30 % of its memory per hour, distinct pages, times the time since it arrived, capped at its "
            "memory), and that a move is a diff exactly when it goes back to the node holding the generation the "
            "container was restored from (as zanshin's agent does). A full zanshin move sends the full image and the "
            "Bundle when the target holds none; runc + CRIU sends a full image and the Bundle every time. Left out, "
            "in runc's favour: a move to a node the container left before its last hop counts as full here, while "
            "zanshind sends it the missing generations or a diff rebased on the generation it holds "
            "(agent/move_gens.c, move_rebase.c); and compression on the wire (zstd) for all three.\n\n")
    f.write("| scheduler | moves | diff moves | bytes moved | vs runc |\n|---|---|---|---|---|\n")
    base = r["runs"]["runc_criu"]["bytes"]
    for k, name in (("zanshin", "zanshin (k = l = m = 1)"), ("zanshin_l0", "zanshin policies, l = 0"),
                    ("runc_criu", "runc + CRIU (full moves)")):
        x = r["runs"][k]
        f.write(f"| {name} | {x['moves']} | {x.get('diff_moves', 0)} | {x['bytes'] / GiB:.1f} GiB | "
                f"{100 * x['bytes'] / base:.1f} % |\n")
print(open(f"{out}/campus-day.md").read())
PY
