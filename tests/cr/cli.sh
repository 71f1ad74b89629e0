#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Container-level checkpoint/restore on the command line (issue 4, "How it
# is proven", CLI): a busybox container running zs-workload (256 MiB), run
# by build/bin/zanshin with stdio on pipes.
#
#  1. checkpoint (full); restore --track-mem; write K pages (K = 64, 1024);
#     checkpoint --track-mem --parent-path ../base: the diff stores
#     K..K+C pages (zanshin image info), restore from it, memory verifies
#     (every page, and the digest of the state that was checkpointed).
#  2. without --parent-path: after the tracked restore, a plain checkpoint;
#     the image at --image-path restores on its own (moved elsewhere, remnant
#     store deleted) while the store lists the newest generation as a diff.
#  3. --leave-running (full and diff), --pre-dump then --parent-path,
#     --no-track-mem then a --parent-path diff: never wrong memory.
#
# C, the pages a diff holds beyond the K written pages: the CRIU-level suite
# (tests/criu/track-diff.sh) measured ~38 for one process; here the container
# has two (sh exec'd into sleep as init, and the workload), whose stack,
# .bss/libc data, the workload's version array (16 pages for 256 MiB) and
# RELRO pages are stored again. Measured on the VM of MACHINE.md: 25 extra
# pages for a 64 MiB workload; 38 (K=64) and 39 (K=1024) for 256 MiB, the
# same with --leave-running, 37 for --pre-dump + --parent-path. C = 128
# leaves room for a busier libc without hiding a diff that is not one.
. "$(dirname "$0")/lib.sh"
MIB=256
CR_MIB=$MIB
C=128
cr_setup cli

# diff_checks NAME DIR K BASE: the diff at DIR stores K..K+C pages, is not
# full, and its parent is BASE's image id.
diff_checks() {
	local name=$1 dir=$2 k=$3 base=$4 pages full pid want
	pages=$(img_field "$dir" pages)
	full=$(img_json "$dir" | jq -r .full)
	t_range "$name: diff stores K..K+$C pages (image info)" "$pages" "$k" $((k + C))
	t_diag "$name: diff $pages pages = K + $((pages - k)); parent_pages $(img_field "$dir" parent_pages); $(img_bytes "$dir") bytes"
	if [ "$full" = false ]; then t_ok "$name: image info says diff"; else t_fail "$name: image info says diff" "full=$full"; fi
	pid=$(img_field "$dir" parent_image_id)
	want=$(img_field "$base" image_id)
	if [ -n "$pid" ] && [ "$pid" = "$want" ]; then
		t_ok "$name: parent_image_id is the base's image id"
	else
		t_fail "$name: parent_image_id is the base's image id" "parent_image_id '$pid', base image_id '$want'"
	fi
}

