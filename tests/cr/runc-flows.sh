#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# runc's everyday flows, typed as a user types them (issue 17 items 1, 2
# and 4): in the bundle directory, `run -d ID`, `checkpoint ID` (default
# ./checkpoint, no --work-path), `restore -d ID`, with the memory workload
# (tests/cr/lib.sh) verifying every page after each restore.
#
#  A. ./checkpoint reused over 3 restore/write/checkpoint cycles: each
#     restore gives the newest memory; --print-stats JSON (full, then diff);
#     `state` annotations (tracking, image id, generation); ./checkpoint
#     holds only the new image (a planted stale file is gone); no file of a
#     generation shares an inode with ./checkpoint (link count 1); the kept
#     Bundle rootfs has inodes of its own, and a container restored from the
#     stored Bundle does not write through into the live rootfs.
#  B. one image restored under two ids, each writes, each is checkpointed
#     (one into the very directory it was restored from): each restores its
#     own newest memory.
#  C. --image-path whose parents are missing (created, as runc does).
#  D. space: an --image-path on a 1 MiB tmpfs is refused before the
#     container is touched; an --image-path on a tmpfs that runs out of
#     inodes after the dump fails naming the generation, and `zanshin
#     remnant export` of it then restores the newest memory.
#  E. --leave-running: state.json's generation is the new generation.
#  F. --print-stats with --work-path: this dump's CRIU statistics, not a
#     stats-dump left in --image-path.
. "$(dirname "$0")/lib.sh"
MIB=64
CR_MIB=$MIB
K=40
cr_setup runc-flows

# zb NODE ARGS...: the runtime run in NODE's bundle directory (as a user
# would), stdio on fresh pipes for run/restore. Output in $CR_ERR.
zb() {
	local n=$1
	shift
	cr_pipes
	if [ "$1" = run ]; then
		# the container keeps the runtime's stderr: a pipe, not $(...)
		(cd "$CR_T/$n/bundle" && z "$n" "$@" <&"$CR_IN" >&"$CR_OUT" 2>&"$CR_OUT") && return 0
		CR_ERR=$(tail -n 5 "$CR_T/stdout.log")
		return 1
	fi
	CR_ERR=$(cd "$CR_T/$n/bundle" && z "$n" "$@" <&"$CR_IN" 2>&1 >&"$CR_OUT")
}
# zq NODE ARGS...: the runtime in NODE's bundle directory, stdout kept ($CR_OUT_TXT).
zq() {
	local n=$1 errf=$CR_T/.err
	shift
	CR_OUT_TXT=$(cd "$CR_T/$n/bundle" && z "$n" "$@" 2>"$errf" </dev/null)
	local rc=$?
	CR_ERR=$(cat "$errf")
	return $rc
}

wait_workload() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ -s "$CR_T/$1/bundle/rootfs/wl/pid" ] && return 0
		sleep 0.1
	done
	return 1
}

# settle NODE: the store's background keeping is done.
settle() { z "$1" remnant list >/dev/null 2>&1; }

# gen_files_nlink NODE ID: "name nlink" of every generation file with more than one link.
shared_inodes() {
	find "$CR_T/$1/store/containers/$2/generations" -type f -links +1 -printf '%p %n\n'
	find "$CR_T/$1/bundle/checkpoint" -type f -links +1 -printf '%p %n\n' 2>/dev/null
}

