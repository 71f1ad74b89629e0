#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Templates (issue 15 item 4, docs/lazy-restore.md "Templates"): N (10)
# containers started from ONE checkpoint of zs-workload (MIB, 256 MiB) with
# `zanshin restore --lazy` under new ids (each its own bundle and cgroup,
# same --image-path), vs N containers started from scratch with `zanshin
# run` of the same workload. Started one after the other, the earlier ones
# left running; per instance:
#   time to first response: from the start of `restore -d` / `run -d` until
#     the workload answers its first request (an `info` command: signal,
#     read its command file, write the answer; polled every 2 ms);
#   memory: the container's processes' RSS and PSS (sum of
#     /proc/PID/smaps_rollup), its memory cgroup's usage (v1
#     memory.usage_in_bytes), and, lazy only, the RSS of what runs for it
#     outside the container (its `criu lazy-pages` fault server and CRIU's
#     tracking keeper) — lazy at first response and after its prefetch,
#     run once all N are up;
# then every instance is verified page by page (outside the timings).
# Environment: N (10), MIB (256), RUNS (3 / 1 quick), BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
. "$BENCH_TOP/bench/lib/container.sh"
. "$BENCH_TOP/bench/lib/workload.sh"
RUNS=$(bench_runs 3 1)
N=${N:-10}
MIB=${MIB:-256}
for b in "$ZANSHIN" "$WL"; do [ -x "$b" ] || bench_die "$b missing"; done

bench_begin templates "Templates: $N containers from one checkpoint (restore --lazy) vs $N \`zanshin run\`: first response and memory per instance" "$@"
bench_anchor run
ROOT=$BENCH_W/state-zanshin
CG=zs-bench-templates-$$
tpl_cleanup() {
	local id c
	for id in $(rt zanshin "$ROOT" list -q 2>/dev/null); do rt zanshin "$ROOT" delete -f "$id" >/dev/null 2>&1; done
	for c in /sys/fs/cgroup/*/"$CG"; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done
	bench_settle_stores "$BENCH_W"
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_W"
}
trap 'ksm_off; tpl_cleanup' EXIT
trap 'exit 130' INT TERM
bench_note "container: busybox rootfs, \`zs-workload -m $MIB\` (one process, $MIB MiB of random pages), its own network namespace and memory cgroup; $N instances started one after the other (the earlier ones keep running); lazy: \`zanshin restore -d --lazy --image-path TEMPLATE --bundle B_i ID_i\` of one full checkpoint of that workload (images in ${BENCH_TMP:-/dev/shm}, tmpfs); run: \`zanshin run -d\` (the workload fills its memory from scratch); free memory warmed before each start (bench/lib/workload.sh); $RUNS runs; load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
bench_note "lazy + KSM: the same restores with \`--ksm\` (prototype: the restored memory is mergeable by the kernel's KSM); ksmd switched on for that configuration only (pages_to_scan 5000, sleep_millisecs 20; settings put back after), memory measured once 90 % of every instance's pages are merged"
bench_note "first response: from the start of the command until the workload has answered an \`info\` request (zs-workload: SIGUSR1, command file, answer file; polled every 2 ms); memory: RSS and PSS summed over the container's processes (/proc/PID/smaps_rollup), the memory cgroup's memory.usage_in_bytes (v1), and for lazy the RSS of the instance's \`criu lazy-pages\` server plus CRIU's tracking keeper (host processes outside the container's cgroup); lazy measured at its first response and again after its prefetch (CRIU's .lazy-filled mark), run once all $N are up"

# wl_dir I: instance I's workload command directory.
wl_dir() { echo "$BENCH_W/$1/bundle/rootfs/wl"; }

# init_pid ID / wl_pid NODE ID: host pids of the container's init and its workload.
init_pid() { rt zanshin "$ROOT" state "$1" 2>/dev/null | jq -r .pid; }
wl_pid() {
	local init ns want p
	init=$(init_pid "$2")
	ns=$(readlink "/proc/$init/ns/pid") || return 1
	want=$(cat "$(wl_dir "$1")/pid" 2>/dev/null) || return 1
	for p in $(pgrep -x zs-workload); do
		[ "$(readlink "/proc/$p/ns/pid")" = "$ns" ] || continue
		[ "$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status")" = "$want" ] && { echo "$p"; return 0; }
	done
	return 1
}

# request NODE ID OP [ARG]: one workload command, polled every 2 ms; prints
# the answer's first line; 0 on OK/PASS.
request() {
	local d pid seq i
	d=$(wl_dir "$1")
	seq=$(($(cat "$BENCH_W/.seq" 2>/dev/null || echo 0) + 1))
	echo "$seq" >"$BENCH_W/.seq"
	echo "$seq $3 ${4:-}" >"$d/cmd.new" && mv -f "$d/cmd.new" "$d/cmd"
	pid=$(wl_pid "$1" "$2") && kill -USR1 "$pid" || { echo "workload of $2 not found"; return 1; }
	for ((i = 0; i < 30000; i++)); do
		[ "$(cat "$d/ack" 2>/dev/null)" = "$seq" ] && break
		sleep 0.002
	done
	head -n1 "$d/result"
	head -n1 "$d/result" | grep -qE "^$seq (OK|PASS) "
}

# node_bundle NODE: a bundle of the workload in its own memory cgroup.
node_bundle() {
	local b=$BENCH_W/$1/bundle
	rm -rf "$BENCH_W/$1"
	c_bundle "$b" "$(C_WL_ARGS "$MIB")"
	jq --arg cg "/$CG/$1" '.linux.cgroupsPath = $cg' "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
}

# cg_usage NODE: the memory cgroup's usage in bytes.
cg_usage() { cat "/sys/fs/cgroup/memory/$CG/$1/memory.usage_in_bytes"; }

# rollup PIDS...: "RSS PSS" in kB summed over PIDS.
rollup() {
	local p
	for p in "$@"; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
		awk '$1 == "Rss:" {r += $2} $1 == "Pss:" {s += $2} END {print r + 0, s + 0}'
}

# ns_pids ID: every process in the container's pid namespace.
ns_pids() {
	local ns p
	ns=$(readlink "/proc/$(init_pid "$1")/ns/pid") || return 1
	for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"; done
}

# helpers_of ID WPID: the lazy-pages server and tracking keeper of the instance.
helpers_of() {
	local p ns st
	for p in $(pgrep -x criu); do
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "--work-dir $ROOT/.lazy-work/$1 " && echo "$p"
	done
	ns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
	st=$(awk '{print $22}' "/proc/$2/stat")
	sed -n 's/^keeper \([0-9]*\).*/\1/p' "/run/criu/track/$ns-$2-$st" 2>/dev/null
}

