#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Bad input to checkpoint/restore (issue 4, "How it is proven", bad input):
# each case gets a clear error (or, for corrupt pages, never silently wrong
# memory), and a check that nothing stored changed: a checksum of the node's
# remnant store and of the image directories before and after; for
# --leave-running cases the container keeps running and its memory verifies.
#
# Node X runs the container (zs-workload, 64 MiB, busybox), checkpoints it
# (base, --leave-running), is restored from base with --track-mem (so its
# lineage is base's image id) and stays running for the checkpoint cases.
# Node U runs an unrelated container (another lineage). Restore cases run
# on node R: its own --root, X's remnant store.
. "$(dirname "$0")/lib.sh"
MIB=64
CR_MIB=$MIB
cr_setup bad-input
X=$CR_T/X
I=$X/img

# zr ARGS: the runtime on node R with X's remnant store.
zr() { "$ZANSHIN" --root "$CR_T/R/state" --remnant-root "$X/store" "$@"; }

# sums: the generations stored when mark ran, and every image directory we
# made. A generation added since (a restore keeps what it restored; a
# checkpoint whose copy to --image-path failed stays in the store, its
# message says so) is listed by t_unchanged, not counted as a change.
sums() { tree_sum $GENS "$I" "$CR_T/U/img"; }
gens() { ls -d "$X"/store/containers/*/generations/*/ 2>/dev/null | tr '\n' ' '; }
# rr IMGDIR [ID]: restore on R with stdio on pipes (a detached container
# must not hold the caller's command substitution open); messages on stdout.
rr() {
	local rc
	zr restore -d --image-path "$1" --bundle "$X/bundle" "${2-$CR_CID}" <&"$RR_IN" >&"$RR_OUT" 2>"$CR_T/rr.err"
	rc=$?
	cat "$CR_T/rr.err"
	return $rc
}


# t_unchanged NAME BEFORE: nothing stored changed.
t_unchanged() {
	local now
	z X remnant list >/dev/null 2>&1 # waits for any keeping in progress
	now=$(sums)
	local g
	for g in $(gens); do
		[[ " $GENS " == *" $g "* ]] || t_diag "$1: new generation in the store: ${g#"$X"/store/} ($(jq -r .kind "$g/lineage.json" 2>/dev/null))"
	done
	if [ "$now" = "$2" ]; then t_ok "$1: nothing stored changed"; else
		t_fail "$1: nothing stored changed" "checksum $2 before, $now after" \
			"$(cd "$X/store" && find . -newer "$CR_T/.mark" ! -path './containers/*/bundle/*' | head -20)"
	fi
}

# t_running NAME: X's container still runs and its memory is the one before.
t_running() {
	if [ "$(cr_status X)" = running ]; then t_ok "$1: container still running"; else
		t_fail "$1: container still running" "status '$(cr_status X)'"
	fi
	t_wl_verify "$1: after the failure" X "$D"
}

# t_refused NAME CMD...: CMD fails; its message is in $OUT.
t_refused() {
	local name=$1
	shift
	if OUT=$("$@" 2>&1 </dev/null); then
		t_fail "$name: refused" "command succeeded: $*" "$OUT"
		return 1
	fi
	t_ok "$name: refused ($(tail -n1 <<<"$OUT" | cut -c1-220))"
}

mark() { touch "$CR_T/.mark"; z X remnant list >/dev/null 2>&1; GENS=$(gens); BEFORE=$(sums); }

cr_pipes
# this pair stays open for every restore below: the next cr_pipes must not close it
RR_IN=$CR_IN RR_OUT=$CR_OUT CR_IN='' CR_OUT='' CR_IN_PID=''
cr_node X
mkdir -p "$I" "$CR_T/R/state"
ln -s "$X/bundle" "$CR_T/R/bundle" # wl_do R finds the workload's /wl there
cr_run X || { t_fail "run on X" "$(cat "$CR_T/stdout.log")"; t_done; exit; }
t_wl_verify "X: fresh" X || { t_done; exit; }
t_ckpt "X base" X "$I/base" || { t_done; exit; }
cr_gone X
t_rest "X base" X "$I/base" --track-mem || { t_done; exit; }
t_wl_verify "X: restored with tracking" X || { t_done; exit; }
D=$WL_DIGEST
BASE_ID=$(img_field "$I/base" image_id)

