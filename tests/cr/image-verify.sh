#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Every image zanshin writes into --image-path carries a manifest
# (manifest.json in the store's sha256-4k format, lineage.json, the block
# digests in manifest.blocks); every restore from --image-path verifies it
# while CRIU restores, before the tasks resume (lib/restore_verify.c).
# Issue 16 item 6, and the "nothing lost" fix of a full checkpoint into a
# reused --image-path (dumped into a sibling, swapped in when complete).
#
#  1. checkpoint --image-path: manifest written, `image check` verifies it
#  2. one byte of pages-1.img flipped: restore refused naming the file and
#     the 4 KiB block, nothing of the container runs; `image check` says it
#  3. the image made good again: restore, memory verifies
#  4. a diff (--parent-path) whose parent's pages-1.img is flipped: refused
#     naming the parent's file and block; made good: restores, verifies
#  5. an image without a manifest (runc's, with stock CRIU) restores with
#     a warning, memory verifies
#  6. an image a pagemap references, removed: `image check` names it
#  7. CRIU killed mid-dump into --image-path holding a good image: the old
#     image is intact (same files) and restores with verified memory
#  8. a full checkpoint into that directory replaces it whole (new image,
#     manifest, CRIU's log), a stale sibling of a killed runtime removed
. "$(dirname "$0")/lib.sh"
CR_MIB=128
cr_setup image-verify
A=$CR_T/A
cr_node A

# no_container NAME: the container does not exist on A, and nothing runs
# from its bundle (a refused restore resumed nothing).
no_container() {
	local p left=""
	for p in /proc/[0-9]*; do
		case "$(readlink "$p/root" 2>/dev/null)" in "$A/bundle/rootfs"*) left="$left ${p#/proc/}" ;; esac
	done
	if [ -z "$(cr_status A)" ] && [ -z "$left" ]; then t_ok "$1: no container, nothing of it runs"; else
		t_fail "$1: no container, nothing of it runs" "status '$(cr_status A)', processes:$left"
	fi
}

# refused NAME WANT...: the last restore failed and its error has every WANT.
refused() {
	local name=$1 w
	shift
	if cr_restore A "$IMG"; then
		t_fail "$name: restore refused" "restore succeeded: $CR_ERR"
		cr_delete A
		return 1
	fi
	for w in "$@"; do
		if ! grep -qF -- "$w" <<<"$CR_ERR"; then
			t_fail "$name: the error names '$w'" "$CR_ERR"
			return 1
		fi
	done
	t_ok "$name: restore refused: $(tail -n1 <<<"$CR_ERR" | cut -c1-300)"
}

t_run A
t_wl_write "setup" A 3000
wl_do A verify >/dev/null
t_wl_verify "before" A
D0=$WL_DIGEST

# 1
FULL=$A/img/full
t_ckpt "1 full" A "$FULL"
cr_gone A
for f in manifest.json lineage.json manifest.blocks; do
	if [ -s "$FULL/$f" ]; then t_ok "1: $f written"; else t_fail "1: $f written" "$(ls "$FULL")"; fi
done
if [ "$(jq -r .image_id "$FULL/manifest.json")" = "$(img_field "$FULL" image_id)" ] &&
	[ "$(jq -r .hash "$FULL/manifest.json")" = sha256-4k ]; then
	t_ok "1: manifest is sha256-4k of image $(img_field "$FULL" image_id)"
else t_fail "1: manifest ids" "$(head -c 400 "$FULL/manifest.json")"; fi
if out=$("$ZANSHIN" image check "$FULL" 2>&1); then t_ok "1: image check passes"; else t_fail "1: image check passes" "$out"; fi
cp -a "$FULL" "$A/img/good"

# 2: block 5 of pages-1.img
IMG=$FULL
flip "$FULL/pages-1.img" $((5 * 4096 + 123))
refused "2 flipped byte" "pages-1.img" "block 5 " "manifest"
no_container "2"
if out=$("$ZANSHIN" image check "$FULL" 2>&1); then t_fail "2: image check reports the mismatch" "passed: $out"
elif grep -q "pages-1.img: block 5 " <<<"$out"; then t_ok "2: image check reports it: $out"
else t_fail "2: image check reports the mismatch" "$out"; fi

