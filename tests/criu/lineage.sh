#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Lineage (issue 2 item 6): a diff is only ever made against the exact image
# tracking started from. Wrong parent (another run's image), an ancestor that
# is no longer the baseline, a parent that is not an image, a deleted parent,
# a killed keeper, a restore without tracking: the dump is refused (non-zero,
# the log names the ids, images untouched, the task keeps running) or, with
# --track-mem-fallback=full, is a full dump. Broken or mismatched parent
# chains fail at restore before any task exists. Every restore that succeeds
# is verified page by page against the dumped state.
. "$(dirname "$0")/lib.sh"
zs_setup lineage
MIB=64
NPAGES=$((MIB * 256))
K=500

# start NAME SEED: workload in $ZS_T/NAME/wl, full image in $ZS_T/NAME/base.
start() {
	local W=$ZS_T/$1/wl
	wl_start "$W" $MIB 0 0 "$2" || { t_fail "$1: start workload" "$(cat "$W/.start")"; return 1; }
	wl_verify "$W" >/dev/null || return 1
	eval "D_$1=\$WL_DIGEST"
	t_dump "$1 base" "$ZS_T/$1/base" "$(wl_pid "$W")"
}

# refused NAME TEST-NAME IMGDIR ARGS...: the dump must be refused. If it is
# not, the task is gone: its image must at least restore to exactly the
# dumped state (never a wrong restore), and the scenario stops (return 1).
refused() {
	local n=$1 W=$ZS_T/$1/wl d pid
	shift
	pid=$(wl_pid "$W")
	wl_verify "$W" >/dev/null
	d=$WL_DIGEST
	t_dump_refused "$1" "$2" "$pid" "${@:3}" && return 0
	t_diag "$1: made $(img_pages "$2") pages, $(pagemap_count "$2" "$pid" parent) in the parent; restoring it"
	t_restore "$1-recover" "$2" && t_verify "$1: the image made instead restores exactly" "$W" "$d"
	wl_stop "$W"
	return 1
}

# still_running NAME: a refused dump left the task running, memory intact.
still_running() {
	local W=$ZS_T/$1/wl
	wl_write "$W" 1 >/dev/null
	t_verify "$1: task still runs after the refusal" "$W"
}

# full_fallback NAME PARENT: the same dump with --track-mem-fallback=full.
full_fallback() {
	local n=$1 I=$ZS_T/$1 W=$ZS_T/$1/wl d pid
	pid=$(wl_pid "$W")
	wl_verify "$W" >/dev/null
	d=$WL_DIGEST
	t_dump "$n-full" "$I/full" "$pid" --track-mem --prev-images-dir "$2" --track-mem-fallback=full || return
	t_range "$n: fallback dump is full" "$(img_pages "$I/full")" "$NPAGES"
	t_range "$n: fallback dump references nothing in a parent" "$(pagemap_count "$I/full" "$pid" parent)" 0 0
	t_log_has "$n: the log says it fell back to a full dump" "$n-full" dump '[Ff]ull'
	t_restore "$n-full" "$I/full" || return
	t_verify "$n: full fallback restored" "$W" "$d"
}

# 1. wrong parent: an image of another run (same program, other seed).
wrong_parent() {
	local I=$ZS_T/a pid sa sb ida idb
	start a 1 || return
	start b 2 || return
	t_restore "a base" "$I/base" --track-mem || return
	pid=$(wl_pid "$I/wl")
	wl_write "$I/wl" $K
	ln -s ../b/base "$I/other-run"
	sa=$(img_sum "$I/base") sb=$(img_sum "$ZS_T/b/base")
	ida=$(img_id "$I/base") idb=$(img_id "$ZS_T/b/base")
	refused a "wrong-parent" "$I/wrong" --track-mem --prev-images-dir ../other-run
	if [ -n "$ida" ] && [ -n "$idb" ] && grep -q "$ida" "$ZS_T/logs/wrong-parent.dump.log" &&
		grep -q "$idb" "$ZS_T/logs/wrong-parent.dump.log"; then
		t_ok "wrong parent: the error names both image ids"
	else
		t_fail "wrong parent: the error names both image ids" "ids '$ida' (baseline) '$idb' (given parent);" \
			"$(grep -m3 Error "$ZS_T/logs/wrong-parent.dump.log")"
	fi
	[ "$(img_sum "$I/base")$(img_sum "$ZS_T/b/base")" = "$sa$sb" ] && t_ok "wrong parent: both images untouched" ||
		t_fail "wrong parent: both images untouched" "an image changed"
	if kill -0 "$pid" 2>/dev/null; then
		still_running a
		full_fallback a ../other-run
		wl_stop "$ZS_T/a/wl"
	fi
	# Both originals still restore to their own state.
	t_restore "a base again" "$I/base" || return
	t_verify "wrong parent: a's base still restores" "$I/wl" "$D_a"
	wl_stop "$I/wl"
	t_restore "b base" "$ZS_T/b/base" || return
	t_verify "wrong parent: b's base still restores" "$ZS_T/b/wl" "$D_b"
	wl_stop "$ZS_T/b/wl"
}

