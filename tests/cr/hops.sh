#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Repeated migration between two "nodes" on this machine (issue 4, "How it
# is proven": A→B→A→B). A node is a (--root, --remnant-root) pair plus its
# own bundle and image tree (tests/cr/lib.sh). Each node keeps what it
# checkpoints under img/out/ and what it receives under img/in/.
#
# Seed: the container (zs-workload, 256 MiB, busybox) runs on A, is
# checkpointed in full and that image goes to both nodes' img/in/h0; A
# restores it with --track-mem. Then 4 hops A→B→A→B; at each hop:
#   - the workload writes K pages and verifies (digest D);
#   - checkpoint on the source with --track-mem --parent-path pointing at
#     the image the container was restored from on that node (img/in/hN);
#   - only the new diff directory is copied to the target's img/in/: its
#     parent link (../../in/hN) dangles there from hop 2 on (the target
#     holds that generation as img/out/hN and in its store), so the runtime
#     must find the parent in the target's remnant store by lineage id;
#   - restore --track-mem on the target; the memory verifies with digest D;
#   - bytes copied = the diff directory: diff pages <= K + C and bytes
#     <= (K + C) pages + 1 MiB of metadata (the full image is ~256 MiB).
# C = 128 as in tests/cr/cli.sh (measured there: 38-39).
. "$(dirname "$0")/lib.sh"
MIB=256
CR_MIB=$MIB
K=1024
C=128
HOPS=4
cr_setup hops

# ship FROM TO GEN: copy FROM's img/out/GEN to TO's img/in/GEN (logs left
# behind, the parent link copied as a link). Sets SHIP_BYTES.
ship() {
	mkdir -p "$CR_T/$2/img/in"
	cp -a "$CR_T/$1/img/out/$3" "$CR_T/$2/img/in/$3" || return 1
	rm -f "$CR_T/$2/img/in/$3"/*.log
	SHIP_BYTES=$(img_bytes "$CR_T/$2/img/in/$3")
	# the workload's command directory travels with the container
	rm -f "$CR_T/$2/bundle/rootfs/wl"/{ack,result,cmd}
	cp -a "$CR_T/$1/bundle/rootfs/wl/." "$CR_T/$2/bundle/rootfs/wl/"
}

cr_node A
cr_node B
cr_run A || { t_fail "seed: run on A" "$(cat "$CR_T/stdout.log")"; t_done; exit; }
t_wl_verify "seed: fresh on A" A || { t_done; exit; }
d=$WL_DIGEST
mkdir -p "$CR_T/B/img/in" "$CR_T/A/img/in" "$CR_T/A/img/out" "$CR_T/B/img/out"
t_ckpt "seed: full on A" A "$CR_T/A/img/in/h0" || { t_done; exit; }
full_bytes=$(img_bytes "$CR_T/A/img/in/h0")
cr_gone A
cp -a "$CR_T/A/img/in/h0" "$CR_T/B/img/in/h0" && rm -f "$CR_T/B/img/in/h0"/*.log
t_diag "seed: the full image ($full_bytes bytes) is on both nodes as img/in/h0"
t_rest "seed: on A" A "$CR_T/A/img/in/h0" --track-mem || { t_done; exit; }
t_wl_verify "seed: restored on A" A "$d" || { t_done; exit; }

from=A to=B
for ((hop = 1; hop <= HOPS; hop++)); do
	h="hop $hop $from→$to"
	prev=h$((hop - 1)) gen=h$hop
	t_wl_write "$h" "$from" $K || break
	t_wl_verify "$h: before checkpoint" "$from" || break
	d=$WL_DIGEST
	t_ckpt "$h" "$from" "$CR_T/$from/img/out/$gen" --track-mem --parent-path "../../in/$prev" || break
	cr_gone "$from" || t_fail "$h: container gone from $from" "status $(cr_status "$from")"
	dir=$CR_T/$from/img/out/$gen
	pages=$(img_field "$dir" pages)
	pid=$(img_field "$dir" parent_image_id)
	want=$(img_field "$CR_T/$from/img/in/$prev" image_id)
	if [ "$(img_field "$dir" full)" = false ] && [ -n "$pid" ] && [ "$pid" = "$want" ]; then
		t_ok "$h: a diff against the image restored from on $from ($prev)"
	else
		t_fail "$h: a diff against the image restored from on $from ($prev)" "$(img_json "$dir")" "want parent $want"
	fi
	t_range "$h: diff stores K..K+$C pages" "$pages" $K $((K + C))
	ship "$from" "$to" "$gen" || { t_fail "$h: copy the diff to $to" "cp failed"; break; }
	t_range "$h: bytes copied to $to (the diff only)" "$SHIP_BYTES" $((K * PAGE)) $(((K + C) * PAGE + 1048576))
	t_diag "$h: shipped $SHIP_BYTES bytes ($pages pages) instead of $full_bytes; parent link on $to:" \
		"$(readlink "$CR_T/$to/img/in/$gen/parent") ($([ -e "$CR_T/$to/img/in/$gen/parent" ] && echo resolves || echo dangles))"
	t_rest "$h: on $to" "$to" "$CR_T/$to/img/in/$gen" --track-mem || {
		t_diag "$(z "$to" remnant list --format json 2>&1 | jq -c '.[] | [.name, .image_id, .parent_image_id, .kind]' 2>&1)"
		break
	}
	t_wl_verify "$h: restored on $to" "$to" "$d" || break
	if [ "$from" = A ]; then from=B to=A; else from=A to=B; fi
done
[ "$hop" -gt "$HOPS" ] && t_ok "all $HOPS hops done"
# the stores verify after the hops
for n in A B; do
	gen=$(z "$n" remnant list --format json 2>/dev/null | jq -r 'sort_by(.name) | last | .name // empty')
	t_check "node $n: remnant verify of the newest generation ($gen)" z "$n" remnant verify "$CR_CID"
done
cr_delete "$from"
t_done
