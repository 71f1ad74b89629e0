#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A lazy restore from --image-path checks the image as it is served
# (lib/lazy_verify.c, criu-patches 0042; docs/lazy-restore.md "Verified as
# served"): before CRIU starts, every file but the tasks' pages images and
# the pages CRIU restores before the tasks resume; every other page by its
# block digest in the fault server, just before it is copied in.
#
#   1. a full image and a diff (both with manifest.blocks): a lazy restore
#      of the chain runs, its server checks the pages images of both
#      levels, every page verifies;
#   2. one byte flipped in a page CRIU restores eagerly (the diff's first
#      present page without PE_LAZY): refused before anything runs,
#      naming the file and the block; no container, no server left;
#   3. one byte flipped in a lazily served page of the parent level: the
#      container runs, the server finds the block when it serves it, kills
#      the container and says which block; the workload never answers;
#  3b. the same for the first page the prefetch serves (found while CRIU
#      finishes the restore): refused by name or killed just after, never a
#      hang;
#   4. control: the same flip in a copy of the chain without manifests
#      (served unchecked, as runc's images are) reaches the workload, whose
#      verify fails, so 3 would have seen a wrong page;
#   5. the parent's manifest without manifest.blocks: that level is hashed
#      whole before the tasks resume: the same flip is refused, and a clean
#      copy restores and verifies;
#   6. `criu lazy-pages --lazy-block-digests` with a malformed list does not
#      start.
# The image files are unchanged by every restore (tree_sum).
. "$(dirname "$0")/lib.sh"
CR_MIB=${LAZY_MIB:-64}
cr_setup lazy-verify

cr_node A
img=$CR_T/A/img
pick=$CR_TOP/tests/cr/pagemap-pick.py
log() { echo "$CR_T/A/state/.lazy-work/$CR_CID/lazy-pages.log"; }

# t_refused NAME IMGDIR PATTERN: a lazy restore of IMGDIR fails, its error
# matching PATTERN, and leaves no container ("N: no container left").
t_refused() {
	local rc
	cr_restore A "$2" --lazy
	rc=$?
	if [ $rc -ne 0 ] && grep -q "$3" <<<"$CR_ERR"; then t_ok "$1"; else
		t_fail "$1" "status $rc" "$CR_ERR"
	fi
	[ -z "$(cr_status A)" ] && t_ok "${1%%:*}: no container left" ||
		t_fail "${1%%:*}: no container left" "status $(cr_status A)"
}

# the chain: full (written 512 pages), d1 (256 more)
t_run A
t_wl_write "0" A 512
t_wl_verify "0: before the full checkpoint" A || { t_done; exit; }
t_ckpt "0: full" A "$img/full" || { t_done; exit; }
cr_gone A
t_rest "0: eager restore of full" A "$img/full" || { t_done; exit; }
t_wl_write "0" A 256
t_wl_verify "0: before the diff" A || { t_done; exit; }
d1=$WL_DIGEST
t_ckpt "0: diff" A "$img/d1" --parent-path ../full || { t_done; exit; }
cr_gone A
sum0=$(tree_sum "$img")

# ---- 1. verified as served
t_rest "1: lazy restore of d1 -> full" A "$img/d1" --lazy || { t_done; exit; }
if grep -q "checked against the block digests given for 4 pages image(s)" "$(log)"; then
	t_ok "1: the server checks the pages images of both levels (2 tasks x 2 levels)"
else
	t_fail "1: the server checks the pages images of both levels" "$(grep -i 'digest' "$(log)")"
fi
t_wl_verify "1: during the prefetch" A "$d1"
wait_for 60 lazy_filled A && t_ok "1: every page filled" || t_fail "1: every page filled" "$(tail -n 5 "$(log)")"
t_wl_verify "1: after the prefetch" A "$d1"
cr_delete A

# ---- 2. a page CRIU restores before the tasks resume
read -r f blk va < <(python3 "$pick" eager "$img/d1") || cr_die "no eager page in $img/d1"
t_diag "2: flipping $img/d1/$f block $blk (page $va)"
flip "$img/d1/$f" $((blk * PAGE + 100))
t_refused "2: refused before anything ran, naming $f block $blk" "$img/d1" \
	"$f: block $blk (bytes $((blk * PAGE)) to .*) differs from the manifest"
[ -z "$(lazy_server_all "$img/d1")" ] && t_ok "2: no fault server left" ||
	t_fail "2: no fault server left" "$(lazy_server_all "$img/d1")"
flip "$img/d1/$f" $((blk * PAGE + 100))
cr_delete A

# ---- 3. a lazily served page of the parent level
read -r f blk va < <(python3 "$pick" lazy "$img/full" "$img/d1") || cr_die "no lazy page of $img/full"
t_diag "3: flipping $img/full/$f block $blk (page $va)"
flip "$img/full/$f" $((blk * PAGE + 100))
if cr_restore A "$img/d1" --lazy; then
	t_ok "3: restore --lazy runs the container (the page is checked when served)"
else
	t_diag "3: the restore returned an error (the server killed the tasks first): $CR_ERR"
fi
dead() { [ "$(cr_status A)" != running ] || ! wl_host_pid A >/dev/null; }
if wait_for 20 dead; then t_ok "3: the container is killed"; else
	t_fail "3: the container is killed" "status $(cr_status A)"
fi
if grep -q "$f of image level 1: block $blk (bytes $((blk * PAGE)) to .*) differs from its digest: the image is corrupt" "$(log)"; then
	t_ok "3: the server names $f block $blk of the parent level"
else
	t_fail "3: the server names $f block $blk of the parent level" "$(grep -i 'error' "$(log)" | tail -n 5)"