# ---- 1 and 2: explicit --parent-path, then plain checkpoint ----
run_k() {
	local k=$1 n=k$1 I d out newest kind pages
	I=$CR_T/k$1/img
	cr_node "$n"
	cr_run "$n" || { t_fail "K=$k: run" "$(cat "$CR_T/stdout.log")"; return; }
	t_wl_verify "K=$k: fresh" "$n" || return
	d=$WL_DIGEST
	t_ckpt "K=$k base" "$n" "$I/base" || return
	if cr_gone "$n"; then t_ok "K=$k: container gone after checkpoint"; else
		t_fail "K=$k: container gone after checkpoint" "status $(cr_status "$n")"
	fi
	# as runc: the network namespace is empty for CRIU (no ip/iptables state)
	if find "$I/base" -maxdepth 1 -regextype egrep -regex '.*/(ifaddr|route6?|rule|iptables|ip6tables)-[0-9]+\.img' | grep -q .; then
		t_fail "K=$k: network namespace contents not checkpointed (runc's empty_ns)" "$(ls "$I/base")"
	else
		t_ok "K=$k: network namespace contents not checkpointed (runc's empty_ns)"
	fi
	t_rest "K=$k base" "$n" "$I/base" --track-mem || return
	t_wl_verify "K=$k: restored with tracking" "$n" "$d" || return
	t_wl_write "K=$k" "$n" "$k" || return
	t_wl_verify "K=$k: after write" "$n" || return
	d=$WL_DIGEST
	t_ckpt "K=$k diff" "$n" "$I/diff" --track-mem --parent-path ../base || return
	diff_checks "K=$k explicit" "$I/diff" "$k" "$I/base"
	cr_gone "$n"
	t_rest "K=$k diff" "$n" "$I/diff" --track-mem || return
	t_wl_verify "K=$k: restored from the diff" "$n" "$d" || return

	# 2. no --parent-path: the store keeps a diff, --image-path is self-contained
	t_wl_write "K=$k plain" "$n" "$k" || return
	t_wl_verify "K=$k plain: after write" "$n" || return
	d=$WL_DIGEST
	t_ckpt "K=$k plain" "$n" "$I/plain" || return
	cr_gone "$n"
	out=$(z "$n" remnant list --format json 2>&1)
	newest=$(jq -c 'map(select(.container == "'"$CR_CID"'")) | sort_by(.name) | last' <<<"$out" 2>/dev/null)
	kind=$(jq -r '.kind // empty' <<<"$newest" 2>/dev/null)
	pages=$(jq -r '.pages // empty' <<<"$newest" 2>/dev/null)
	if [ "$kind" = diff ]; then t_ok "K=$k plain: remnant list shows the newest generation as a diff"; else
		t_fail "K=$k plain: remnant list shows the newest generation as a diff" "newest: $newest" "$out"
	fi
	t_range "K=$k plain: the stored diff holds K..K+$C pages" "$pages" "$k" $((k + C))
	if [ "$(img_json "$I/plain" | jq -r '.full, .parent')" = "$(printf 'true\nnull')" ] &&
		[ ! -e "$I/plain/parent" ]; then
		t_ok "K=$k plain: the image at --image-path is full, no parent link"
	else
		t_fail "K=$k plain: the image at --image-path is full, no parent link" "$(img_json "$I/plain")" "$(ls -l "$I/plain")"
	fi
	mkdir -p "$CR_T/elsewhere"
	mv "$I/plain" "$CR_T/elsewhere/plain-$k"
	rm -rf "$CR_T/$n/store"
	t_rest "K=$k plain, moved, store deleted" "$n" "$CR_T/elsewhere/plain-$k" || return
	t_wl_verify "K=$k plain: restored alone" "$n" "$d"
	cr_delete "$n"
}

for k in 64 1024; do
	run_k $k
	cr_delete k$k
done

# ---- 3a. --leave-running: full, then a diff of a tracked container ----
leave_running() {
	local n=lr I=$CR_T/lr/img d k=64
	cr_node $n
	cr_run $n || { t_fail "leave-running: run" "$(cat "$CR_T/stdout.log")"; return; }
	t_wl_verify "leave-running: fresh" $n || return
	d=$WL_DIGEST
	t_ckpt "leave-running" $n "$I/base" --leave-running || return
	if [ "$(cr_status $n)" = running ]; then t_ok "leave-running: container still running"; else
		t_fail "leave-running: container still running" "status '$(cr_status $n)'"
	fi
	t_wl_verify "leave-running: memory after checkpoint" $n "$d" || return
	t_wl_write "leave-running" $n 100 || return
	cr_delete $n
	t_rest "leave-running base" $n "$I/base" --track-mem || return
	t_wl_verify "leave-running: restore gives the checkpointed state" $n "$d" || return
	t_wl_write "leave-running tracked" $n $k || return
	t_wl_verify "leave-running tracked: after write" $n || return
	d=$WL_DIGEST
	t_ckpt "leave-running diff" $n "$I/diff" --leave-running --track-mem --parent-path ../base || return
	diff_checks "leave-running" "$I/diff" $k "$I/base"
	if [ "$(cr_status $n)" = running ]; then t_ok "leave-running diff: container still running"; else
		t_fail "leave-running diff: container still running" "status '$(cr_status $n)'"
	fi
	t_wl_verify "leave-running diff: memory after checkpoint" $n "$d" || return
	t_wl_write "leave-running diff: keeps working" $n $k || return
	cr_delete $n
	t_rest "leave-running diff" $n "$I/diff" || return
	t_wl_verify "leave-running diff: restore gives the checkpointed state" $n "$d"
	cr_delete $n
}
leave_running

