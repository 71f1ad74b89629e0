#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Lazy local restore (issue 15; docs/lazy-restore.md): `zanshin restore
# --lazy` runs the container as soon as its non-memory state is restored;
# `criu lazy-pages --track-mem` (criu-patches 0019) fills private anonymous
# memory from the local images (the whole parent chain) on first touch and
# in the background, and tracking stays exact.
#
#   0. tests/cr/uffd-lazy-wp.c: the userfaultfd facts the design rests on.
#   1. single process: lazy restore of a full image; the workload verifies
#      every page while the prefetch runs; the server fills everything and
#      keeps serving; writes after the restore make a diff of K..K+C pages
#      that restores (eagerly) to the same state.
#   2. a diff taken during the prefetch (the server limited to 5 % of a CPU
#      from its start, so most pages are unfilled): the container writes K
#      pages, the checkpoint is a diff of K..K+C pages, and a lazy restore
#      of it (a chain: diff -> diff -> full) verifies, during and after its
#      prefetch; the next diff of that chain restores eagerly.
#   3. multi-process, multi-threaded workload: lazy restore; a process
#      forked during the prefetch, mremap, munmap, MADV_DONTNEED, new
#      mappings after the restore; every page verifies; the diff restores.
#   4. SIGKILL of the fault server during the prefetch: the container is
#      killed (clear failure), never runs on with zero-filled memory.
#   5. bad use: --lazy with --no-track-mem or --lazy-pages is refused.
. "$(dirname "$0")/lib.sh"
CR_MIB=${LAZY_MIB:-256}
K=512
C=128
cr_setup lazy

# t_diff NAME DIR PARENTDIR LO HI: DIR is a diff against PARENTDIR storing LO..HI pages.
t_diff() {
	local pid want pages
	pid=$(img_field "$2" parent_image_id)
	want=$(img_field "$3" image_id)
	pages=$(img_field "$2" pages)
	if [ "$(img_field "$2" full)" = false ] && [ -n "$pid" ] && [ "$pid" = "$want" ]; then
		t_ok "$1: a diff against the image restored from"
	else
		t_fail "$1: a diff against the image restored from" "$(img_json "$2")" "want parent $want"
	fi
	t_range "$1: diff stores $4..$5 pages" "$pages" "$4" "$5"
}

# ---- 0. the kernel facts the design rests on (docs/lazy-restore.md)
if ${CC:-cc} -O2 -Wall -pthread -o "$CR_T/uffd-lazy-wp" "$CR_TOP/tests/cr/uffd-lazy-wp.c" 2>"$CR_T/cc-probe.log"; then
	while read -r st n _ what; do
		case $st in
		ok) t_ok "0: kernel: $what" ;;
		not) t_fail "0: kernel: ${what#- }" ;;
		esac
	done < <("$CR_T/uffd-lazy-wp")
else
	t_fail "0: build tests/cr/uffd-lazy-wp.c" "$(cat "$CR_T/cc-probe.log")"
fi

cr_node A
img=$CR_T/A/img

# ---- 1. single process
t_run A
t_wl_write "1" A $K
t_wl_verify "1: before checkpoint" A || { t_done; exit; }
d1=$WL_DIGEST
t_ckpt "1: full" A "$img/full" || { t_done; exit; }
cr_gone A
t0=$(date +%s%N)
t_rest "1: lazy" A "$img/full" --lazy || { t_done; exit; }
t_diag "1: restore --lazy returned after $((($(date +%s%N) - t0) / 1000000)) ms"
srv=$(lazy_server "$img/full") && t_ok "1: fault server runs ($srv)" || t_fail "1: fault server runs" "no criu lazy-pages for $img/full"
t_wl_verify "1: during the prefetch" A "$d1"
if wait_for 60 lazy_filled A; then t_ok "1: every page filled (CRIU's .lazy-filled mark)"; else
	t_fail "1: every page filled" "$(tail -n 5 "$CR_T/A/state/.lazy-work/$CR_CID/lazy-pages.log")"
