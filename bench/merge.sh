#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Chain merge throughput (issue 4: >= 1 GB/s of image): a 512 MiB workload
# dumped in full into a remnant store, then CHAIN-1 diffs (restore
# --track-mem, write 1% of the pages, dump --track-mem on the previous
# generation), then `zanshin remnant merge` of the chain, timed. Throughput
# = bytes of the merged (full) generation / wall time of the merge, which
# flattens the chain, writes the manifest (sha256-4k digest of every file), verifies
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
bench_note "reference: \`zanshin remnant verify\` of the merged generation: one pass of the manifest's digest (sha256-4k: SHA-256 of each 4 KiB block, on both cores, 16 blocks at a time with AVX-512 where the CPU has it, else gnutls's SHA-NI code) over every file"
bench_note "each chain is merged twice, from two copies: \"memory cold\" after 3 s idle, when this VM has returned its free memory to the host (free page reporting: each page the merge writes then costs a host fault; a first touch of such memory runs at ~0.3-1.7 GB/s here), and \"zanshin\" (memory warm) right after writing and removing a tmpfs file of twice the image, as on a machine without free page reporting; the goal is checked on the warm merge"
bench_note "merge = verify the chain's small files + flatten (copy every page from the nearest image holding it, on one core, while the other hashes every page of the chain's pages files: the sources' digests, checked against their manifests, and the new pages file's digest, made of the same page digests) + read the new pages file back and compare it with the sources + manifest + verify + retire the chain; wall time of \`zanshin remnant merge\`; throughput = merged image bytes / time"
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

merge_samples() { # CONFIG SECONDS (bytes: $bytes of the run)
	bench_sample "merge $MIB MiB, chain $CHAIN" "$1" "time (s)" "$2" "$run"
	bench_sample "merge $MIB MiB, chain $CHAIN" "$1" "throughput (GB/s)" "$(echo "scale=3; $bytes / $2 / 1000000000" | bc)" "$run"
	bench_sample "merge $MIB MiB, chain $CHAIN" "$1" "s per GB" "$(echo "scale=4; $2 * 1000000000 / $bytes" | bc)" "$run"
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
	# memory cold: a copy of the chain merged after 3 s idle, when the VM
	# has handed its free memory back to the host (free page reporting,
	# "Reading these numbers"): every page the merge writes is then first
	# touched through the host
	cp -a "$R" "$ZS_T/store-cold" && sync && sleep 3
	t0=$(date +%s.%N)
	"$Z" --remnant-root "$ZS_T/store-cold" remnant merge "$id" "$prev" >/dev/null || bench_die "merge (cold) failed"
	t1=$(date +%s.%N)
	bytes=$(du -sb "$ZS_T/store-cold/containers/$id/generations/"[0-9]* | cut -f1)
	rm -rf "$ZS_T/store-cold"
	merge_samples "zanshin, memory cold" "$(echo "$t1 - $t0" | bc)"
	# memory warm: the VM's free memory touched just before (a tmpfs file
	# of twice the image written and removed), as on a machine without
	# free page reporting
	dd if=/dev/zero of="$ZS_T/warm" bs=1M count=$((2 * MIB)) status=none && rm -f "$ZS_T/warm"
	t0=$(date +%s.%N)
	out=$(${MERGE_WRAP:-} "$Z" --remnant-root "$R" remnant merge "$id" "$prev" --format json) || bench_die "merge failed: $out"
	t1=$(date +%s.%N)
	merged=$(jq -r '.name // .merged.name // empty' <<<"$out")
	[ -n "$merged" ] || merged=$(zr list "$id" --format json | jq -r 'map(select(.diff|not)) | last | .name')
	bytes=$(du -sb "$R/containers/$id/generations/$merged" | cut -f1)
	secs=$(echo "$t1 - $t0" | bc)
	merge_samples zanshin "$secs"
	# the reference: one digest pass over the merged generation (verify)
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
		bench_note "perf profile of one more merge of the last chain (\`perf record -g\`, copy of the store), share of samples by object: $prof; in the kernel, first: $ksym. zanshin's own share is the 16-lane SHA-256 (compress, x16); the kernel's is writing the new generation into fresh tmpfs pages (copy_folio_from_iter_atomic: allocation, first touch of memory the VM may have returned to the host), mapping the sources and reading the output back"
	else
		bench_log "perf record failed: $(tail -c 300 "$ZS_T/perf.err")"
	fi
	rm -rf "$ZS_T/store-prof" "$ZS_T/perf.data"
fi
bench_goal_abs "merge throughput >= 1 GB/s of image (issue 4; memory warm, see the notes; shown as seconds per GB <= 1)" "merge $MIB MiB, chain $CHAIN" "s per GB" zanshin 1.0
bench_end