# ---- A ----
flow_a() {
	local n=a d i out kind gen img_id st before
	cr_node $n
	rm -f "$CR_T/$n/bundle/rootfs/wl"/{pid,cmd,ack,result,.start}
	zb $n run -d "$CR_CID" || { t_fail "A: run -d" "$CR_ERR"; return; }
	wait_workload $n || { t_fail "A: workload started" ""; return; }
	t_wl_verify "A: fresh" $n || return
	d=$WL_DIGEST
	if zq $n checkpoint --print-stats "$CR_CID" && kind=$(jq -r .kind <<<"$CR_OUT_TXT") && [ "$kind" = full ] &&
		[ "$(jq -r .fallback_reason <<<"$CR_OUT_TXT")" = null ] && [ "$(jq -r '.pages > 0' <<<"$CR_OUT_TXT")" = true ] &&
		[ "$(jq -r '.criu_statistics.frozen_time > 0' <<<"$CR_OUT_TXT")" = true ]; then
		t_ok "A: checkpoint (./checkpoint) --print-stats: kind full, $(jq -r .pages <<<"$CR_OUT_TXT") pages, frozen $(jq -r .criu_statistics.frozen_time <<<"$CR_OUT_TXT") us"
	else
		t_fail "A: checkpoint --print-stats (full)" "$CR_ERR" "$CR_OUT_TXT"
		return
	fi
	grep -q 'level=info.*full' <<<"$CR_ERR" && t_ok "A: checkpoint says at info level that it was full" ||
		t_fail "A: info line" "$CR_ERR"
	cr_gone $n
	for ((i = 1; i <= 3; i++)); do
		zb $n restore -d "$CR_CID" || { t_fail "A$i: restore -d (./checkpoint)" "$CR_ERR"; return; }
		t_wl_verify "A$i: restore -d from ./checkpoint gives the newest memory" $n "$d" || return
		img_id=$(img_field "$CR_T/$n/bundle/checkpoint" image_id)
		for ((j = 0; j < 100; j++)); do
			st=$(z $n state "$CR_CID")
			[ "$(jq -r '.annotations["org.zanshin.generation"] // empty' <<<"$st")" != "" ] && break
			sleep 0.1
		done
		if [ "$(jq -r '.annotations["org.zanshin.tracking"]' <<<"$st")" = wp-async ] &&
			[ "$(jq -r '.annotations["org.zanshin.image-id"]' <<<"$st")" = "$img_id" ] &&
			[ -d "$CR_T/$n/store/containers/$CR_CID/generations/$(jq -r '.annotations["org.zanshin.generation"]' <<<"$st")" ] &&
			[ "$(jq -r .status <<<"$st")" = running ]; then
			t_ok "A$i: state: tracking wp-async, image-id, generation $(jq -r '.annotations["org.zanshin.generation"]' <<<"$st")"
		else
			t_fail "A$i: state annotations" "$st" "image id $img_id"
		fi
		t_wl_write "A$i" $n $((K * i)) || return
		t_wl_verify "A$i: after write" $n || return
		d=$WL_DIGEST
		[ $i = 2 ] && echo stale >"$CR_T/$n/bundle/checkpoint/pages-999.img"
		before=$(ls "$CR_T/$n/bundle/checkpoint" | wc -l)
		if zq $n checkpoint --print-stats "$CR_CID" && [ "$(jq -r .kind <<<"$CR_OUT_TXT")" = diff ] &&
			gen=$(jq -r .generation <<<"$CR_OUT_TXT") && [ -d "$CR_T/$n/store/containers/$CR_CID/generations/$gen" ] &&
			[ "$(jq -r .parent_image_id <<<"$CR_OUT_TXT")" = "$img_id" ] &&
			[ "$(jq -r .criu_statistics.pages_written <<<"$CR_OUT_TXT")" -gt 0 ]; then
			t_ok "A$i: checkpoint into ./checkpoint again: a diff ($(jq -r .pages <<<"$CR_OUT_TXT") pages, generation $gen, $(jq -r .duration_s <<<"$CR_OUT_TXT") s)"
		else
			t_fail "A$i: checkpoint into ./checkpoint again (diff)" "$CR_ERR" "$CR_OUT_TXT"
			return
		fi
		grep -q "level=info.*diff against generation" <<<"$CR_ERR" && t_ok "A$i: info line says diff" || t_fail "A$i: info line" "$CR_ERR"
		if [ $i = 2 ]; then
			[ ! -e "$CR_T/$n/bundle/checkpoint/pages-999.img" ] &&
				t_ok "A2: ./checkpoint replaced as a whole (a stale file of before is gone; $before entries before)" ||
				t_fail "A2: ./checkpoint replaced as a whole" "$(ls "$CR_T/$n/bundle/checkpoint")"
		fi
		[ "$(img_field "$CR_T/$n/bundle/checkpoint" full)" = true ] &&
			t_ok "A$i: ./checkpoint is a full image (flattened)" || t_fail "A$i: ./checkpoint full" "$(img_json "$CR_T/$n/bundle/checkpoint")"
		cr_gone $n
		settle $n
		out=$(shared_inodes $n "$CR_CID")
		[ -z "$out" ] && t_ok "A$i: no file of the store or of ./checkpoint has a second link" ||
			t_fail "A$i: shared inodes" "$out"
		out=$(z $n remnant verify "$CR_CID" 2>&1) && t_ok "A$i: remnant verify" || t_fail "A$i: remnant verify" "$out"
	done
	zb $n restore -d "$CR_CID" || { t_fail "A: last restore" "$CR_ERR"; return; }
	t_wl_verify "A: last restore from ./checkpoint gives the newest memory" $n "$d" || return
	settle $n
	bundle_checks $n
}