# 3
flip "$FULL/pages-1.img" $((5 * 4096 + 123))
if t_rest "3 repaired" A "$FULL"; then
	grep -q "no manifest" <<<"$CR_ERR" && t_fail "3: no warning" "$CR_ERR"
	t_wl_verify "3" A "$D0"
fi

# 4: a diff against FULL (tracking since the restore), its parent corrupted
t_wl_write "4" A 200
wl_do A verify >/dev/null
t_wl_verify "4 before" A
D1=$WL_DIGEST
DIFF=$A/img/diff
t_ckpt "4 diff" A "$DIFF" --parent-path ../full
cr_gone A
if [ "$(img_field "$DIFF" parent_image_id)" = "$(img_field "$FULL" image_id)" ]; then
	t_ok "4: a diff against full ($(img_own_pages "$DIFF") pages of its own)"
else t_fail "4: a diff against full" "$(img_json "$DIFF")"; fi
IMG=$DIFF
# the workload's pages: the largest pages file of the parent
BIG=$(basename "$(ls -S "$FULL"/pages-*.img | head -n1)")
flip "$FULL/$BIG" $((77 * 4096))
refused "4 parent flipped" "$FULL/$BIG" "block 77 "
no_container "4"
flip "$FULL/$BIG" $((77 * 4096))
if t_rest "4 repaired" A "$DIFF"; then t_wl_verify "4" A "$D1"; fi
z A delete -f "$CR_CID" >/dev/null 2>&1
cr_gone A

# 5: runc with stock CRIU writes no manifest (node B: runc's container
# writes its own wl/pid)
cr_node B
RUNC_ROOT=$CR_T/runc-state
STOCK=$CR_TOP/build/stock/bin/criu
if ! command -v runc >/dev/null || [ ! -x "$STOCK" ]; then
	t_skip "5: runc image (runc or build/stock/bin/criu missing)"
else
	echo 0 >"$CR_T/.seq"
	cr_pipes
	runc --root "$RUNC_ROOT" run -d --bundle "$CR_T/B/bundle" "$CR_CID" <&"$CR_IN" >&"$CR_OUT" 2>&"$CR_OUT"
	for ((i = 0; i < 300; i++)); do [ -s "$CR_T/B/bundle/rootfs/wl/pid" ] && break; sleep 0.1; done
	# wl_do finds the workload by the state of node B: runc's state is elsewhere
	RIMG=$CR_T/B/img/runc
	if out=$(runc --root "$RUNC_ROOT" --criu "$STOCK" checkpoint --image-path "$RIMG" "$CR_CID" 2>&1); then
		t_ok "5: runc checkpoint"
		if [ ! -e "$RIMG/manifest.json" ] && t_rest "5 runc image" B "$RIMG"; then
			if grep -q "no manifest" <<<"$CR_ERR"; then t_ok "5: warned: $(grep "no manifest" <<<"$CR_ERR" | head -n1)"
			else t_fail "5: a warning that nothing was verified" "'$CR_ERR'"; fi
			t_wl_verify "5" B
		fi
	else
		t_fail "5: runc checkpoint" "$out"
	fi
	runc --root "$RUNC_ROOT" delete -f "$CR_CID" >/dev/null 2>&1
	cr_delete B
fi

# 6: a pages file a pagemap references, gone
cp -a "$A/img/good" "$A/img/nopages"
rm -f "$A/img/nopages/pages-1.img"
if out=$("$ZANSHIN" image check "$A/img/nopages" 2>&1); then t_fail "6: image check notices pages-1.img missing" "$out"
elif grep -q "pages-1.img" <<<"$out" && grep -qi "missing" <<<"$out"; then t_ok "6: $out"
else t_fail "6: image check names the missing pages-1.img" "$out"; fi