# 2. an ancestor that is no longer the baseline, and a parent that is no image.
stale_parent() {
	local I=$ZS_T/c pid d1
	start c 3 || return
	t_restore "c base" "$I/base" --track-mem || return
	pid=$(wl_pid "$I/wl")
	wl_write "$I/wl" $K
	t_dump "c d1" "$I/d1" "$pid" --track-mem --leave-running --prev-images-dir ../base || return
	wl_write "$I/wl" $K
	# base is d1's parent, but tracking now runs from d1.
	refused c "stale-parent" "$I/stale" --track-mem --prev-images-dir ../base || return
	still_running c
	mkdir -p "$I/not-an-image"
	refused c "not-an-image" "$I/noimg" --track-mem --prev-images-dir ../not-an-image || return
	still_running c
	# The right parent still works after the refusals.
	wl_verify "$I/wl" >/dev/null
	d1=$WL_DIGEST
	t_dump "c d2" "$I/d2" "$pid" --track-mem --prev-images-dir ../d1 || return
	t_range "stale parent: the right parent still gives a diff" "$(img_pages "$I/d2")" $((K + 1)) $((K + 1 + 256))
	t_restore "c d2" "$I/d2" || return
	t_verify "stale parent: d2 + d1 + base restored" "$I/wl" "$d1"
	wl_stop "$I/wl"
}

# 3. parent deleted (at dump and at restore), parent replaced by another image.
deleted_parent() {
	local I=$ZS_T/e pid d
	start e 5 || return
	t_restore "e base" "$I/base" --track-mem || return
	pid=$(wl_pid "$I/wl")
	wl_write "$I/wl" $K
	wl_verify "$I/wl" >/dev/null
	d=$WL_DIGEST
	t_dump "e d1" "$I/d1" "$pid" --track-mem --leave-running --prev-images-dir ../base || return
	wl_write "$I/wl" $K
	cp -a "$I/d1" "$ZS_T/e-d1-copy"
	rm -rf "$I/d1"
	refused e "deleted-parent" "$I/d2" --track-mem --prev-images-dir ../d1 || return
	still_running e
	full_fallback e ../d1
	wl_stop "$I/wl"
	# restore of a diff whose parent is gone / is some other image
	mv "$ZS_T/e-d1-copy" "$I/d1"
	mv "$I/base" "$I/base.moved"
	t_restore_refused "restore-parent-deleted" "$I/d1" "$pid"
	start f 6 || return
	ln -s ../f/base "$I/base"
	t_restore_refused "restore-parent-mismatch" "$I/d1" "$pid $(wl_pid "$ZS_T/f/wl")"
	rm "$I/base"
	mv "$I/base.moved" "$I/base"
	t_restore "e d1 with its parent back" "$I/d1" || return
	t_verify "deleted parent: d1 restores once its parent is back" "$I/wl" "$d"
	wl_stop "$I/wl"
}

# 4. keeper killed; 5. restored without tracking.
lost_tracking() {
	local I=$ZS_T/g pid k sum d
	start g 7 || return
	t_restore "g base" "$I/base" --track-mem || return
	pid=$(wl_pid "$I/wl")
	k=$(zs_keepers_of "$I/base")
	if [ -z "$k" ]; then
		t_fail "keeper killed: find the keeper" "no criu-keeper after restore --track-mem"
	else
		kill -KILL $k
		t_ok "keeper killed: killed criu-keeper $k"
	fi
	wl_write "$I/wl" $K
	sum=$(img_sum "$I/base")
	if refused g "keeper-killed" "$I/d1" --track-mem --prev-images-dir ../base; then
		still_running g
		full_fallback g ../base
		wl_stop "$I/wl"
	fi
	[ "$(img_sum "$I/base")" = "$sum" ] && t_ok "keeper killed: parent untouched" || t_fail "keeper killed: parent untouched" "changed"

	# Restored without --track-mem: there is no baseline. Refused, or a full
	# dump (never a diff) that restores exactly.
	I=$ZS_T/h
	start h 8 || return
	t_restore "h base" "$I/base" || return
	pid=$(wl_pid "$I/wl")
	wl_write "$I/wl" $K
	wl_verify "$I/wl" >/dev/null
	d=$WL_DIGEST
	if zs_dump untracked "$I/d1" "$pid" --track-mem --prev-images-dir ../base; then
		t_range "untracked: dump without a baseline is full" "$(img_pages "$I/d1")" "$NPAGES"
		t_range "untracked: nothing referenced in the parent" "$(pagemap_count "$I/d1" "$pid" parent)" 0 0
		t_restore "untracked" "$I/d1" || return
		t_verify "untracked: full dump restored" "$I/wl" "$d"
	else
		t_ok "untracked: dump refused ($(zs_first_error untracked dump))"
		still_running h
		full_fallback h ../base
	fi
	wl_stop "$I/wl"
}

wrong_parent
zs_kill_ours
stale_parent
zs_kill_ours
deleted_parent
zs_kill_ours
lost_tracking
t_done