# The kept Bundle: own inodes; a container restored from it writes into
# the store's copy only.
bundle_checks() {
	local n=$1 sb=$CR_T/$1/store/containers/$CR_CID/bundle f a b out
	[ -d "$sb/rootfs" ] || { t_fail "A: bundle rootfs kept" "$(ls -la "$sb" 2>&1)"; return; }
	out=""
	for f in bin/zs-workload bin/busybox etc/passwd; do
		[ -e "$CR_T/$n/bundle/rootfs/$f" ] || continue
		a=$(stat -c %d:%i "$CR_T/$n/bundle/rootfs/$f")
		b=$(stat -c %d:%i "$sb/rootfs/$f")
		[ "$a" = "$b" ] && out="$out $f"
		cmp -s "$CR_T/$n/bundle/rootfs/$f" "$sb/rootfs/$f" || out="$out $f(content)"
	done
	[ -z "$out" ] && t_ok "A: the kept Bundle's rootfs files have inodes of their own, same bytes" ||
		t_fail "A: kept Bundle rootfs shares inodes" "$out"
	# checkpoint, then restore from the stored Bundle (no config.json in cwd)
	cr_checkpoint $n "$CR_T/$n/img/sb" || { t_fail "A: checkpoint for the stored Bundle" "$CR_ERR"; return; }
	cr_gone $n
	mkdir -p "$CR_T/$n/nobundle"
	cr_pipes
	CR_ERR=$(cd "$CR_T/$n/nobundle" && z $n restore -d --image-path "$CR_T/$n/img/sb" "$CR_CID" <&"$CR_IN" 2>&1 >&"$CR_OUT") ||
		{ t_fail "A: restore from the stored Bundle" "$CR_ERR"; return; }
	[ "$(z $n state "$CR_CID" | jq -r .bundle)" = "$(realpath "$sb")" ] &&
		t_ok "A: restored from the stored Bundle" || t_fail "A: restored from the stored Bundle" "$(z $n state "$CR_CID")"
	echo written-through >"$CR_T/.probe"
	z $n exec "$CR_CID" sh -c 'echo container >/etc/zs-probe; echo more >>/etc/passwd' >/dev/null 2>&1
	if [ ! -e "$CR_T/$n/bundle/rootfs/etc/zs-probe" ] && ! grep -q '^more$' "$CR_T/$n/bundle/rootfs/etc/passwd" &&
		[ -e "$sb/rootfs/etc/zs-probe" ]; then
		t_ok "A: writes of a container restored from the stored Bundle stay in the store's copy"
	else
		t_fail "A: write-through into the live rootfs" "$(ls -la "$CR_T/$n/bundle/rootfs/etc" "$sb/rootfs/etc" | head)"
	fi
	cr_delete $n
}