# ---- 3b. --pre-dump, then checkpoint --parent-path ----
pre_dump() {
	local n=pd I=$CR_T/pd/img d pre all k=1024
	cr_node $n
	cr_run $n || { t_fail "pre-dump: run" "$(cat "$CR_T/stdout.log")"; return; }
	t_wl_verify "pre-dump: fresh" $n || return
	t_ckpt "pre-dump" $n "$I/pre" --pre-dump || return
	pre=$(img_own_pages "$I/pre")
	t_range "pre-dump: stores the workload's memory" "$pre" $((MIB * 256))
	if [ "$(cr_status $n)" = running ]; then t_ok "pre-dump: container still running"; else
		t_fail "pre-dump: container still running" "status '$(cr_status $n)'"
	fi
	t_wl_write "pre-dump" $n $k || return
	t_wl_verify "pre-dump: after write" $n || return
	d=$WL_DIGEST
	t_ckpt "pre-dump final" $n "$I/final" --parent-path ../pre || return
	all=$(img_own_pages "$I/final")
	t_diag "pre-dump: final checkpoint stores $all pages, parent_pages $(img_field "$I/final" parent_pages)"
	t_range "pre-dump: final checkpoint stores K..K+$C pages (pre-dump pages not again)" "$all" $k $((k + C))
	cr_gone $n
	t_rest "pre-dump final" $n "$I/final" || return
	t_wl_verify "pre-dump: restored" $n "$d"
	cr_delete $n
}
pre_dump

# ---- 3c. --no-track-mem, then --track-mem --parent-path: refused or right ----
no_track() {
	local n=nt I=$CR_T/nt/img d k=64 full pages
	cr_node $n
	cr_run $n || { t_fail "no-track-mem: run" "$(cat "$CR_T/stdout.log")"; return; }
	t_wl_verify "no-track-mem: fresh" $n || return
	t_ckpt "no-track-mem base" $n "$I/base" || return
	cr_gone $n
	t_rest "no-track-mem" $n "$I/base" --no-track-mem || return
	t_wl_verify "no-track-mem: restored" $n || return
	t_wl_write "no-track-mem" $n $k || return
	t_wl_verify "no-track-mem: after write" $n || return
	d=$WL_DIGEST
	if cr_checkpoint $n "$I/diff" --track-mem --parent-path ../base; then
		full=$(img_field "$I/diff" full)
		pages=$(img_field "$I/diff" pages)
		t_ok "no-track-mem: --parent-path checkpoint accepted (full=$full, $pages pages stored)"
		t_diag "no-track-mem: untracked container, --track-mem --parent-path gave full=$full pages=$pages parent_pages=$(img_field "$I/diff" parent_pages)"
		cr_gone $n
		t_rest "no-track-mem diff" $n "$I/diff" || return
		t_wl_verify "no-track-mem: restored memory is right" $n "$d"
	else
		t_ok "no-track-mem: --parent-path checkpoint refused ($(tail -n1 <<<"$CR_ERR" | cut -c1-200))"
		if [ "$(cr_status $n)" = running ]; then t_ok "no-track-mem: container still running"; else
			t_fail "no-track-mem: container still running" "status '$(cr_status $n)'"
		fi
		t_wl_verify "no-track-mem: memory after the refusal" $n "$d"
	fi
	cr_delete $n
}
no_track

t_done