# 7: CRIU killed mid-dump into a reused --image-path (on a loaded machine
# the dump may end before the poll sees it writing: then again, 4 tries)
for try in 1 2 3 4; do
	rm -rf "$FULL"
	cp -a "$A/img/good" "$FULL"
	t_rest "7 setup${try#1}" A "$FULL"
	t_wl_write "7" A 500
	BEFORE=$(tree_sum "$FULL")
	# a full dump (no store: no automatic diff)
	("$ZANSHIN" --root "$A/state" --remnant-root none checkpoint --image-path "$FULL" "$CR_CID" >"$CR_T/ck7.out" 2>&1 </dev/null) &
	ZPID=$!
	killed=""
	for ((i = 0; i < 2000; i++)); do
		# the runtime's own CRIU child (never another test's), writing pages
		sib=$(ls -d "$A"/img/.full.zanshin-dump-* 2>/dev/null | head -n1)
		if [ -n "$sib" ] && [ "$(stat -c %s "$sib"/pages-*.img 2>/dev/null | head -n1)" -gt 0 ] 2>/dev/null; then
			for c in $(pgrep -P "$(pgrep -P $ZPID -x zanshin || echo $ZPID)" 2>/dev/null) $(pgrep -P $ZPID 2>/dev/null); do
				[ "$(cat /proc/"$c"/comm 2>/dev/null)" = criu ] && kill -KILL "$c" && killed=$c
			done
			[ -n "$killed" ] && break
		fi
		sleep 0.005
	done
	wait $ZPID
	rc=$?
	[ $rc -eq 0 ] || break
	t_diag "7: try $try: the dump ended before CRIU could be killed"
	cr_gone A
done
if [ -n "$killed" ] && [ $rc -ne 0 ]; then t_ok "7: CRIU ($killed) killed mid-dump, checkpoint failed: $(tail -n1 "$CR_T/ck7.out" | cut -c1-200)"
else t_fail "7: CRIU killed mid-dump" "killed '$killed', rc $rc: $(cat "$CR_T/ck7.out")"; fi
if [ "$(tree_sum "$FULL")" = "$BEFORE" ]; then t_ok "7: the old image is unchanged"
else t_fail "7: the old image is unchanged" "$(ls -la "$FULL")"; fi
if ls -d "$A"/img/.full.zanshin-dump-* >/dev/null 2>&1; then t_fail "7: no partial dump left" "$(ls -a "$A/img")"
else t_ok "7: no partial dump left"; fi
z A delete -f "$CR_CID" >/dev/null 2>&1
cr_gone A
if t_rest "7 old image" A "$FULL"; then
	grep -q "no manifest" <<<"$CR_ERR" && t_fail "7: verified" "$CR_ERR"
	t_wl_verify "7" A "$D0"
fi

# 8: a full checkpoint into the reused directory succeeds and replaces it
# whole; the sibling a runtime killed mid-dump left (its pid gone) is removed
t_wl_write "8" A 100
wl_do A verify >/dev/null
t_wl_verify "8 before" A
D8=$WL_DIGEST
sleep 0 &
dead=$!
wait $dead
mkdir -p "$A/img/.full.zanshin-dump-$dead"
echo stale >"$A/img/.full.zanshin-dump-$dead/pages-1.img"
OLDID=$(img_field "$FULL" image_id)
if out=$("$ZANSHIN" --root "$A/state" --remnant-root none checkpoint --image-path "$FULL" "$CR_CID" 2>&1 </dev/null); then
	t_ok "8: full checkpoint into the reused --image-path"
else t_fail "8: full checkpoint into the reused --image-path" "$out"; fi
cr_gone A
if [ -e "$A/img/.full.zanshin-dump-$dead" ]; then t_fail "8: the stale sibling is removed" "$(ls -a "$A/img")"
else t_ok "8: the stale sibling is removed"; fi
if [ "$(img_field "$FULL" image_id)" != "$OLDID" ] && [ -s "$FULL/dump.log" ] &&
	"$ZANSHIN" image check "$FULL" | grep -q "1 image(s) verified"; then
	t_ok "8: a new image with its manifest and CRIU's log"
else t_fail "8: a new image with its manifest and CRIU's log" "$(ls "$FULL")"; fi
if t_rest "8" A "$FULL"; then t_wl_verify "8" A "$D8"; fi
cr_delete A
t_done
