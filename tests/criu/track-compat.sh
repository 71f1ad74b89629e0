#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What tracking must not change for the tracked application (issue 2 item
# 4): no userfaultfd in its fd table, the same fds as before the dump, and
# any CRIU, patched or not, can still dump it (and the image restores
# exactly). The keeper goes away once the tracked tasks are gone.
. "$(dirname "$0")/lib.sh"
zs_setup track-compat

fds() {
	local p
	for p in $(pgrep -s "$1"); do
		printf '%s:' "$p"
		ls /proc/"$p"/fd | sort -n | tr '\n' ','
		echo
	done
}

# run LABEL CRIU-FOR-THE-SECOND-DUMP
run() {
	local label=$1 W=$ZS_T/$1/wl I=$ZS_T/$1 pid before after d k p bad=
	wl_start "$W" 32 1 2 || { t_fail "$label: start" "$(cat "$W/.start")"; return; }
	pid=$(wl_pid "$W")
	before=$(fds "$pid")
	t_dump "$label base" "$I/base" "$pid" || return
	t_restore "$label base" "$I/base" --track-mem || return
	k=$(zs_keepers_of "$I/base")
	after=$(fds "$pid")
	[ "$before" = "$after" ] && t_ok "$label: tracked tasks have exactly their old fds" ||
		t_fail "$label: tracked tasks have exactly their old fds" "before: $before" "after: $after"
	for p in $(pgrep -s "$pid"); do
		if ls -l /proc/"$p"/fd /proc/"$p"/task/*/fd 2>/dev/null | grep -q userfaultfd; then
			bad="$bad $p"
		fi
	done
	[ -z "$bad" ] && t_ok "$label: no userfaultfd in any tracked task" ||
		t_fail "$label: no userfaultfd in any tracked task" "found in:$bad"
	[ "$(pgrep -s "$pid" | grep -cxF -f <(echo "$k" | tr ' ' '\n' | grep .))" = 0 ] &&
		t_ok "$label: the keeper is not part of the tracked tree" ||
		t_fail "$label: the keeper is not part of the tracked tree" "keeper $k is in session $pid"
	wl_write "$W" 500
	wl_verify "$W" >/dev/null
	d=$WL_DIGEST
	ZS_CRIU=$2 t_dump "$label second" "$I/second" "$pid" || return
	t_range "$label: a dump without --track-mem is full" "$(img_pages "$I/second")" $((2 * 32 * 256))
	for ((p = 0; p < 50; p++)); do
		[ -z "$(zs_keepers_of "$I/base")" ] && break
		sleep 0.1
	done
	[ -n "$k" ] && [ -z "$(zs_keepers_of "$I/base")" ] && t_ok "$label: the keeper exits once its tasks are gone" ||
		t_fail "$label: the keeper exits once its tasks are gone" "keeper '$k'; still there after 5 s: $(zs_keepers_of "$I/base")"
	ZS_CRIU=$2 t_restore "$label second" "$I/second" || return
	t_verify "$label: restored from the second dump" "$W" "$d"
	wl_stop "$W"
}

if [ -x "$STOCK_CRIU" ]; then
	run stock-dumps-tracked "$STOCK_CRIU"
else
	t_skip "stock CRIU dumps a tracked tree" "stock CRIU not built ($STOCK_CRIU; make criu-stock)"
fi
zs_kill_ours
run ours-dumps-tracked "$CRIU"
t_done
