#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Deduplication must never punch pages out of a live tracking baseline
# (issue 2, item 7): --auto-dedup is refused with --track-mem, and
# `criu dedup` refuses while an image of the chain is some running task's
# baseline; once that task is gone it deduplicates as before.
. "$(dirname "$0")/lib.sh"
MIB=32
zs_setup dedup
W=$ZS_T/wl I=$ZS_T

wl_start "$W" $MIB || zs_die "workload did not start"
pid=$(wl_pid "$W")
t_dump "base" "$I/base" "$pid" || exit 1
base_sum=$(img_sum "$I/base")

t_restore_refused "restore --track-mem --auto-dedup" "$I/base" "$pid" --track-mem --auto-dedup
t_log_has "restore --auto-dedup --track-mem: the error says why" "restore --track-mem --auto-dedup" restore \
	'auto-dedup cannot be combined with --track-mem'
[ "$(img_sum "$I/base")" = "$base_sum" ] && t_ok "refused restore left the image intact" ||
	t_fail "refused restore left the image intact" "base changed"

t_restore "base" "$I/base" --track-mem || exit 1
wl_write "$W" 64
t_dump_refused "dump --track-mem --auto-dedup" "$I/x" "$pid" --track-mem --auto-dedup --leave-running \
	--prev-images-dir ../base
[ "$(img_sum "$I/base")" = "$base_sum" ] && t_ok "refused dump left the baseline intact" ||
	t_fail "refused dump left the baseline intact" "base changed"

# An image whose parent is the live baseline and which holds the same pages:
# deduplicating it would punch every page out of base.
mkdir -p "$I/full"
cp -a "$I/base/." "$I/full/"
ln -s ../base "$I/full/parent"
if "$CRIU" dedup -D "$I/full" -o "$ZS_T/logs/dedup-live.log" -v4 2>/dev/null; then
	t_fail "criu dedup refused while the parent is a live baseline" "dedup succeeded"
elif grep -q "tracking baseline of a running task" "$ZS_T/logs/dedup-live.log"; then
	t_ok "criu dedup refused while the parent is a live baseline"
else
	t_fail "criu dedup refused while the parent is a live baseline" "$(grep -m3 Error "$ZS_T/logs/dedup-live.log")"
fi
[ "$(img_sum "$I/base")" = "$base_sum" ] && t_ok "refused dedup left the baseline intact" ||
	t_fail "refused dedup left the baseline intact" "base changed"
wl_verify "$W" >/dev/null
d=$WL_DIGEST

# The baseline still serves a diff that restores to the right memory.
t_dump "diff" "$I/diff" "$pid" --track-mem --prev-images-dir ../base || exit 1
t_range "diff after the refusals is small" "$(img_pages "$I/diff")" 64 $((64 + 256))
t_restore "diff" "$I/diff" || exit 1
t_verify "diff + base restored" "$W" "$d"
wl_stop "$W"

# No live baseline any more: dedup works as in stock CRIU.
if "$CRIU" dedup -D "$I/full" -o "$ZS_T/logs/dedup-dead.log" -v4 2>/dev/null; then
	t_ok "criu dedup allowed once no task tracks the parent"
	[ "$(img_sum "$I/base")" != "$base_sum" ] && t_ok "the allowed dedup really punched pages out of base" ||
		t_fail "the allowed dedup really punched pages out of base" "base unchanged: the refusals above prove nothing"
else
	t_fail "criu dedup allowed once no task tracks the parent" "$(grep -m3 Error "$ZS_T/logs/dedup-dead.log")"
fi
t_done
