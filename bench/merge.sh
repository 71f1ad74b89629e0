#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Chain merge throughput (issue 4: >= 1 GB/s of image): a 512 MiB workload
# dumped in full into a remnant store, then CHAIN-1 diffs (restore
# --track-mem, write 1% of the pages, dump --track-mem on the previous
# generation), then `zanshin remnant merge` of the chain, timed. Throughput
# = bytes of the merged (full) generation / wall time of the merge, which
# flattens the chain, writes the manifest (SHA-256 of every file), verifies
# the new generation against it and retires the chain. The merged
# generation is restored with CRIU and every page of the workload checked.
# Environment: MIB (512), CHAIN (4), RUNS (5 / 1 quick), BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
ZS_TMP=${BENCH_TMP:-/dev/shm}
. "$BENCH_TOP/tests/criu/lib.sh"
RUNS=$(bench_runs 5 1)
MIB=${MIB:-512}
CHAIN=${CHAIN:-4}
Z=$BENCH_TOP/build/bin/zanshin

bench_begin merge "Chain merge: zanshin remnant merge of a chain of diffs into one full generation" "$@"
bench_note "workload: zs-workload, $MIB MiB, one process; chain: 1 full + $((CHAIN - 1)) diffs, each after restore --track-mem and writing 1% of the pages; $RUNS runs; store and images in ${BENCH_TMP:-/dev/shm} (tmpfs)"
bench_note "reference: \`zanshin remnant verify\` of the merged generation, one SHA-256 pass over it on one core (SHA-NI here); the merge hashes every byte twice, the chain it reads and the generation it writes, on the two cores, besides writing it: its throughput cannot exceed the verify's"
bench_note "merge = flatten (copy every page from the nearest image holding it) + manifest (SHA-256 of every file) + verify against the manifest + retire the chain; wall time of \`zanshin remnant merge\`; throughput = merged image bytes / time"
zs_setup merge-bench
R=$ZS_T/store
export ZANSHIN_CONFIG=$ZS_T/zanshin.json
echo '{"remnant": {"max_chain": 64}}' >"$ZANSHIN_CONFIG"
zr() { "$Z" --remnant-root "$R" remnant "$@"; }
W=$ZS_T/wl
K=$((MIB * 256 / 100))

commit() { # ID PID PARENT -> GEN
	local tmp out
	tmp=$(zr begin "$1") || return 1
	if [ -n "$3" ]; then
		zs_dump "d-$RANDOM" "$tmp" "$2" --track-mem --prev-images-dir "../$3" || return 1
	else
		zs_dump "d-$RANDOM" "$tmp" "$2" || return 1
	fi
	out=$(zr commit "$1" "$tmp" --format json) || return 1
	GEN=$(jq -r .name <<<"$out")
}

for run in $(seq "$RUNS"); do
	id=m$run
	wl_start "$W" "$MIB" || bench_die "workload did not start"
	commit "$id" "$(wl_pid "$W")" "" || bench_die "full dump failed"
	prev=$GEN
	for _ in $(seq $((CHAIN - 1))); do
		zs_restore "r-$RANDOM" "$R/containers/$id/generations/$prev" --track-mem || bench_die "restore failed"
		wl_write "$W" "$K"
		wl_verify "$W" >/dev/null || bench_die "workload does not verify"
		digest=$WL_DIGEST
		commit "$id" "$(wl_pid "$W")" "$prev" || bench_die "diff dump failed"
		prev=$GEN
	done
	wl_stop "$W"
	# the last chain is also kept aside for the profile below
	[ "$run" = "$RUNS" ] && command -v perf >/dev/null && cp -a "$R" "$ZS_T/store-prof"
	sync
	t0=$(date +%s.%N)
	out=$(${MERGE_WRAP:-} "$Z" --remnant-root "$R" remnant merge "$id" "$prev" --format json) || bench_die "merge failed: $out"
	t1=$(date +%s.%N)
	merged=$(jq -r '.name // .merged.name // empty' <<<"$out")
	[ -n "$merged" ] || merged=$(zr list "$id" --format json | jq -r 'map(select(.diff|not)) | last | .name')
	bytes=$(du -sb "$R/containers/$id/generations/$merged" | cut -f1)
	secs=$(echo "$t1 - $t0" | bc)
	bench_sample "merge $MIB MiB, chain $CHAIN" zanshin "time (s)" "$secs" "$run"
	bench_sample "merge $MIB MiB, chain $CHAIN" zanshin "throughput (GB/s)" "$(echo "scale=3; $bytes / $secs / 1000000000" | bc)" "$run"
	bench_sample "merge $MIB MiB, chain $CHAIN" zanshin "s per GB" "$(echo "scale=4; $secs * 1000000000 / $bytes" | bc)" "$run"
	# the reference: one SHA-256 pass over the merged generation on one
	# core (verify); the merge makes two (sources, output) on two cores
	t0=$(date +%s.%N)
	zr verify "$id" "$merged" >/dev/null || bench_die "the merged generation does not verify"
	t1=$(date +%s.%N)
	bench_sample "merge $MIB MiB, chain $CHAIN" "zanshin remnant verify (reference)" "throughput (GB/s)" "$(echo "scale=3; $bytes / ($t1 - $t0) / 1000000000" | bc)" "$run"
	zs_restore "v-$RANDOM" "$R/containers/$id/generations/$merged" || bench_die "restore of the merged generation failed"
	wl_verify "$W" >/dev/null || bench_die "merged generation restores wrong memory"
	[ "$WL_DIGEST" = "$digest" ] || bench_die "merged generation restores another state"
	wl_stop "$W"
	bench_log "run $run: $bytes bytes merged in $secs s"
done
# where a merge's time goes: one more merge of the last chain under perf
if [ -d "$ZS_T/store-prof" ]; then
	if perf record -q -F 1000 -g -o "$ZS_T/perf.data" -- "$Z" --remnant-root "$ZS_T/store-prof" remnant merge "m$RUNS" "$prev" >/dev/null 2>"$ZS_T/perf.err"; then
		prof=$(perf report -i "$ZS_T/perf.data" --no-children --sort dso --stdio 2>/dev/null |
			awk '/^ *[0-9.]+%/ && $1 + 0 >= 1 {printf "%s%s %s", sep, $2, $1; sep = ", "}')
		ksym=$(perf report -i "$ZS_T/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
			awk '/^ *[0-9.]+%/ && $2 == "[k]" && n < 4 {printf "%s%s %s", sep, $3, $1; sep = ", "; n++}')
		bench_note "perf profile of one more merge of the last chain (\`perf record -g\`, copy of the store), share of samples by object: $prof; in the kernel, first: $ksym. SHA-256 is gnutls (SHA-NI); the kernel's share is writing the new generation into tmpfs pages (allocation and copy), mapping the sources and reading the output back"
	else
		bench_log "perf record failed: $(tail -c 300 "$ZS_T/perf.err")"
	fi
	rm -rf "$ZS_T/store-prof" "$ZS_T/perf.data"
fi
bench_goal_abs "merge throughput >= 1 GB/s of image (issue 4; shown as seconds per GB <= 1)" "merge $MIB MiB, chain $CHAIN" "s per GB" zanshin 1.0
bench_end
