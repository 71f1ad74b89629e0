#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Diff after restore for a multi-process, multi-threaded tree, and after the
# layout changes a restored task can make: fork, mremap (move + grow),
# munmap, MADV_DONTNEED, new mmaps (one in an unmapped hole), brk growth.
# Restoring diff + parent must give back exactly the dumped memory; whatever
# tracking never saw (new processes, new mappings) must be in the diff in full.
. "$(dirname "$0")/lib.sh"
zs_setup track-tree
SLACK=256

# 3 processes x 3 threads (2 workers + main), 64 MiB each; the workers write.
tree() {
	local W=$ZS_T/tree/wl I=$ZS_T/tree k=1024 pid d pages nproc
	wl_start "$W" 64 2 2 || { t_fail "tree: start workload" "$(cat "$W/.start")"; return; }
	pid=$(wl_pid "$W")
	nproc=$(pgrep -s "$pid" | wc -l)
	t_range "tree: 3 processes, 9 threads" "$nproc$(ps -o nlwp= -s "$pid" | awk '{s += $1} END {print s}')" 39 39
	t_dump "tree base" "$I/base" "$pid" || return
	t_restore "tree base" "$I/base" --track-mem || return
	wl_write "$W" $k || { t_fail "tree: write" "$(cat "$W/result")"; return; }
	t_verify "tree: $k pages written by worker threads in each process" "$W" || return
	d=$WL_DIGEST
	t_dump "tree diff" "$I/diff" "$pid" --track-mem --prev-images-dir ../base || return
	pages=$(img_pages "$I/diff")
	t_range "tree: diff holds 3K..3(K+$SLACK) pages" "$pages" $((3 * k)) $((3 * (k + SLACK)))
	t_diag "tree: diff $pages pages = 3 x $k + $((pages - 3 * k)) (base $(img_pages "$I/base") pages)"
	t_restore "tree diff" "$I/diff" --track-mem || return
	t_verify "tree: diff + parent restored" "$W" "$d" || return
	wl_stop "$W"
}

# Every command output must be OK.
ops() {
	local W=$1 op out
	shift
	for op in "$@"; do
		out=$(wl_cmd "$W" $op) || { t_fail "layout: $op after restore" "$out"; return 1; }
		echo "$out" >>"$ZS_T/ops.log"
	done
	t_ok "layout: $* after restore"
}

layout() {
	local W=$ZS_T/layout/wl I=$ZS_T/layout pid d p pages min new child_min
	wl_start "$W" 64 1 2 || { t_fail "layout: start workload" "$(cat "$W/.start")"; return; }
	pid=$(wl_pid "$W")
	t_dump "layout base" "$I/base" "$pid" || return
	t_restore "layout base" "$I/base" --track-mem || return
	ops "$W" "write 256" fork mremap munmap "mmap-new 1" dontneed "mmap-new 8" "brk 4" "write 256" || return
	t_diag "layout: $(grep -c '(in a hole)' "$ZS_T/ops.log") new mapping(s) placed where munmap/mremap had removed old content"
	t_verify "layout: after the changes" "$W" || return
	d=$WL_DIGEST
	wl_info "$W"
	t_dump "layout diff" "$I/diff" "$pid" --track-mem --prev-images-dir ../base || return
	t_restore "layout diff" "$I/diff" --track-mem || return
	t_verify "layout: diff + parent restored" "$W" "$d" || return

	# What tracking never saw is in the diff in full.
	for p in $(wl_info_pids); do
		if [ -f "$I/base/pagemap-$p.img" ]; then
			new=$(wl_info_nonzero "$p" '^(mmap-new|brk|mremap-moved|mremap-grown)$')
			pages=$(pagemap_count "$I/diff" "$p" own)
			t_range "layout: pid $p: new mappings ($new pages of data) stored in full in the diff" "$pages" "$new"
		else
			child_min=$(wl_info_nonzero "$p")
			pages=$(pagemap_count "$I/diff" "$p" own)
			t_range "layout: pid $p (forked after restore): every page stored in the diff" "$pages" "$child_min"
			pages=$(pagemap_count "$I/diff" "$p" parent)
			t_range "layout: pid $p (forked after restore): nothing referenced in the parent" "$pages" 0 0
		fi
	done

	# A second diff on top, after more layout changes.
	ops "$W" "write 100" munmap dontneed "mmap-new 2" "brk 1" "write 100" || return
	t_verify "layout: second round" "$W" || return
	d=$WL_DIGEST
	t_dump "layout diff2" "$I/diff2" "$pid" --track-mem --prev-images-dir ../diff || return
	t_restore "layout diff2" "$I/diff2" || return
	t_verify "layout: diff2 + diff + base restored" "$W" "$d" || return
	wl_stop "$W"
}

tree
zs_kill_ours
layout
t_done