fi
# criu-patches 0025: local pages are copied from the mapped image
grep -q "pages served from 1 mapped image(s)" "$CR_T/A/state/.lazy-work/$CR_CID/lazy-pages.log" &&
	t_ok "1: pages served from the mapped image" ||
	t_fail "1: pages served from the mapped image" "$(grep -i 'mapped\|not mapped' "$CR_T/A/state/.lazy-work/$CR_CID/lazy-pages.log")"
kill -0 "$srv" 2>/dev/null && t_ok "1: the server keeps serving after the prefetch" ||
	t_fail "1: the server keeps serving after the prefetch" "it exited"
t_wl_write "1: after the prefetch" A $K
t_wl_verify "1: before diff" A || { t_done; exit; }
d2=$WL_DIGEST
t_ckpt "1: diff" A "$img/d1" --parent-path ../full || { t_done; exit; }
t_diff "1" "$img/d1" "$img/full" $K $((K + C))
cr_gone A
wait_for 10 bash -c "! kill -0 $srv 2>/dev/null" && t_ok "1: the server exits with the container" ||
	t_fail "1: the server exits with the container" "pid $srv still runs"
t_rest "1: eager restore of the diff" A "$img/d1" || { t_done; exit; }
t_wl_verify "1: eager restore of the diff" A "$d2"
cr_delete A

# ---- 2. a diff during the prefetch; a lazy restore of a chain
# The fault server runs in a cpu cgroup limited to 1 % of a CPU in 100 ms
# periods (it is moved there as soon as it starts, before it serves
# anything), so that its prefetch takes seconds: the container writes and
# is checkpointed (server stopped) while most pages are not filled in yet.
slow=/sys/fs/cgroup/cpu$CR_CG/slow-server
mkdir -p "$slow" && echo 100000 >"$slow/cpu.cfs_period_us" && echo 1000 >"$slow/cpu.cfs_quota_us" ||
	cr_die "cannot make the cpu cgroup $slow"
cr_pipes
z A restore -d --image-path "$img/d1" --bundle "$CR_T/A/bundle" --lazy "$CR_CID" <&"$CR_IN" >&"$CR_OUT" 2>&"$CR_OUT" &
rp=$!
while kill -0 $rp 2>/dev/null; do
	for p in $(lazy_server_all "$img/d1"); do echo "$p" >"$slow/cgroup.procs" 2>/dev/null; done
	sleep 0.005
done
if wait $rp; then t_ok "2: lazy restore of d1 -> full, server slowed down"; else
	t_fail "2: lazy restore of d1 -> full, server slowed down" "$(tail -n 3 "$CR_T/stdout.log")"
	t_done
	exit
fi
srv=$(lazy_server "$img/d1")
grep -qx "$srv" "$slow/cgroup.procs" && t_ok "2: the server runs at 1 % of a CPU" ||
	t_fail "2: the server runs at 1 % of a CPU" "pid $srv not in $slow"
# (no verify here: it would touch, hence fill, every page); the server is
# stopped for the checkpoint (the dump never needs it)
t_wl_write "2: during the prefetch" A 64
kill -STOP "$srv"
if lazy_filled A; then t_fail "2: checkpoint while pages are unfilled" "the prefetch ended already"; else
	t_ok "2: checkpoint while pages are unfilled"
