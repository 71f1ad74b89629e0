#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# mprotect after restore (issue 2, item 5): a range made read-only splits a
# tracked mapping; tracking must survive the split and the merge back, the
# diffs stay small, and every restore gives back the exact memory, the
# read-only range included.
. "$(dirname "$0")/lib.sh"
MIB=64 K=128
zs_setup mprotect
W=$ZS_T/wl I=$ZS_T

wl_start "$W" $MIB 1 || zs_die "workload did not start"
pid=$(wl_pid "$W")
t_dump "base" "$I/base" "$pid" || exit 1
t_restore "base" "$I/base" --track-mem || exit 1

wl_write "$W" $K
if out=$(wl_cmd "$W" mprotect-ro); then t_ok "mprotect-ro after restore"; else t_fail "mprotect-ro after restore" "$out"; fi
# the root process's read-only range, as /proc/PID/maps prints it
ro=$(sed -n "s/.*pid $pid mprotect 0x\([0-9a-f]*\) .*/\1/p" <<<"$out" | head -n1)
t_verify "read-only range in place" "$W" || exit 1
d1=$WL_DIGEST
t_dump "diff1" "$I/diff1" "$pid" --track-mem --leave-running --prev-images-dir ../base || exit 1
t_range "diff1 holds the written pages only" "$(img_pages "$I/diff1")" $((2 * K)) $((2 * (K + 256)))

t_check "mprotect-rw" wl_cmd "$W" mprotect-rw
wl_write "$W" $K
t_verify "writable again, written" "$W" || exit 1
d2=$WL_DIGEST
t_dump "diff2" "$I/diff2" "$pid" --track-mem --prev-images-dir ../diff1 || exit 1
t_range "diff2 holds the written pages only" "$(img_pages "$I/diff2")" $((2 * K)) $((2 * (K + 256)))
t_restore "diff2" "$I/diff2" || exit 1
t_verify "diff2 + diff1 + base restored" "$W" "$d2"
wl_stop "$W"

# The image taken while the range was read-only.
t_restore "diff1" "$I/diff1" || exit 1
t_verify "diff1 + base restored" "$W" "$d1"
pid=$(wl_pid "$W")
if [ -n "$ro" ] && grep -qE "^$ro-[0-9a-f]+ r--p " "/proc/$pid/maps"; then
	t_ok "the read-only range is read-only after restore"
else
	t_fail "the read-only range is read-only after restore" "range '$ro'" "$(head -20 "/proc/$pid/maps")"
fi
t_check "mprotect-rw after restore" wl_cmd "$W" mprotect-rw
wl_write "$W" 16
t_verify "writes after restore land" "$W"
wl_stop "$W"
t_done
