#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A container's Bundle through three nodes, and what a refused move leaves
# (docs/agent.md "A move, end to end", Bundle): nodes A, B, C on this
# machine (tests/agent/lib.sh).
#   1. A→B→C→A (stop-copy): B receives the Bundle and forwards it to C
#      with the digest it had on A (the digest counts config.json as a held
#      Bundle keeps it); the move back to A, which holds that Bundle (its
#      own), sends none; memory verified on A with the digest it left with;
#   2. a hostile move refused (a manifest that lies) for a container the
#      target never held leaves no trace in its store: no empty
#      containers/ID/generations directory, the store's tree unchanged.
# The workload is not commanded on B and C: a container that writes to its
# rootfs changes its Bundle (the rootfs tar differs), which then travels
# as a new Bundle.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/lib.sh"
MIB=32
CR_MIB=$MIB
AG_IOT=5
cr_setup agent-hops
# mount points in the image: running a container leaves its rootfs as it was
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
ag_node A 1
ag_node B 2
ag_node C 3
ag_start A B C || ag_die "agent A"
ag_start B A C || ag_die "agent B"
ag_start C A B || ag_die "agent C"
t_ok "three agents run"

t_run A
t_wl_verify "start on A" A || { t_done; exit; }
d=$WL_DIGEST

stat_of() { jq -r ".$1" <<<"$STATS"; }
# src_digest NODE: the Bundle digest of the newest move NODE sent (its
# journal record)
src_digest() {
	local f
	for f in $(ls -t "$CR_T/$1/agent/moves/"*.json 2>/dev/null); do
		[ "$(jq -r .role "$f")" = source ] && { jq -r '.bundle_digest // empty' "$f"; return; }
	done
}
# hop FROM TO: a stop-copy move with --print-stats into $STATS
hop() {
	if STATS=$(zm "$1" migrate "$CR_CID" --to "$2" --print-stats 2>"$CR_T/migrate.err"); then
		t_ok "$1→$2: migrate ($(stat_of bytes_bundle) bytes of Bundle)"
	else
		t_fail "$1→$2: migrate" "$(cat "$CR_T/migrate.err")"
		t_done
		exit
	fi
	t_diag "$STATS"
}

# ---- 1. A→B→C→A ----
hop A B
t_range "A→B: the Bundle is sent (B holds none)" "$(stat_of bytes_bundle)" 1
dA=$(src_digest A)
[ -f "$CR_T/B/agent/bundles/$dA/config.json" ] && t_ok "A→B: B holds the Bundle as $dA" ||
	t_fail "A→B: B holds the Bundle under A's digest" "$(ls "$CR_T/B/agent/bundles")"

hop B C
t_range "B→C: the Bundle is sent (C holds none)" "$(stat_of bytes_bundle)" 1
dB=$(src_digest B)
[ -n "$dA" ] && [ "$dB" = "$dA" ] && t_ok "B→C: B forwards the Bundle with the digest it had on A" ||
	t_fail "B→C: the forwarded Bundle keeps its digest" "A sent $dA, B sent $dB" \
		"$(diff <(jq -S . "$CR_T/A/bundle/config.json") <(jq -S . "$CR_T/B/agent/bundles/$dA/config.json") | head -n 20)"
[ -f "$CR_T/C/agent/bundles/$dA/config.json" ] && t_ok "B→C: C holds it as $dA" ||
	t_fail "B→C: C holds the Bundle under its digest" "$(ls "$CR_T/C/agent/bundles")"

hop C A
[ "$(stat_of bytes_bundle)" = 0 ] && t_ok "C→A: no Bundle sent (A holds it: the container's own)" ||
	t_fail "C→A: no Bundle sent" "$STATS"
[ "$(z A state "$CR_CID" | jq -r .bundle)" = "$CR_T/A/bundle" ] && t_ok "C→A: A restored it on its own Bundle" ||
	t_fail "C→A: restored on A's own Bundle" "$(z A state "$CR_CID" | jq -r .bundle)"
t_wl_verify "back on A" A "$d"

# ---- 2. a refused hostile move leaves no trace ----
fresh=zs-never-$$
before=$(tree_sum "$CR_T/B/store")
out=$(ip netns exec "${AG_NS}C" /usr/bin/python3 "$CR_TOP/tests/agent/hostile.py" "${AG_IP[B]}" $AG_PORT B \
	"$CR_T/pki/ca/ca.pem" "$CR_T/pki/C/C.pem" "$CR_T/pki/C/C-key.pem" lie "$fresh" 2>&1)
wait_log() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qF "$1" "$CR_T/B/agent.log" && return 0
		sleep 0.1
	done
	return 1
}
wait_log "the manifest says" && t_ok "hostile peer: a lying manifest for $fresh refused" ||
	t_fail "hostile peer: a lying manifest refused" "$out" "$(tail -n 3 "$CR_T/B/agent.log")"
for ((i = 0; i < 50; i++)); do
	[ "$(zm B moves --format json | jq -r '.[] | select(.id == "mhostile-lie") | .state')" = aborted ] && break
	sleep 0.1
done
[ ! -e "$CR_T/B/store/containers/$fresh" ] && t_ok "hostile peer: no containers/$fresh left in B's store" ||
	t_fail "hostile peer: nothing left for $fresh" "$(find "$CR_T/B/store/containers/$fresh")"
after=$(tree_sum "$CR_T/B/store")
[ "$before" = "$after" ] && t_ok "hostile peer: B's store unchanged" || t_fail "hostile peer: B's store unchanged" \
	"$(diff <(echo "$before") <(echo "$after") | head)"

for n in A B C; do
	t_check "store of $n verifies" z "$n" remnant verify "$CR_CID"
done
t_done