lazy_filled() {
	local ns st
	ns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
	st=$(awk '{print $22}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -e "/run/criu/track/$ns-$1-$st.lazy-filled" ]
}

# memory CFG RUN NODE ID WHEN: the samples of one instance.
memory() {
	local cfg=$1 run=$2 node=$3 id=$4 when=$5 wpid rp hp
	wpid=$(wl_pid "$node" "$id")
	read -r -a rp <<<"$(rollup $(ns_pids "$id"))"
	bench_sample "$when" "$cfg" "container RSS (MiB)" "$(awk -v k="${rp[0]:-0}" 'BEGIN {printf "%.1f", k / 1024}')" "$run"
	bench_sample "$when" "$cfg" "container PSS (MiB)" "$(awk -v k="${rp[1]:-0}" 'BEGIN {printf "%.1f", k / 1024}')" "$run"
	bench_sample "$when" "$cfg" "cgroup memory.usage (MiB)" "$(awk -v b="$(cg_usage "$node")" 'BEGIN {printf "%.1f", b / 1048576}')" "$run"
	[ "$cfg" != run ] || return 0
	read -r -a hp <<<"$(rollup $(helpers_of "$id" "$wpid"))"
	bench_sample "$when" "$cfg" "fault server + keeper RSS (MiB)" "$(awk -v k="${hp[0]:-0}" 'BEGIN {printf "%.1f", k / 1024}')" "$run"
}

# node_id CFG I: sets NODE and ID of instance I of configuration CFG.
node_id() {
	case $1 in
	run) NODE=R$2 ID=run-$$-$2 ;;
	lazy) NODE=L$2 ID=tpl-$$-$2 ;;
	*) NODE=K$2 ID=ksm-$$-$2 ;;
	esac
}

# ksmd on (settings put back at exit): as an administrator would enable it.
KSM=/sys/kernel/mm/ksm
ksm_on() {
	[ -w "$KSM/run" ] || bench_die "no KSM in this kernel"
	KSM_SAVED="$(cat "$KSM/run") $(cat "$KSM/pages_to_scan") $(cat "$KSM/sleep_millisecs")"
	echo 5000 >"$KSM/pages_to_scan" && echo 20 >"$KSM/sleep_millisecs" && echo 1 >"$KSM/run"
}
ksm_off() {
	local run pts slp
	[ -n "${KSM_SAVED:-}" ] || return 0
	read -r run pts slp <<<"$KSM_SAVED"
	echo "$pts" >"$KSM/pages_to_scan" && echo "$slp" >"$KSM/sleep_millisecs" && echo "$run" >"$KSM/run"
	KSM_SAVED=
}

# ksm_settled NODE ID: 90 % of the workload's pages are merged.
ksm_settled() {
	local p n
	p=$(wl_pid "$1" "$2") || return 1
	n=$(cat "/proc/$p/ksm_merging_pages" 2>/dev/null) || return 1
	[ "${n:-0}" -ge $((MIB * 256 * 9 / 10)) ]
}

