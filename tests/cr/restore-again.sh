#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A diff restored a second time on a node whose store found its parent the
# first time (found by the soak, seed 20261210: a restore whose CRIU was
# killed, retried, was refused and the container lost). The first restore
# imports the diff on the stored parent; past remnant.max_chain the store
# merges that chain into one full generation and retires the parent. A
# second restore of the same --image-path (a retry after a failed restore,
# a rollback, a second copy) must find the image itself in the store.
#
#  1. node A: run, checkpoint (P, full; A's store keeps it).
#  2. node B: restore P with tracking, write, checkpoint a diff D on P.
#  3. D shipped to A, its parent link leading nowhere there; max_chain 1 on A: the
#     restore finds P in the store, imports D, the chain (2) is merged and
#     P retired; memory verifies.
#  4. delete, restore D again: from the store's merged generation of D;
#     memory verifies, the same state.
#  (A retry after CRIU SIGKILLed in the restore, as the soak did, is left
#  out: a kill early in the restore can leave the restore's root task
#  orphaned and asleep (see docs/soak.md); the soak covers kills.)
#  6. `remnant list` while generations are retired (renamed away, removed)
#     beside it: never fails.
. "$(dirname "$0")/lib.sh"
CR_MIB=64
cr_setup restore-again
cr_settings '{"remnant": {"max_chain": 1}}'
cr_node A
cr_node B
ID=$CR_CID
gens() { z "$1" remnant list "$ID" --format json | jq -c '[.[] | {name, kind, image_id}]'; }

# ---- 1 ----
t_run A
t_wl_verify "1: fresh on A" A || { t_done; exit; }
t_ckpt "1: P" A "$CR_T/A/img/p" || { t_done; exit; }
cr_gone A
P_ID=$(img_field "$CR_T/A/img/p" image_id)

# ---- 2 ----
mkdir -p "$CR_T/B/img"
cp -a "$CR_T/A/img/p" "$CR_T/B/img/p"
cp -a "$CR_T/A/bundle/rootfs/wl/." "$CR_T/B/bundle/rootfs/wl/"
t_rest "2: P on B" B "$CR_T/B/img/p" --track-mem || { t_done; exit; }
t_wl_write "2: on B" B 300
t_wl_verify "2: on B after the write" B || { t_done; exit; }
D_DIGEST=$WL_DIGEST
t_ckpt "2: D" B "$CR_T/B/img/d" --track-mem --parent-path ../p || { t_done; exit; }
cr_gone B
D_ID=$(img_field "$CR_T/B/img/d" image_id)
if [ "$(img_field "$CR_T/B/img/d" parent_image_id)" = "$P_ID" ]; then
	t_ok "2: D is a diff on P"
else
	t_fail "2: D is a diff on P" "$(img_json "$CR_T/B/img/d")"
fi

# ---- 3 ----
# its parent link (../p) leads nowhere on A: A keeps P in its store only
mv "$CR_T/A/img/p" "$CR_T/A/img/p.own"
cp -a "$CR_T/B/img/d" "$CR_T/A/img/d"
rm -f "$CR_T/A/img/d"/*.log
cp -a "$CR_T/B/bundle/rootfs/wl/." "$CR_T/A/bundle/rootfs/wl/"
t_rest "3: D on A (its parent from the store)" A "$CR_T/A/img/d" --track-mem || { t_done; exit; }
t_wl_verify "3: D on A" A "$D_DIGEST"
g=$(gens A)
if jq -e --arg p "$P_ID" --arg d "$D_ID" 'all(.[]; .image_id != $p) and any(.[]; .image_id == $d and .kind == "full")' <<<"$g" >/dev/null; then
	t_ok "3: A's store merged the chain past max_chain 1: D full, P retired ($g)"
else
	t_fail "3: A's store merged the chain (D full, P retired)" "$g"
fi

# ---- 4 ----
cr_delete A
before=$(tree_sum "$CR_T/A/img/d")
if t_rest "4: D on A again (P retired)" A "$CR_T/A/img/d" --track-mem; then
	t_wl_verify "4: D on A again" A "$D_DIGEST"
	[ "$(tree_sum "$CR_T/A/img/d")" = "$before" ] && t_ok "4: the --image-path directory is unchanged" ||
		t_fail "4: the --image-path directory is unchanged"
fi

# ---- 6 ----
# readers of the store take no lock: a generation retired by a gc or merge
# (renamed away, then removed) between the listing's readdir and its read
# of the generation is not listed, never an error (the soak, seed 20261211
# step 1507: a restore failed on "open …/lineage.json: No such file" while
# the previous checkpoint's background gc retired generations)
GD=$CR_T/A/store/containers/$ID/generations
src=$(find "$GD" -mindepth 1 -maxdepth 1 -name '0*' -type d | head -n1)
for ((i = 0; i < 300; i++)); do
	d=$GD/$(printf '9%03d-%012x' "$i" "$i")
	mkdir "$d" && cp -a "$src/lineage.json" "$d/"
done
(for ((i = 0; i < 300; i++)); do
	d=$GD/$(printf '9%03d-%012x' "$i" "$i")
	mv "$d" "$GD/.tmp-retired-${d##*/}" && rm -rf "$GD/.tmp-retired-${d##*/}"
done) &
retirer=$!
bad=0 lists=0
while kill -0 "$retirer" 2>/dev/null; do
	out=$(z A remnant list "$ID" --format json 2>&1) || { bad=$((bad + 1)); last=$out; }
	lists=$((lists + 1))
done
wait "$retirer"
if [ $bad = 0 ]; then
	t_ok "6: $lists listings while 300 generations were retired: none failed"
else
	t_fail "6: listings while generations are retired" "$bad of $lists failed, e.g. $last"
fi
t_done
