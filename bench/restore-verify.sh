#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What verifying an --image-path image costs a restore (issue 16 item 6,
# goal: ≤ +5 %). A container running zs-workload (MIB MiB, 512) is
# checkpointed once into --image-path (zanshin writes the manifest); a copy
# without the manifest (manifest.json, lineage.json, manifest.blocks
# removed: what runc or an older zanshin writes, restored unverified with a
# warning) is the anchor. Then RUNS times, in alternating order, the
# container is restored from each (restore -d, wall time of the command:
# until the restored tasks run), its memory verified page by page outside
# the timing, and deleted. The verification runs on its own thread while
# CRIU restores; CRIU's post-restore notification waits for it.
# Environment: RUNS (11 / 5 quick), MIB (512 / 256 quick), BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
. "$BENCH_TOP/bench/lib/container.sh"
. "$BENCH_TOP/bench/lib/workload.sh"
RUNS=$(bench_runs 11 5)
if [ "$BENCH_MODE" = quick ]; then MIB=${MIB:-256}; else MIB=${MIB:-512}; fi
CID=bench-verify
for b in "$ZANSHIN" "$WL"; do [ -x "$b" ] || bench_die "$b missing"; done

bench_begin restore-verify "Restore from --image-path with and without verifying the image's manifest" "$@"
bench_anchor "no manifest (unverified)"
c_cleanup_on_exit "$BENCH_W/A/state"
ST=$BENCH_W/A/state-zanshin
GROUP="$MIB MiB"
bench_note "container: busybox rootfs, \`zs-workload -m $MIB\` (one process); one full checkpoint into --image-path; $RUNS restores from it and $RUNS from a copy without its manifest, alternating which goes first; before each restore the restore's worth of free memory is touched (warm_memory); images in ${BENCH_TMP:-/dev/shm} (tmpfs, in the page cache like an image just received); the workload's memory verified page by page after each restore, outside the timing; the remnant store's background keeping settled before each restore"
bench_note "verified = every file of the image hashed (sha256-4k, all cores) on a thread of the runtime while CRIU restores; CRIU's post-restore notification (all tasks restored, none resumed) waits for the verdict"

c_bundle "$BENCH_W/A/bundle" "$(C_WL_ARGS "$MIB")"
mkdir -p "$BENCH_W/A/img"
rt zanshin "$ST" run -d --bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
	bench_die "run failed: $(cat "$BENCH_W/err")"
for ((n = 0; n < 600; n++)); do [ -s "$BENCH_W/A/bundle/rootfs/wl/pid" ] && break; sleep 0.1; done
out=$(wl_do A zanshin write "$(wl_pages "$MIB" 10)") || bench_die "write failed: $out"
out=$(wl_do A zanshin verify) || bench_die "verify failed: $out"
digest=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
rt zanshin "$ST" checkpoint --image-path "$BENCH_W/A/img/v" "$CID" 2>"$BENCH_W/err" ||
	bench_die "checkpoint failed: $(tail -c 600 "$BENCH_W/err")"
[ -s "$BENCH_W/A/img/v/manifest.json" ] || bench_die "no manifest written"
cp -a "$BENCH_W/A/img/v" "$BENCH_W/A/img/n"
rm -f "$BENCH_W/A/img/n"/{manifest.json,lineage.json,manifest.blocks}

# one NAME DIR RUN: a timed restore, the memory checked, the container deleted
one() {
	local pid
	bench_settle_stores "$BENCH_W"
	warm_memory "$MIB"
	bench_time rt zanshin "$ST" restore -d --image-path "$2" --bundle "$BENCH_W/A/bundle" "$CID" \
		</dev/null >/dev/null 2>"$BENCH_W/err" || bench_die "$1 restore $3 failed: $(tail -c 600 "$BENCH_W/err")"
	bench_sample "$GROUP" "$1" "restore, wall (s)" "$BENCH_SECS" "$3"
	out=$(wl_do A zanshin verify) || bench_die "$1: restored memory wrong: $out"
	[[ $out == *"digest=$digest"* ]] || bench_die "$1: another state restored ($out, want $digest)"
	bench_log "$1 restore $3: $BENCH_SECS s"
	pid=$(c_pid zanshin "$ST" "$CID")
	rt zanshin "$ST" delete -f "$CID" >/dev/null 2>&1
	c_gone "$pid" || bench_die "container $pid did not go away"
	sleep 1.5 # pid 1 reaps orphans slowly: the pids must be free
}

for ((run = 0; run <= RUNS; run++)); do
	# run 0 warms both up (page cache, kerndat cache, the store's copy); not recorded
	r=$run
	[ "$run" = 0 ] && r=warm
	if ((run % 2)); then
		one "verified" "$BENCH_W/A/img/v" "$r"
		one "no manifest (unverified)" "$BENCH_W/A/img/n" "$r"
	else
		one "no manifest (unverified)" "$BENCH_W/A/img/n" "$r"
		one "verified" "$BENCH_W/A/img/v" "$r"
	fi
done
# the warm-up run is not a sample
sed -i '/\twarm\t/d' "$BENCH_W/samples.tsv"
bench_goal "$MIB MiB: restore with verification ≤ +5% of without (issue 16 item 6)" "$GROUP" "restore, wall (s)" "verified" "$GROUP" "no manifest (unverified)" 1.05
bench_end