# ---- another lineage: an unrelated container's checkpoint on node U ----
cr_node U
mkdir -p "$CR_T/U/img"
if cr_run U && t_ckpt "U (unrelated) base" U "$CR_T/U/img/other"; then
	OTHER_ID=$(img_field "$CR_T/U/img/other" image_id)
	mark
	t_refused "parent from another lineage" z X checkpoint --leave-running --track-mem \
		--image-path "$I/foreign" --parent-path ../../../U/img/other "$CR_CID"
	if grep -q "$OTHER_ID" <<<"$OUT" && grep -q "$BASE_ID" <<<"$OUT"; then
		t_ok "parent from another lineage: the message names both ids"
	else
		t_fail "parent from another lineage: the message names both ids" \
			"want $OTHER_ID (the given parent) and $BASE_ID (the container's lineage) in:" "$OUT"
	fi
	rm -rf "$I/foreign" # what a refused checkpoint left at --image-path is not stored
	t_unchanged "parent from another lineage" "$BEFORE"
	t_running "parent from another lineage"
else
	t_fail "U (unrelated) run + checkpoint" "$CR_ERR $(tail -n 3 "$CR_T/stdout.log")"
fi

# ---- a tracked diff of X against base (the store keeps it); X keeps
# running: this dump is its tracking baseline from now on (a later failed
# export does not change that: the dump itself succeeded) ----
t_wl_write "X" X 64
t_wl_verify "X: before diff" X
D=$WL_DIGEST
t_ckpt "X diff" X "$I/diff" --leave-running --track-mem --parent-path ../base

# ---- full disk during checkpoint (--leave-running) ----
mkdir -p "$CR_T/full"
if mount -t tmpfs -o size=8m tmpfs "$CR_T/full"; then
	mark
	t_refused "full disk (8 MiB tmpfs, 64 MiB workload)" z X checkpoint --leave-running \
		--image-path "$CR_T/full/img" "$CR_CID"
	if grep -qiE "no space|ENOSPC|disk full|full" <<<"$OUT"; then
		t_ok "full disk: the error says so"
	else
		t_fail "full disk: the error says so" "$OUT" "$(grep -i error "$CR_T/full/img/dump.log" 2>/dev/null | head -5)"
	fi
	t_unchanged "full disk" "$BEFORE"
	t_running "full disk"
	umount -l "$CR_T/full"
	# the same to a roomy tmpfs: is it the space or the other filesystem?
	mkdir -p "$CR_T/roomy"
	mount -t tmpfs -o size=512m tmpfs "$CR_T/roomy" &&
		t_ckpt "--image-path on another filesystem (512 MiB tmpfs)" X "$CR_T/roomy/img" --leave-running
	t_running "--image-path on another filesystem"
	umount -l "$CR_T/roomy"
else
	t_skip "full disk" "cannot mount a tmpfs"
fi

# ---- bad container ids ----
mark
for id in ../x "" x/../../y .; do
	t_refused "checkpoint, container id '$id'" z X checkpoint --leave-running --image-path "$I/badid" "$id"
	t_refused "restore, container id '$id'" rr "$I/base" "$id"
done
rm -rf "$I/badid"
t_unchanged "bad container ids" "$BEFORE"
t_running "bad container ids"

# ---- X goes away (its diff was taken above, with --leave-running) ----
cr_delete X

# ---- restore cases, on node R (X's store) ----
no_container() {
	if [ -z "$(zr state "$CR_CID" 2>/dev/null)" ]; then t_ok "$1: no container left behind"; else
		t_fail "$1: no container left behind" "$(zr state "$CR_CID" 2>&1)"
		zr delete -f "$CR_CID" >/dev/null 2>&1
	fi
}

mark
t_refused "missing image dir" rr "$I/does-not-exist"
grep -q "does-not-exist" <<<"$OUT" && t_ok "missing image dir: the error names it" ||
	t_fail "missing image dir: the error names it" "$OUT"
no_container "missing image dir"
t_unchanged "missing image dir" "$BEFORE"

