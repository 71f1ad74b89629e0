#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Diff after restore (issue 2, "How it is proven"): a 256 MiB workload is
# dumped in full, restored with --track-mem, writes exactly K pages, and is
# dumped with the restored image as parent. The diff must hold at least K
# and at most K + 256 pages; restoring diff + parent must give back exactly
# the dumped memory (every page checked, digest of the dumped state).
. "$(dirname "$0")/lib.sh"
zs_setup track-diff
MIB=256
NPAGES=$((MIB * 256))
SLACK=256

# one K
run() {
	local k=$1 W=$ZS_T/k$1/wl I=$ZS_T/k$1 pid d pages extra skipped written
	wl_start "$W" $MIB || { t_fail "K=$k: start workload" "$(cat "$W/.start")"; return; }
	pid=$(wl_pid "$W")
	t_verify "K=$k: fresh" "$W" || return
	d=$WL_DIGEST
	t_dump "K=$k base" "$I/base" "$pid" || return
	t_restore "K=$k base" "$I/base" --track-mem || return
	t_verify "K=$k: restored with tracking" "$W" "$d" || return
	if [ -n "$(zs_keepers_of "$I/base")" ]; then
		t_ok "K=$k: a criu-keeper holds the tracking ($(zs_keepers_of "$I/base" | tr '\n' ' '))"
	else
		t_fail "K=$k: a criu-keeper holds the tracking" "no criu-keeper process after restore --track-mem"
	fi
	wl_write "$W" "$k" || { t_fail "K=$k: write" "$(cat "$W/result")"; return; }
	t_verify "K=$k: after writing $k pages" "$W" || return
	d=$WL_DIGEST
	wl_info "$W"
	t_dump "K=$k diff" "$I/diff" "$pid" --track-mem --prev-images-dir ../base || return
	pages=$(img_pages "$I/diff")
	extra=$((pages - k))
	t_range "K=$k: diff holds K..K+$SLACK pages" "$pages" "$k" $((k + SLACK))
	t_diag "K=$k: diff $pages pages = K + $extra (base image $(img_pages "$I/base") pages)"
	t_diag "K=$k: of the diff's pages: $(diff_breakdown "$I/diff" "$pid")"
	t_diag "K=$k: the pages elsewhere: the workload's own version array (1 byte per page, 16 pages for" \
		"256 MiB, all touched by a spread write), stack/.bss/libc data touched while it handles the" \
		"command, and read-only private file pages with anonymous content (libc/ld.so RELRO) that CRIU stores" \
		"whenever they are present (the backend does not track read-only mappings)"
	skipped=$(stats_dump "$I/diff" pages_skipped_parent)
	written=$(stats_dump "$I/diff" pages_written)
	t_diag "K=$k: stats-dump pages_written=$written pages_skipped_parent=$skipped"
	t_range "K=$k: stats-dump pages_skipped_parent covers the unwritten pages" "$skipped" $((NPAGES - k))
	t_range "K=$k: stats-dump pages_written matches the pages images" "$written" "$pages" "$pages"
	t_restore "K=$k diff" "$I/diff" --track-mem || return
	t_verify "K=$k: diff + parent restored" "$W" "$d" || return
	wl_stop "$W"
}

for k in 64 1024 16384; do
	run $k
	zs_kill_ours
done
t_done