# ---- B: one image, two ids ----
flow_b() {
	local d1 d2 ids=("$CR_CID-1" "$CR_CID-2") save=$CR_CID
	cr_node b
	cr_node c
	# one state root and store for both containers (c's are b's)
	rm -rf "$CR_T/c/state" "$CR_T/c/store"
	ln -s "$CR_T/b/state" "$CR_T/c/state"
	ln -s "$CR_T/b/store" "$CR_T/c/store"
	CR_CID=${ids[0]}
	zb b run -d "$CR_CID" || { t_fail "B: run" "$CR_ERR"; CR_CID=$save; return; }
	wait_workload b && t_wl_verify "B: fresh" b || { CR_CID=$save; return; }
	zb b checkpoint "$CR_CID" || { t_fail "B: checkpoint" "$CR_ERR"; CR_CID=$save; return; }
	cr_gone b
	# the same image under two ids (c's bundle is a copy of the same rootfs)
	cp -a "$CR_T/b/bundle/rootfs/wl/." "$CR_T/c/bundle/rootfs/wl/"
	zb b restore -d "${ids[0]}" || { t_fail "B: restore as ${ids[0]}" "$CR_ERR"; CR_CID=$save; return; }
	zb c restore -d --image-path "$CR_T/b/bundle/checkpoint" "${ids[1]}" ||
		{ t_fail "B: restore the same image as ${ids[1]}" "$CR_ERR"; CR_CID=$save; return; }
	CR_CID=${ids[0]}
	t_wl_write "B ${ids[0]}" b 30 && t_wl_verify "B ${ids[0]}: after write" b && d1=$WL_DIGEST
	CR_CID=${ids[1]}
	t_wl_write "B ${ids[1]}" c 70 && t_wl_verify "B ${ids[1]}: after write" c && d2=$WL_DIGEST
	[ -n "${d1:-}" ] && [ -n "${d2:-}" ] && [ "$d1" != "$d2" ] || { t_fail "B: two different states" "$d1 $d2"; CR_CID=$save; return; }
	# the first into the directory it was restored from, the second into its own ./checkpoint
	CR_CID=${ids[0]}
	zb b checkpoint "$CR_CID" && t_ok "B: ${ids[0]} checkpointed into the directory it was restored from" ||
		t_fail "B: checkpoint ${ids[0]}" "$CR_ERR"
	CR_CID=${ids[1]}
	zb c checkpoint "$CR_CID" && t_ok "B: ${ids[1]} checkpointed" || t_fail "B: checkpoint ${ids[1]}" "$CR_ERR"
	cr_gone b
	CR_CID=${ids[0]}
	cr_gone b
	zb b restore -d "$CR_CID" && t_wl_verify "B: ${ids[0]} restores its own newest memory" b "$d1" ||
		t_fail "B: restore ${ids[0]}" "$CR_ERR"
	CR_CID=${ids[1]}
	zb c restore -d "$CR_CID" && t_wl_verify "B: ${ids[1]} restores its own newest memory" c "$d2" ||
		t_fail "B: restore ${ids[1]}" "$CR_ERR"
	z b delete -f "${ids[0]}" >/dev/null 2>&1
	z b delete -f "${ids[1]}" >/dev/null 2>&1
	CR_CID=$save
}

# ---- C: missing parents ----
flow_c() {
	local n=d d deep=$CR_T/d/x/y/z/ckpt
	cr_node $n
	t_run $n
	t_wl_verify "C: fresh" $n || return
	d=$WL_DIGEST
	t_ckpt "C" $n "$deep" || return
	cr_gone $n
	t_rest "C" $n "$deep" || return
	t_wl_verify "C: --image-path with missing parents restores" $n "$d"
	cr_delete $n
}

