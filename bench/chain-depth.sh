#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Restore time against the depth of the diff chain it reads. A container
# running zs-workload (MIB MiB) is checkpointed DEPTH times, one node, as in
# `migrate`: hop 1 a full image, then restore --track-mem, write WRITE% of
# the pages, checkpoint --track-mem --parent-path ../h<N-1>; h<N> is a diff
# whose chain is N images deep. Each chain depth in DEPTHS is then restored
# (restore -d --track-mem, wall time) RUNS times, and so is the same memory
# flattened into one full image (`zanshin image flatten`), the anchor; every
# restore's memory is verified and its digest compared with the one taken
# before that checkpoint. No remnant store (--remnant-root none): nothing
# runs in the background between restores.
# Environment: MIB (512), WRITE (1), DEPTHS ("1 2 4 6 8 10"), RUNS (5 / 2
# quick), WARM (1: warm memory before each restore, see migrate.sh),
# BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
. "$BENCH_TOP/bench/lib/container.sh"
. "$BENCH_TOP/bench/lib/workload.sh"
MIB=${MIB:-512}
WRITE=${WRITE:-1}
DEPTHS=${DEPTHS:-1 2 4 6 8 10}
RUNS=$(bench_runs 5 2)
for b in "$ZANSHIN" "$WL"; do [ -x "$b" ] || bench_die "$b missing"; done
CID=bench-chain
depth_max=0
for d in $DEPTHS; do [ "$d" -gt "$depth_max" ] && depth_max=$d; done

bench_begin chain-depth "Restore time against the depth of the diff chain (zanshin, one node)" "$@"
bench_anchor "same memory, flattened"
zs() { "$ZANSHIN" --root "$BENCH_W/A/state-zanshin" --remnant-root none "$@"; }
cleanup() {
	zs delete -f "$CID" >/dev/null 2>&1
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

k=$(wl_pages "$MIB" "$WRITE")
c_bundle "$BENCH_W/A/bundle" "$(C_WL_ARGS "$MIB")"
mkdir -p "$BENCH_W/A/img"
# wl_do and c_pid go through rt(): the same state root, no store
rt() { shift 2 && zs "$@"; }
zs run -d --bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" || bench_die "run failed: $(cat "$BENCH_W/err")"
for ((i = 0; i < 600; i++)); do [ -s "$BENCH_W/A/bundle/rootfs/wl/pid" ] && break; sleep 0.1; done
out=$(wl_do A zanshin verify) || bench_die "workload does not verify: $out"
declare -A DIGEST
for ((h = 1; h <= depth_max; h++)); do
	out=$(wl_do A zanshin write "$k") || bench_die "write failed: $out"
	out=$(wl_do A zanshin verify) || bench_die "verify failed before h$h: $out"
	DIGEST[$h]=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
	cargs=()
	[ "$h" -gt 1 ] && cargs=(--track-mem --parent-path "../h$((h - 1))")
	zs checkpoint --image-path "$BENCH_W/A/img/h$h" "${cargs[@]}" "$CID" 2>"$BENCH_W/err" ||
		bench_die "checkpoint h$h failed: $(tail -c 600 "$BENCH_W/err")"
	zs delete -f "$CID" >/dev/null 2>&1
	zs restore -d --track-mem --image-path "$BENCH_W/A/img/h$h" --bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
		bench_die "restore h$h failed: $(tail -c 600 "$BENCH_W/err")"
done
zs delete -f "$CID" >/dev/null 2>&1
for d in $DEPTHS; do
	zs image flatten "$BENCH_W/A/img/h$d" "$BENCH_W/A/img/f$d" >/dev/null 2>"$BENCH_W/err" ||
		bench_die "flatten h$d failed: $(cat "$BENCH_W/err")"
	rm -f "$BENCH_W/A/img/h$d"/*.log "$BENCH_W/A/img/f$d"/*.log
done

# restore_one IMG DEPTH CONFIG
restore_one() {
	local out
	warm_memory "$MIB"
	bench_time zs restore -d --track-mem --image-path "$BENCH_W/A/img/$1" --bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
		bench_die "restore $1 failed: $(tail -c 600 "$BENCH_W/err")"
	bench_sample "chain depth $2" "$3" "restore (s)" "$BENCH_SECS" 1 "$2"
	out=$(wl_do A zanshin verify) || bench_die "$1: restored memory wrong: $out"
	[[ $out == *"digest=${DIGEST[$2]}"* ]] || bench_die "$1: restored another state ($out, want ${DIGEST[$2]})"
	zs delete -f "$CID" >/dev/null 2>&1
	rm -f "$BENCH_W/A/img/$1"/*.log
	bench_log "$1 (depth $2, $3): restore $BENCH_SECS s"
}
for ((run = 1; run <= RUNS; run++)); do
	for d in $DEPTHS; do
		# alternate the order: neither variant always runs first
		if ((run % 2)); then
			restore_one "h$d" "$d" "diff chain"
			restore_one "f$d" "$d" "same memory, flattened"
		else
			restore_one "f$d" "$d" "same memory, flattened"
			restore_one "h$d" "$d" "diff chain"
		fi
	done
done
bench_note "workload: zs-workload, $MIB MiB, one process in a busybox container; $WRITE% of the pages ($k) written before each checkpoint; h1 full, h<N> a diff on h<N-1> (\`checkpoint --track-mem --parent-path\`), so h<N> is read through N images; images on ${BENCH_TMP:-/dev/shm} (tmpfs); no remnant store"
bench_note "each row: \`zanshin restore -d --track-mem --image-path h<N>\` (diff chain) and of \`zanshin image flatten h<N>\` (the same memory in one image), $RUNS runs each, order alternating; memory warmed before each restore (WARM=${WARM:-1}); every restore verified page by page against the digest taken before the checkpoint"
bench_plot "chain-depth-restore.svg" depth "restore (s)" "$MIB MiB, $WRITE% written per checkpoint: restore time by chain depth" "^chain depth"
bench_end
