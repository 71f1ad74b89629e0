#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Where a checkpoint's time goes (the profile behind issue 4's goal "the
# second and later checkpoints take <= 30% of runc's time"): a container
# running zs-workload (MIB MiB, 512) is checkpointed and restored RUNS+1
# times on one node, writing WRITE% (1) of its pages before each
# checkpoint, by
#   runc     runc 1.1.5 + stock CRIU: a full checkpoint every time
#   zanshin  restore --track-mem, then checkpoint --track-mem --parent-path
#            ../<the generation it was restored from>: the diff
# Each checkpoint's wall time is split into the phases CRIU's own log
# (dump.log in --work-path, timestamped) shows, between the first lines
# that mark them, and the time outside CRIU (the runtime, starting CRIU,
# RPC, cleanup). The first checkpoint (full for both) is not recorded.
# Every restore is verified page by page (outside the timings).
# Environment: RUNS (10 / 3 quick), MIB (512), WRITE (1), BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
. "$BENCH_TOP/bench/lib/container.sh"
. "$BENCH_TOP/bench/lib/workload.sh"
RUNS=$(bench_runs 10 3)
MIB=${MIB:-512}
WRITE=${WRITE:-1}
RUNTIMES=${RUNTIMES:-runc zanshin}
CID=bench-phases
for b in "$ZANSHIN" "$RUNC" "$STOCK_CRIU" "$WL"; do [ -x "$b" ] || bench_die "$b missing"; done

bench_begin ckpt-phases "Where a checkpoint's time goes: zanshin's diff vs runc's full checkpoint, phase by phase" "$@"
bench_anchor "runc + stock CRIU"
c_cleanup_on_exit "$BENCH_W/A/state"

# phases DUMP_LOG WALL: "PHASE SECONDS" lines; a phase runs from the first
# line of its start mark to the first line of the next mark.
phases() {
	"$BENCH_PY" - "$1" "$2" <<'EOF'
import re, sys
marks = [
    ("Dumping processes", "setup: kernel feature probe (kerndat), CPU, vDSO"),
    ("freezing processes", "freeze"),
    ("mnt: Dumping mountpoints", "tasks: parasite, memory pages, files"),
    ("Dumping pstree", "mounts (tmpfs contents through tar)"),
    ("Namespaces dump complete", "namespaces (net: conntrack table; ipc, uts, time)"),
    ("Unfreezing tasks", "cgroups, images, post-dump"),
    ("Writing stats", "kill the tasks, wait for their exit"),
    ("Dumping finished successfully", "stats"),
]
found = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"\((\d+\.\d+)\)\s*(.*)", line)
    if not m:
        continue
    for key, _ in marks:
        if key not in found and m.group(2).startswith(key.split(":")[0]) and key in m.group(2):
            found[key] = float(m.group(1))
missing = [k for k, _ in marks if k not in found]
if missing:
    sys.exit("dump.log: no line for " + ", ".join(missing))
prev = 0.0
for key, name in marks:
    print("%s\t%.6f" % (name, found[key] - prev))
    prev = found[key]
print("CRIU in all\t%.6f" % prev)
print("outside CRIU: runtime, CRIU start, RPC, cleanup\t%.6f" % max(0.0, float(sys.argv[2]) - prev))
EOF
}

k=$(wl_pages "$MIB" "$WRITE")
GROUP="$MIB MiB, $WRITE% written"
bench_note "container: busybox rootfs, init \`sh\` then \`sleep\`, \`zs-workload -m $MIB\` (one process), network namespace of its own; before each checkpoint it writes $WRITE% of its pages ($k); $RUNS recorded checkpoints per runtime, each after a restore of the previous one (verified page by page); images in ${BENCH_TMP:-/dev/shm} (tmpfs)"
bench_note "phases from CRIU's dump.log (log level 4, timestamps since CRIU's start), between the first lines that start them: setup = kerndat (the kernel feature probe: zanshin's CRIU keeps its cache where /run is on disk, keyed by boot id and binary, criu-patches 0014; stock CRIU keeps it only on tmpfs, and /run on this machine is not, so stock CRIU probes on every run, running iptables -L and ip6tables -L), CPU and vDSO; tasks = parasite, memory (the diff: pages written since the restore), files, cgroups (stock CRIU mounts every hierarchy anew, cgroup2 costing about 10 ms; zanshin's CRIU reads them through the host's mounts, criu-patches 0017); mounts = the mount tree, tmpfs contents through tar; namespaces = the time, uts and ipc namespaces and the network namespace (both runtimes dump it \"empty\": no links, addresses, routes or iptables, as runc does; but its conntrack entries are dumped, and stock CRIU walks the host's whole conntrack table twice for them, which zanshin's CRIU skips when the namespace has none, criu-patches 0016); kill = SIGKILL to the dumped tasks and waiting for their exit (their memory is freed); outside CRIU = wall time of the runtime command minus CRIU's own"