fi
no_server() { [ -z "$(lazy_server_all "$img/d1")" ]; }
if wait_for 20 no_server; then t_ok "3: the fault server ends with the container"; else
	t_fail "3: the fault server ends with the container" "$(lazy_server_all "$img/d1")"
fi
if out=$(wl_do A verify 2>&1); then t_fail "3: the workload never answers" "$out"; else
	grep -q ' FAIL' <<<"$out" && t_fail "3: the workload never read the flipped page" "$out" ||
		t_ok "3: the workload never answers ($out)"
fi
cr_delete A

# ---- 3b. the first page the prefetch serves: found while CRIU still
# finishes the restore (it may be the restore that fails, or the container
# that is killed just after); either way a clear outcome, never a hang (a
# task killed while CRIU traced it once left CRIU waiting for ever)
read -r f2 blk2 va2 < <(python3 "$pick" lazy-first "$img/full" "$img/d1") || cr_die "no lazy page of $img/full"
flip "$img/full/$f2" $((blk2 * PAGE + 100))
hung=0 refused=0 killed=0 other=""
for i in 1 2 3 4 5 6; do
	cr_pipes
	CR_ERR=$(timeout 60 "$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$CR_T/A/store" restore -d \
		--image-path "$img/d1" --bundle "$CR_T/A/bundle" --lazy "$CR_CID" <&"$CR_IN" 2>&1 >&"$CR_OUT")
	rc=$?
	if [ $rc = 124 ]; then
		hung=$((hung + 1))
	elif [ $rc != 0 ] && grep -q "restore refused: the image does not match its manifest: the fault server found $f2 of image level 1: block $blk2 " <<<"$CR_ERR"; then
		refused=$((refused + 1))
	elif [ $rc = 0 ] && wait_for 20 dead && grep -q "block $blk2 .*the image is corrupt" "$(log)"; then
		killed=$((killed + 1))
	else
		other+=" [$i: status $rc: $CR_ERR]"
	fi
	cr_delete A
done
if [ $hung = 0 ] && [ -z "$other" ]; then
	t_ok "3b: a corrupt first prefetched page, 6 restores: $refused refused naming block $blk2, $killed killed after the start, none hung"
else
	t_fail "3b: a corrupt first prefetched page: no hang, a clear outcome" "hung $hung, refused $refused, killed $killed;$other"
fi
flip "$img/full/$f2" $((blk2 * PAGE + 100))

# ---- 4. control: the same flip, served unchecked
mkdir -p "$CR_T/A/plain"
cp -a "$img/full" "$img/d1" "$CR_T/A/plain/"
rm -f "$CR_T"/A/plain/*/manifest.* "$CR_T"/A/plain/*/lineage.json
t_rest "4: lazy restore of the chain without manifests" A "$CR_T/A/plain/d1" --lazy || { t_done; exit; }
out=$(wl_do A verify 2>&1)
if grep -q ' FAIL' <<<"$out"; then t_ok "4: without the check the flipped page reaches the workload ($out)"; else
	t_fail "4: without the check the flipped page reaches the workload" "$out"
fi
cr_delete A
flip "$img/full/$f" $((blk * PAGE + 100))
rm -rf "$CR_T/A/plain"
sum1=$(tree_sum "$img")
[ "$sum0" = "$sum1" ] && t_ok "1-4: the image files are unchanged by the restores" ||
	t_fail "1-4: the image files are unchanged by the restores" "$sum0 != $sum1"

# ---- 5. a level whose manifest has no manifest.blocks is hashed whole
mkdir -p "$CR_T/A/noblk"
cp -a "$img/full" "$img/d1" "$CR_T/A/noblk/"
nb=$CR_T/A/noblk/full
jq 'del(.blocks) | .files |= map(select(.name != "manifest.blocks"))' "$nb/manifest.json" >"$nb/m.new" &&
	mv "$nb/m.new" "$nb/manifest.json" && rm "$nb/manifest.blocks"
flip "$nb/$f" $((blk * PAGE + 100))
t_refused "5: refused before the tasks resume (the level hashed whole)" "$CR_T/A/noblk/d1" \
	"$nb/$f: .*differs from the manifest"
cr_delete A
flip "$nb/$f" $((blk * PAGE + 100))
t_rest "5: the clean copy restores" A "$CR_T/A/noblk/d1" --lazy || { t_done; exit; }
if grep -q "checked against the block digests given for 4 pages image(s)" "$(log)"; then
	t_ok "5: every pages image listed for the server (2 with digests, 2 hashed before)"
else
	t_fail "5: every pages image listed for the server" "$(grep -i 'digest' "$(log)")"
fi
t_wl_verify "5: the clean copy" A "$d1"
cr_delete A

# ---- 6. a malformed list
printf 'zanshin-lzblk1\n\0\1\0\0\0\0\0\0\0' >"$CR_T/bad-list"
mkdir -p "$CR_T/w6"
if timeout 20 "$CR_TOP/build/bin/criu" lazy-pages --images-dir "$img/d1" --work-dir "$CR_T/w6" \
	--lazy-block-digests "$CR_T/bad-list" --log-file lp.log >/dev/null 2>&1; then
	t_fail "6: a malformed --lazy-block-digests list: the server does not start" "it ran"
elif grep -q "is not a block digest list" "$CR_T/w6/lp.log"; then
	t_ok "6: a malformed --lazy-block-digests list: the server does not start"
else
	t_fail "6: a malformed --lazy-block-digests list: the server does not start" "$(tail -n 3 "$CR_T/w6/lp.log")"
fi
t_done