# ---- D: space ----
flow_d() {
	local n=e d out gen small=$CR_T/e/small tiny=$CR_T/e/tiny
	cr_node $n
	t_run $n
	t_ckpt "D base" $n "$CR_T/$n/img/base" || return
	cr_gone $n
	t_rest "D base" $n "$CR_T/$n/img/base" || return
	t_wl_write "D" $n 50 && t_wl_verify "D: after write" $n || return
	d=$WL_DIGEST
	settle $n
	mkdir -p "$tiny" "$small"
	mount -t tmpfs -o size=1m tmpfs "$tiny" || { t_fail "D: tmpfs" ""; return; }
	if cr_checkpoint $n "$tiny/ckpt"; then
		t_fail "D: a 1 MiB --image-path refused before the dump" "checkpoint succeeded"
	elif grep -q "needs about" <<<"$CR_ERR" && [ "$(cr_status $n)" = running ]; then
		t_ok "D: a 1 MiB --image-path refused before the dump, the container still runs"
		t_wl_verify "D: memory intact after the refusal" $n "$d" || return
	else
		t_fail "D: refused before the dump" "$CR_ERR" "status $(cr_status $n)"
		return
	fi
	umount "$tiny"
	# room for the bytes, not for the files: fails while writing the flattened copy
	mount -t tmpfs -o size=256m,nr_inodes=5 tmpfs "$small" || { t_fail "D: tmpfs" ""; return; }
	if cr_checkpoint $n "$small/ckpt"; then
		t_fail "D: checkpoint into a full filesystem fails" "succeeded: $(ls -la "$small/ckpt")"
		umount -l "$small"
		return
	fi
	umount -l "$small"
	gen=$(sed -n 's/.*as generation \([^ ]*\) of container.*/\1/p' <<<"$CR_ERR" | head -n1)
	if [ -n "$gen" ] && grep -q "remnant export" <<<"$CR_ERR"; then
		t_ok "D: the failure after the dump names generation $gen and how to export it"
	else
		t_fail "D: the failure names the generation" "$CR_ERR"
		return
	fi
	t_diag "$CR_ERR"
	out=$(z $n remnant export "$CR_CID" "$gen" "$CR_T/$n/img/exported" 2>&1) &&
		t_ok "D: remnant export of $gen works" || { t_fail "D: remnant export" "$out"; return; }
	cr_gone $n || cr_delete $n
	t_rest "D exported" $n "$CR_T/$n/img/exported" || return
	t_wl_verify "D: the exported generation restores the newest memory" $n "$d"
	cr_delete $n
}

# ---- E: --leave-running records the new generation ----
flow_e() {
	local n=f gen sgen
	cr_node $n
	t_run $n
	t_ckpt "E base" $n "$CR_T/$n/img/base" || return
	cr_gone $n
	t_rest "E base" $n "$CR_T/$n/img/base" || return
	t_wl_write "E" $n 20 || return
	if CR_OUT_TXT=$(z $n checkpoint --image-path "$CR_T/$n/img/lr" --leave-running --print-stats "$CR_CID" 2>/dev/null </dev/null) &&
		gen=$(jq -r .generation <<<"$CR_OUT_TXT") && [ "$(jq -r .kind <<<"$CR_OUT_TXT")" = diff ]; then
		sgen=$(jq -r .generation "$CR_T/$n/state/$CR_CID/state.json")
		[ "$sgen" = "$gen" ] && t_ok "E: after checkpoint --leave-running, state.json's generation is $gen" ||
			t_fail "E: state.json generation" "state $sgen, checkpoint $gen"
	else
		t_fail "E: checkpoint --leave-running --print-stats" "$CR_OUT_TXT"
	fi
	cr_delete $n
}

# ---- F: --print-stats reports this dump's CRIU statistics (the work
# directory's), not a stats-dump a previous checkpoint left in --image-path ----
flow_f() {
	local n=g d w ft
	cr_node $n
	d=$CR_T/$n/img/ck
	w=$CR_T/$n/work
	mkdir -p "$d" "$w"
	# a valid stats-dump whose frozen_time is 4242424242
	printf '\x40\x59\x10\x55\x06\x33\x09\x57\x08\x00\x00\x00\x0a\x06\x10\xb2\x83\xf9\xe6\x0f' >"$d/stats-dump"
	t_run $n
	if CR_OUT_TXT=$(z $n checkpoint --image-path "$d" --work-path "$w" --print-stats "$CR_CID" 2>/dev/null </dev/null) &&
		ft=$(jq -r .criu_statistics.frozen_time <<<"$CR_OUT_TXT") && [ -s "$w/stats-dump" ] &&
		[[ $ft =~ ^[0-9]+$ ]] && [ "$ft" != 4242424242 ]; then
		t_ok "F: --print-stats with --work-path: this dump's statistics (frozen $ft us)"
	else
		t_fail "F: --print-stats with --work-path: this dump's statistics" "$CR_OUT_TXT"
	fi
	cr_delete $n
}

flow_a
flow_b
flow_c
flow_d
flow_e
flow_f
t_done