# first_response CFG RUN I: start instance I, time until its first answer.
first_response() {
	local cfg=$1 run=$2 i=$3 node id t0 tc t1 out n ksm=()
	node_id "$cfg" "$i"
	node=$NODE id=$ID
	node_bundle "$node"
	[ "$cfg" = run ] || cp -a "$BENCH_W/S/bundle/rootfs/wl/." "$(wl_dir "$node")/"
	[ "$cfg" = lazy ] || ksm=(--ksm)
	warm_memory "$MIB"
	t0=$(date +%s%N)
	if [ "$cfg" != run ]; then
		rt zanshin "$ROOT" restore -d --lazy "${ksm[@]}" --image-path "$BENCH_W/tpl" --bundle "$BENCH_W/$node/bundle" "$id" \
			</dev/null >/dev/null 2>"$BENCH_W/err" || bench_die "restore --lazy of $id failed: $(tail -c 600 "$BENCH_W/err")"
	else
		rt zanshin "$ROOT" run -d --bundle "$BENCH_W/$node/bundle" "$id" </dev/null >/dev/null 2>"$BENCH_W/err" ||
			bench_die "run of $id failed: $(tail -c 600 "$BENCH_W/err")"
	fi
	tc=$(date +%s%N)
	if [ "$cfg" = run ]; then
		for ((n = 0; n < 60000; n++)); do [ -s "$(wl_dir "$node")/pid" ] && break; sleep 0.002; done
	fi
	out=$(request "$node" "$id" info) || bench_die "$id: no answer: $out"
	t1=$(date +%s%N)
	bench_sample "first response, $MIB MiB" "$cfg" "time to first response (s)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')" "$run"
	bench_sample "first response, $MIB MiB" "$cfg" "command returned (s)" "$(awk -v a="$t0" -v b="$tc" 'BEGIN {printf "%.6f", (b - a) / 1e9}')" "$run"
	bench_log "$cfg run $run instance $i: first response after $(((t1 - t0) / 1000000)) ms"
	[ "$cfg" = run ] || memory "$cfg" "$run" "$node" "$id" "memory per instance, at first response"
	return 0
}

# ---- the template: one checkpoint of the workload
node_bundle S
rt zanshin "$ROOT" run -d --bundle "$BENCH_W/S/bundle" "src-$$" </dev/null >/dev/null 2>"$BENCH_W/err" ||
	bench_die "run failed: $(cat "$BENCH_W/err")"
for ((n = 0; n < 1200; n++)); do [ -s "$(wl_dir S)/pid" ] && break; sleep 0.1; done
out=$(request S "src-$$" verify) || bench_die "template workload: $out"
DIGEST=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
rt zanshin "$ROOT" checkpoint --image-path "$BENCH_W/tpl" "src-$$" 2>"$BENCH_W/err" ||
	bench_die "checkpoint failed: $(tail -c 600 "$BENCH_W/err")"
bench_note "template: a full image of $(du -sm "$BENCH_W/tpl" | cut -f1) MiB; in the page cache once (tmpfs), read by every instance's fault server"

ALL="memory per instance, all $N up (restored: prefetch done; KSM: 90 % merged)"
for ((run = 1; run <= RUNS; run++)); do
	for cfg in run lazy "lazy + KSM"; do
		[ "$cfg" = "lazy + KSM" ] && ksm_on
		for ((i = 1; i <= N; i++)); do first_response "$cfg" "$run" "$i"; done
		t0=$(date +%s%N)
		for ((i = 1; i <= N; i++)); do
			node_id "$cfg" "$i"
			[ "$cfg" = run ] && continue
			for ((n = 0; n < 24000; n++)); do lazy_filled "$(wl_pid "$NODE" "$ID")" && break; sleep 0.005; done
			lazy_filled "$(wl_pid "$NODE" "$ID")" || bench_die "$ID: memory not resident after 120 s"
		done
		if [ "$cfg" = "lazy + KSM" ]; then
			for ((i = 1; i <= N; i++)); do
				node_id "$cfg" "$i"
				for ((n = 0; n < 3000; n++)); do ksm_settled "$NODE" "$ID" && break; sleep 0.1; done
			done
			bench_sample "$ALL" "$cfg" "until all prefetched and merged (s)" "$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" "$run"
		fi
		for ((i = 1; i <= N; i++)); do
			node_id "$cfg" "$i"
			memory "$cfg" "$run" "$NODE" "$ID" "$ALL"
		done
		ksm_off
		for ((i = 1; i <= N; i++)); do
			node_id "$cfg" "$i"
			out=$(request "$NODE" "$ID" verify) || bench_die "$ID: memory wrong: $out"
			[ "$cfg" = run ] || [[ $out == *"digest=$DIGEST"* ]] || bench_die "$ID: another state ($out, want $DIGEST)"
			rt zanshin "$ROOT" delete -f "$ID" >/dev/null 2>&1
		done
		bench_settle_stores "$BENCH_W"
	done
done
g="first response, $MIB MiB"
bench_goal "$N instances from one checkpoint: time to first response vs \`zanshin run\` (issue 15: faster than it boots)" "$g" "time to first response (s)" lazy "$g" run 1.0
bench_plot templates-first-response.svg bars "time to first response (s)" "Templates: time to first response, per instance"
bench_plot templates-memory.svg bars "container PSS (MiB)" "Templates: PSS per instance"
bench_plot templates-cgroup.svg bars "cgroup memory.usage (MiB)" "Templates: memory cgroup usage per instance"
bench_end