# truncated inventory
cp -a "$I/base" "$I/trunc"
rm -f "$I/trunc"/*.log
sz=$(stat -c %s "$I/trunc/inventory.img")
truncate -s $((sz / 2)) "$I/trunc/inventory.img"
mark
t_refused "truncated inventory: image check" "$ZANSHIN" image check "$I/trunc"
t_refused "truncated inventory: restore" rr "$I/trunc"
no_container "truncated inventory"
t_unchanged "truncated inventory" "$BEFORE"

# unknown CRIU version: img_version (InventoryEntry field 1) set to 99
cp -a "$I/base" "$I/version"
rm -f "$I/version"/*.log
if /usr/bin/python3 - "$I/version/inventory.img" <<'EOF'; then
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
for off in (4, 8):  # magic(s), then u32 size + InventoryEntry
    (n,) = struct.unpack_from('<I', b, off)
    if off + 4 + n == len(b) and b[off + 4] == 0x08 and b[off + 5] < 0x80:
        b[off + 5] = 99
        open(p, 'wb').write(b)
        sys.exit(0)
sys.exit('img_version not found')
EOF
	mark
	t_refused "unknown CRIU image version: image check" "$ZANSHIN" image check "$I/version"
	grep -qiE "version" <<<"$OUT" && t_ok "unknown CRIU image version: the error says version" ||
		t_fail "unknown CRIU image version: the error says version" "$OUT"
	if OUT=$(rr "$I/version" 2>&1); then
		t_wl_verify "unknown CRIU image version: restore accepted, memory" R
		zr delete -f "$CR_CID" >/dev/null 2>&1
		t_fail "unknown CRIU image version: restore refused" "restore succeeded"
	else
		t_ok "unknown CRIU image version: restore refused ($(tail -n1 <<<"$OUT" | cut -c1-200))"
	fi
	no_container "unknown CRIU image version"
	t_unchanged "unknown CRIU image version" "$BEFORE"
else
	t_fail "unknown CRIU image version: edit inventory.img" "img_version not found"
fi

# corrupt pages: flip bytes in the middle of the largest pages file of a
# self-contained copy (the diff, flattened by the runtime)
"$ZANSHIN" image flatten "$I/diff" "$I/corrupt" >/dev/null 2>&1 || cp -a "$I/base" "$I/corrupt"
rm -f "$I/corrupt"/*.log
t_diag "corrupt pages: the copy has $(ls "$I/corrupt" | grep -c -x -e manifest.json -e lineage.json) of manifest.json/lineage.json"
pf=$(ls -S "$I/corrupt"/pages-*.img | head -1)
psz=$(stat -c %s "$pf")
for off in $((psz / 3)) $((psz / 2)) $((psz * 2 / 3)); do
	printf '\xde\xad\xbe\xef' | dd of="$pf" bs=1 seek="$off" conv=notrunc status=none
done
mark
# CRIU images carry no checksums: flipped bytes inside a pages file of a
# directory that did not come from the store (no manifest) are not visible
# to `image check`, which checks structure. What must hold is that wrong
# memory is never restored silently (below), and that a stored generation
# is verified by its manifest (the next case).
if OUT=$("$ZANSHIN" image check "$I/corrupt" 2>&1); then
	t_diag "corrupt pages: image check passes (structure intact; no checksums in CRIU images)"
else
	t_diag "corrupt pages: image check refused: $OUT"
fi
if OUT=$(rr "$I/corrupt" 2>&1); then
	# restored: the workload must detect the damage
	if out=$(wl_do R verify); then
		t_fail "corrupt pages: never silently wrong memory" "restore succeeded and the workload verified"
	else
		t_ok "corrupt pages: restore succeeded but the workload detects the damage"
	fi
	zr delete -f "$CR_CID" >/dev/null 2>&1
else
	t_ok "corrupt pages: restore refused ($(tail -n1 <<<"$OUT" | cut -c1-200))"
fi
no_container "corrupt pages"
t_unchanged "corrupt pages" "$BEFORE"

# corrupt the stored generation of base: remnant verify must catch it, and a
# restore of the diff whose parent link dangles (so the parent comes from
# the store) must not give wrong memory
gen=$(z X remnant list --format json 2>/dev/null | jq -r --arg id "$BASE_ID" 'map(select(.image_id == $id)) | last | .path // empty')
if [ -n "$gen" ] && pf=$(ls -S "$gen"/pages-*.img 2>/dev/null | head -1) && [ -n "$pf" ]; then
	t_check "store: remnant verify of base's generation passes before the damage" z X remnant verify "$CR_CID" "$BASE_ID"
	printf '\xde\xad\xbe\xef' | dd of="$pf" bs=1 seek=$(($(stat -c %s "$pf") / 2)) conv=notrunc status=none
	t_refused "store: remnant verify of a corrupt generation" z X remnant verify "$CR_CID" "$BASE_ID"
	[ -L "$I/diff/parent" ] || t_diag "no diff at $I/diff (its checkpoint failed): the next case restores nothing useful"
	mkdir -p "$CR_T/lonely"
	cp -a "$I/diff" "$CR_T/lonely/diff" && rm -f "$CR_T/lonely/diff"/*.log
	if OUT=$(rr "$CR_T/lonely/diff" 2>&1); then
		if out=$(wl_do R verify); then
			t_fail "store: restore through a corrupt stored parent" "restore succeeded and memory verified: damage not detected"
		else
			t_ok "store: restore through a corrupt stored parent: the workload detects the damage"
		fi
		zr delete -f "$CR_CID" >/dev/null 2>&1
	else
		t_ok "store: restore through a corrupt stored generation refused ($(tail -n1 <<<"$OUT" | cut -c1-200))"
	fi
else
	t_fail "store: a generation to damage" "remnant list gave no generation with pages"
fi
t_done