for r in $RUNTIMES; do
	cfg="runc + stock CRIU"
	[ "$r" = zanshin ] && cfg="zanshin (diff)"
	bench_settle_stores "$BENCH_W"
	rm -rf "$BENCH_W/A"
	c_bundle "$BENCH_W/A/bundle" "$(C_WL_ARGS "$MIB")"
	mkdir -p "$BENCH_W/A/img"
	rt "$r" "$BENCH_W/A/state-$r" run -d --bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
		bench_die "$r run failed: $(cat "$BENCH_W/err")"
	for ((n = 0; n < 600; n++)); do [ -s "$BENCH_W/A/bundle/rootfs/wl/pid" ] && break; sleep 0.1; done
	out=$(wl_do A "$r" verify) || bench_die "$r: workload does not verify: $out"
	prev=""
	for ((run = 0; run <= RUNS; run++)); do
		out=$(wl_do A "$r" write "$k") || bench_die "$r: write failed: $out"
		out=$(wl_do A "$r" verify) || bench_die "$r: verify failed: $out"
		digest=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
		gen=c$run
		cargs=()
		[ "$r" = zanshin ] && [ -n "$prev" ] && cargs=(--track-mem --parent-path "../$prev")
		rm -rf "$BENCH_W/A/work"
		bench_time rt "$r" "$BENCH_W/A/state-$r" checkpoint --image-path "$BENCH_W/A/img/$gen" \
			--work-path "$BENCH_W/A/work" "${cargs[@]}" "$CID" 2>"$BENCH_W/err" ||
			bench_die "$r checkpoint $run failed: $(tail -c 600 "$BENCH_W/err")"
		wall=$BENCH_SECS
		if [ "$run" -gt 0 ]; then
			bench_sample "$GROUP" "$cfg" "checkpoint, wall (s)" "$wall" "$run"
			ph=$(phases "$BENCH_W/A/work/dump.log" "$wall") || bench_die "$r: $ph"
			while IFS=$'\t' read -r name secs; do
				bench_sample "$GROUP" "$cfg" "$name (s)" "$secs" "$run"
			done <<<"$ph"
			bench_sample "$GROUP" "$cfg" "image bytes" "$(du -sb "$BENCH_W/A/img/$gen" | cut -f1)" "$run"
		fi
		rt "$r" "$BENCH_W/A/state-$r" delete -f "$CID" >/dev/null 2>&1
		rargs=()
		[ "$r" = zanshin ] && rargs=(--track-mem)
		rt "$r" "$BENCH_W/A/state-$r" restore -d "${rargs[@]}" --image-path "$BENCH_W/A/img/$gen" \
			--bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
			bench_die "$r restore $run failed: $(tail -c 600 "$BENCH_W/err")"
		out=$(wl_do A "$r" verify) || bench_die "$r: restored memory wrong after checkpoint $run: $out"
		[[ $out == *"digest=$digest"* ]] || bench_die "$r: checkpoint $run restored another state ($out, want $digest)"
		# runc's full images are not needed again; zanshin's diffs need their chain
		[ "$r" = runc ] && [ -n "$prev" ] && rm -rf "${BENCH_W:?}/A/img/$prev"
		prev=$gen
		bench_log "$r checkpoint $run: $wall s"
	done
	rt "$r" "$BENCH_W/A/state-$r" delete -f "$CID" >/dev/null 2>&1
done
bench_goal "$MIB MiB, $WRITE% written: checkpoint time ≤ 30% of runc's (issue 4)" "$GROUP" "checkpoint, wall (s)" "zanshin (diff)" "$GROUP" "runc + stock CRIU" 0.30
bench_end