fi
t_ckpt "2: diff during the prefetch" A "$img/d2" --parent-path ../d1
kill -CONT "$srv"
t_diff "2" "$img/d2" "$img/d1" 64 $((64 + C))
cr_gone A
t_rest "2: lazy restore of d2 -> d1 -> full" A "$img/d2" --lazy || { t_done; exit; }
t_wl_verify "2: lazy restore of d2 -> d1 -> full (every page, the 64 written ones too)" A
d3=$WL_DIGEST
wait_for 60 lazy_filled A && t_wl_verify "2: after the prefetch" A "$d3"
grep -q "pages served from 3 mapped image(s)" "$CR_T/A/state/.lazy-work/$CR_CID/lazy-pages.log" &&
	t_ok "2: pages served from the three mapped images of the chain" ||
	t_fail "2: pages served from the three mapped images of the chain" "$(grep -i 'mapped' "$CR_T/A/state/.lazy-work/$CR_CID/lazy-pages.log")"
t_wl_write "2" A 64
t_wl_verify "2: before the next diff" A
d4=$WL_DIGEST
t_ckpt "2: diff of the chain" A "$img/d3" --parent-path ../d2
t_diff "2: d3" "$img/d3" "$img/d2" 64 $((64 + C))
cr_gone A
t_rest "2: eager restore of d3 -> d2 -> d1 -> full" A "$img/d3"
t_wl_verify "2: eager restore of the chain" A "$d4"
cr_delete A

# ---- 3. processes, threads, fork/mremap/munmap/dontneed after the restore
cr_node B
jq '.process.args[2] |= sub("-m "; "-p 2 -t 2 -m ")' "$CR_T/B/bundle/config.json" >"$CR_T/B/cfg" &&
	mv "$CR_T/B/cfg" "$CR_T/B/bundle/config.json"
t_run B
t_wl_write "3" B $K
t_wl_verify "3: before checkpoint" B || { t_done; exit; }
d=$WL_DIGEST
imgb=$CR_T/B/img
t_ckpt "3: full" B "$imgb/full" || { t_done; exit; }
cr_gone B
t_rest "3: lazy" B "$imgb/full" --lazy || { t_done; exit; }
for op in fork mremap munmap dontneed mmap-new; do
	if out=$(wl_do B $op); then t_ok "3: $op during the prefetch"; else t_fail "3: $op during the prefetch" "$out"; fi
done
t_wl_verify "3: after fork/mremap/munmap/dontneed" B
wait_for 60 lazy_filled B && t_ok "3: prefetch done" || t_fail "3: prefetch done" "no .lazy-filled mark"
t_wl_write "3" B $K
t_wl_verify "3: before diff" B
d=$WL_DIGEST
t_ckpt "3: diff" B "$imgb/d1" --parent-path ../full
cr_gone B
t_rest "3: eager restore of the diff" B "$imgb/d1"
t_wl_verify "3: eager restore of the diff" B "$d"
cr_delete B

# ---- 4. SIGKILL of the fault server during the prefetch
t_rest "4: lazy" A "$img/d3" --lazy || { t_done; exit; }
srv=$(lazy_server "$img/d3")
wpid=$(wl_host_pid A)
kill -KILL "$srv"
if wait_for 10 bash -c "! kill -0 $wpid 2>/dev/null || grep -q '^State:.*Z' /proc/$wpid/status"; then
	t_ok "4: the container's processes are killed when the server dies"
else
	t_fail "4: the container's processes are killed when the server dies" "workload $wpid still runs"
fi
if out=$(wl_do A verify 2>&1); then t_fail "4: no verify answers from a container without its server" "$out"; else
	t_ok "4: no memory served after the server died ($out)"
fi
cr_delete A

# ---- 5. refused combinations
cr_restore A "$img/d3" --lazy --no-track-mem
[ $? -ne 0 ] && grep -q "needs memory tracking" <<<"$CR_ERR" && t_ok "5: --lazy --no-track-mem refused" ||
	t_fail "5: --lazy --no-track-mem refused" "$CR_ERR"
cr_restore A "$img/d3" --lazy --lazy-pages
[ $? -ne 0 ] && grep -q "cannot be used together" <<<"$CR_ERR" && t_ok "5: --lazy --lazy-pages refused" ||
	t_fail "5: --lazy --lazy-pages refused" "$CR_ERR"
t_done
