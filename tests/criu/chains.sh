#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Tracking chains (issue 2 items 3-5): pre-dump -> pre-dump -> dump with
# --prev-images-dir (iterative pre-copy, which stock CRIU cannot do on this
# kernel: no soft-dirty), dump --track-mem --leave-running chains after a
# restore with tracking, and a pre-dump on top of a restored image. Every
# restore is checked page by page against the state that was dumped.
. "$(dirname "$0")/lib.sh"
zs_setup chains
MIB=128
NPAGES=$((MIB * 256))
SLACK=256
K=2000

# A fresh (never restored) tree of 2 processes: pre-dump, pre-dump, dump.
predump_chain() {
	local W=$ZS_T/pre/wl I=$ZS_T/pre pid d
	wl_start "$W" $MIB 1 1 || { t_fail "pre-dump chain: start" "$(cat "$W/.start")"; return; }
	pid=$(wl_pid "$W")
	if [ -x "$STOCK_CRIU" ]; then
		if ZS_CRIU=$STOCK_CRIU ZS_ACTION=pre-dump zs_dump stock-pre "$I/stock-pre" "$pid"; then
			t_diag "stock CRIU pre-dump works here (soft-dirty present?)"
		else
			t_diag "stock CRIU pre-dump fails on this kernel: $(zs_first_error stock-pre dump)"
		fi
		t_verify "pre-dump chain: still running after stock attempt" "$W" || return
	fi
	t_predump "chain pre1" "$I/pre1" "$pid" --track-mem || return
	t_range "pre-dump chain: first pre-dump is full" "$(img_pages "$I/pre1")" $((2 * NPAGES))
	t_verify "pre-dump chain: running after pre-dump 1" "$W" || return
	wl_write "$W" $K
	t_predump "chain pre2" "$I/pre2" "$pid" --track-mem --prev-images-dir ../pre1 || return
	t_range "pre-dump chain: second pre-dump holds the written pages" "$(img_pages "$I/pre2")" $((2 * K)) $((2 * (K + SLACK)))
	wl_write "$W" $K
	t_verify "pre-dump chain: before the final dump" "$W" || return
	d=$WL_DIGEST
	t_dump "chain final" "$I/final" "$pid" --track-mem --prev-images-dir ../pre2 || return
	t_range "pre-dump chain: final dump holds the written pages" "$(img_pages "$I/final")" $((2 * K)) $((2 * (K + SLACK)))
	t_restore "chain final" "$I/final" --track-mem || return
	t_verify "pre-dump chain: final + pre2 + pre1 restored" "$W" "$d" || return
	wl_stop "$W"
}

# log_ranges TEST NAME OP MIN MAX: lines of NAME's OP log that CRIU writes
# per page range (criu-patches 0015 moved them to -v5) are within MIN..MAX.
log_ranges() {
	local n
	n=$(grep -cE "Read from parent|parent has [0-9]+ pages in|Read piov iovs|Add iov to page pipe|Checking 0x[0-9a-f]+ - 0x[0-9a-f]+ hole" "$ZS_T/logs/$2.$3.log")
	t_range "$1" "$n" "$4" "$5"
}

# Restored with tracking, then three dumps: two --leave-running, the last
# one final; each one a diff on the previous. Then every image restores.
leave_running_chain() {
	local W=$ZS_T/lr/wl I=$ZS_T/lr pid d0 d1 d2 d3 n prev=base v
	wl_start "$W" $MIB || { t_fail "leave-running chain: start" "$(cat "$W/.start")"; return; }
	pid=$(wl_pid "$W")
	t_verify "leave-running chain: fresh" "$W" || return
	d0=$WL_DIGEST
	t_dump "lr base" "$I/base" "$pid" || return
	t_restore "lr base" "$I/base" --track-mem || return
	for n in 1 2; do
		wl_write "$W" $K
		t_verify "leave-running chain: before dump $n" "$W" || return
		eval "d$n=\$WL_DIGEST"
		t_dump "lr d$n" "$I/d$n" "$pid" --track-mem --leave-running --prev-images-dir ../$prev || return
		t_range "leave-running chain: d$n is a diff" "$(img_pages "$I/d$n")" $K $((K + SLACK))
		t_verify "leave-running chain: still running after d$n" "$W" "$(eval "echo \$d$n")" || return
		prev=d$n
	done
	wl_write "$W" $K
	t_verify "leave-running chain: before the final dump" "$W" || return
	d3=$WL_DIGEST
	t_dump "lr d3" "$I/d3" "$pid" --track-mem --prev-images-dir ../d2 || return
	t_range "leave-running chain: d3 is a diff" "$(img_pages "$I/d3")" $K $((K + SLACK))
	t_restore "lr d3" "$I/d3" || return
	t_verify "leave-running chain: d3 restored" "$W" "$d3" || return
	# criu-patches 0015: at -v4 no line per page range read through the
	# parents (thousands here), at -v5 they are back
	log_ranges "leave-running chain: -v4 restore through 3 parents logs no line per page range" "lr d3" restore 0 0
	log_ranges "leave-running chain: -v4 diff dump logs no line per written range" "lr d3" dump 0 0
	for n in 1 2; do
		wl_stop "$W"
		v=() # d1 again at -v5
		[ $n = 1 ] && v=(-v5)
		t_restore "lr d$n again" "$I/d$n" "${v[@]}" || return
		[ $n = 1 ] && log_ranges "leave-running chain: -v5 restore logs the page ranges read from the parent" "lr d$n again" restore $K 100000000
		t_verify "leave-running chain: d$n restored later" "$W" "$(eval "echo \$d$n")" || return
	done
	wl_stop "$W"
	t_restore "lr base again" "$I/base" || return
	t_verify "leave-running chain: base restored later" "$W" "$d0" || return
	wl_stop "$W"
}

# Restored with tracking, a pre-dump on the restored image, then the dump.
predump_after_restore() {
	local W=$ZS_T/par/wl I=$ZS_T/par pid d
	wl_start "$W" $MIB 0 2 || { t_fail "pre-dump after restore: start" "$(cat "$W/.start")"; return; }
	pid=$(wl_pid "$W")
	t_dump "par base" "$I/base" "$pid" || return
	t_restore "par base" "$I/base" --track-mem || return
	wl_write "$W" $K
	t_predump "par pre" "$I/pre" "$pid" --track-mem --prev-images-dir ../base || return
	t_range "pre-dump after restore: a diff" "$(img_pages "$I/pre")" $K $((K + SLACK))
	wl_write "$W" $K
	t_verify "pre-dump after restore: before dump" "$W" || return
	d=$WL_DIGEST
	t_dump "par final" "$I/final" "$pid" --track-mem --prev-images-dir ../pre || return
	t_range "pre-dump after restore: final is a diff" "$(img_pages "$I/final")" $K $((K + SLACK))
	t_restore "par final" "$I/final" || return
	t_verify "pre-dump after restore: final + pre + base restored" "$W" "$d" || return
	wl_stop "$W"
}

# The migration loop: restore --track-mem from the newest image, write,
# dump a diff on it; HOPS times. The newest image restores through the whole
# chain. Then two sibling diffs of one parent: both restore to their own state.
restore_chain() {
	local W=$ZS_T/hop/wl I=$ZS_T/hop pid d hop prev=base HOPS=5 da db
	wl_start "$W" 64 1 1 || { t_fail "restore chain: start" "$(cat "$W/.start")"; return; }
	pid=$(wl_pid "$W")
	t_dump "hop base" "$I/base" "$pid" || return
	for ((hop = 1; hop <= HOPS; hop++)); do
		zs_restore "hop$hop" "$I/$prev" --track-mem || { t_fail "restore chain: restore hop $hop" "$(zs_log "hop$hop" restore)"; return; }
		wl_write "$W" 300
		wl_cmd "$W" "mmap-new 1" >/dev/null
		wl_verify "$W" >/dev/null || { t_fail "restore chain: hop $hop verify" "$(cat "$W/result")"; return; }
		d=$WL_DIGEST
		zs_dump "hop$hop" "$I/h$hop" "$pid" --track-mem --prev-images-dir "../$prev" ||
			{ t_fail "restore chain: dump hop $hop" "$(zs_log "hop$hop" dump)"; return; }
		t_range "restore chain: hop $hop is a diff (300 pages x 2 processes + 1 MiB new each)" \
			"$(img_pages "$I/h$hop")" $((2 * (300 + 256))) $((2 * (300 + 256 + SLACK)))
		prev=h$hop
	done
	t_restore "hop last" "$I/$prev" || return
	t_verify "restore chain: image $HOPS hops deep restored" "$W" "$d" || return
	wl_stop "$W"

	t_restore "sib-a base" "$I/h2" --track-mem || return
	wl_write "$W" 100
	wl_verify "$W" >/dev/null
	da=$WL_DIGEST
	t_dump "sib-a" "$I/sib-a" "$pid" --track-mem --prev-images-dir ../h2 || return
	t_restore "sib-b base" "$I/h2" --track-mem || return
	wl_write "$W" 100
	wl_write "$W" 100
	wl_verify "$W" >/dev/null
	db=$WL_DIGEST
	t_dump "sib-b" "$I/sib-b" "$pid" --track-mem --prev-images-dir ../h2 || return
	t_restore "sib-a" "$I/sib-a" || return
	t_verify "siblings: first diff of h2 restores" "$W" "$da" || return
	wl_stop "$W"
	t_restore "sib-b" "$I/sib-b" || return
	t_verify "siblings: second diff of h2 restores" "$W" "$db" || return
	wl_stop "$W"
}

predump_chain
zs_kill_ours
restore_chain
zs_kill_ours
leave_running_chain
zs_kill_ours
predump_after_restore
t_done
