#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Compression and page deltas on zanshind's wire (issue 13 item 6):
# three nodes on this machine (tests/agent/lib.sh), the memory workload
# with compressible pages (zs-workload -e 64: 16 random words per page,
# the rest a short pattern; a rewrite changes only those words), verified
# page by page after every move.
#   1. --compress none: file data as it is (bytes_data = bytes_raw);
#   2. a diff with --compress zstd: the changed pages travel as deltas
#      against the parent pages the target holds, fewer bytes on the wire
#      than the pages written;
#   3. a full image with --compress zstd:1: bytes on the wire < 1/3 of raw;
#   4. --compress auto on a diff, and over a 100 Mbit/s link (tbf): it
#      compresses;
#   5. chunks from a hostile peer (corrupted frame, a valid frame of other
#      bytes, lengths that lie, a delta without a parent, an unknown
#      encoding): refused, nothing committed;
#   6. --compress bad input.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/lib.sh"
MIB=64
CR_MIB=$MIB
K=1024 # pages written between moves
cr_setup agent-compress
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
ag_node A 1
ag_node B 2
ag_node C 3
ag_node D 4
# compressible pages: 64 random words of 512 in each, a rewrite changes 1
jq '.process.args[2] |= sub("zs-workload -d /wl"; "zs-workload -d /wl -e 64")' "$CR_T/A/bundle/config.json" \
	>"$CR_T/config.json" && mv "$CR_T/config.json" "$CR_T/A/bundle/config.json" || ag_die "cannot edit A's config"
ag_start A B C D || ag_die "agent A"
ag_start B A C || ag_die "agent B"
ag_start C A B || ag_die "agent C"
ag_start D A B || ag_die "agent D"
t_ok "four agents run"

t_run A
t_wl_verify "start on A" A || { t_done; exit; }

# move FROM TO ARGS...: migrate with --print-stats into $STATS; the
# workload follows
move() {
	local from=$1 to=$2 src
	shift 2
	src=$(wl_dir "$from")
	STATS=$(zm "$from" migrate "$CR_CID" --to "$to" --print-stats "$@" 2>"$CR_T/migrate.err")
	local rc=$?
	[ $rc -eq 0 ] && wl_follow "$src" "$to"
	return $rc
}
stat_of() { jq -r ".$1" <<<"$STATS"; }
# step NAME FROM TO ARGS...: the move, the container runs on TO with the
# same memory
step() {
	local h=$1 from=$2 to=$3 d
	shift 3
	t_wl_verify "$h: before" "$from" || return 1
	d=$WL_DIGEST
	if ! move "$from" "$to" "$@"; then
		t_fail "$h: migrate $*" "$(cat "$CR_T/migrate.err")" "$STATS"
		return 1
	fi
	t_ok "$h: migrate $* ($(stat_of bytes_wire) bytes on the wire, ratio $(stat_of ratio), $(stat_of compress_levels))"
	t_diag "$STATS"
	[ "$(cr_status "$to")" = running ] && [ -z "$(cr_status "$from")" ] && t_ok "$h: runs on $to only" ||
		t_fail "$h: runs on $to only" "$to: $(cr_status "$to"), $from: $(cr_status "$from")"
	t_wl_verify "$h: after" "$to" "$d"
}
full=$((MIB * 1048576))
written=$((K * PAGE))

# ---- 1. none: the bytes as they are ----
h="1 A→B --compress none"
step "$h" A B --compress none || { t_done; exit; }
[ "$(stat_of compress)" = none ] && [ "$(stat_of compress_levels)" = none ] && t_ok "$h: compress none recorded" ||
	t_fail "$h: compress none recorded" "$STATS"
t_range "$h: file data sent raw (bytes_data = bytes_raw)" "$(stat_of bytes_data)" "$(stat_of bytes_raw)" "$(stat_of bytes_raw)"
t_range "$h: the full image's pages (bytes_pages)" "$(stat_of bytes_pages)" $((full * 9 / 10)) $((full * 11 / 10))
t_range "$h: bytes on the wire >= the raw bytes" "$(stat_of bytes_wire)" "$(stat_of bytes_raw)"

# ---- 2. a diff, zstd: the changed pages travel as deltas ----
h="2 B→A --compress zstd"
t_wl_write "$h" B $K
step "$h" B A --compress zstd || { t_done; exit; }
[ "$(stat_of diff)" = true ] && t_ok "$h: a diff" || t_fail "$h: a diff" "$STATS"
t_range "$h: the diff's pages (bytes_pages >= $K pages)" "$(stat_of bytes_pages)" "$written" $((written * 12 / 10 + 262144))
t_range "$h: the written pages travelled as deltas (bytes_delta)" "$(stat_of bytes_delta)" "$written"
t_range "$h: fewer bytes on the wire than the pages written" "$(stat_of bytes_wire)" 1 $((written - 1))
z A remnant verify "$CR_CID" >/dev/null 2>&1 && t_ok "$h: A's store verifies (the rebuilt pages committed)" ||
	t_fail "$h: A's store verifies" "$(z A remnant verify "$CR_CID" 2>&1 | tail -n 3)"

# ---- 3. a full image, zstd:1 ----
h="3 A→C --compress zstd:1"
step "$h" A C --compress zstd:1 || { t_done; exit; }
[ "$(stat_of diff)" = false ] && t_ok "$h: a full image (C holds nothing)" || t_fail "$h: a full image" "$STATS"
[ "$(stat_of compress_levels)" = zstd:1 ] && t_ok "$h: level 1 used" || t_fail "$h: level 1 used" "$STATS"
raw=$(stat_of bytes_raw)
t_range "$h: raw file data >= the image's pages" "$raw" $((full * 9 / 10))
t_range "$h: bytes on the wire < 1/3 of the raw bytes" "$(stat_of bytes_wire)" 1 $((raw / 3))

# ---- 4. auto: a diff, then over a 100 Mbit/s link ----
h="4 C→A --compress auto (default)"
t_wl_write "$h" C $K
step "$h" C A || { t_done; exit; }
[ "$(stat_of compress)" = auto ] && [ "$(stat_of diff)" = true ] && t_ok "$h: auto, a diff" || t_fail "$h: auto, a diff" "$STATS"
t_range "$h: bytes on the wire <= 1.2 x the pages written + 256 KiB" "$(stat_of bytes_wire)" 1 $((written * 12 / 10 + 262144))

# ---- the generations the target lacks (item 5) ----
# B holds G1 (step 1) and G2 (its own checkpoint, step 2); A's store holds
# G3 (step 3, a diff against G2) and G4 (step 4, a diff against G3), the
# container's baseline: A sends G3 and G4, then a diff against G4
h="4b A→B (B lacks two generations)"
t_wl_write "$h" A $K
step "$h" A B || { t_done; exit; }
[ "$(stat_of diff)" = true ] && t_ok "$h: a diff, not a full image" || t_fail "$h: a diff" "$STATS"
t_range "$h: the 2 generations B lacked were sent (generations_sent)" "$(stat_of generations_sent)" 2 2
t_range "$h: pages sent < 1/4 of the full image" "$(stat_of bytes_pages)" 1 $((full / 4))
z B remnant verify "$CR_CID" >/dev/null 2>&1 && t_ok "$h: B's store verifies" ||
	t_fail "$h: B's store verifies" "$(z B remnant verify "$CR_CID" 2>&1 | tail -n 3)"
h="4c B→A"
t_wl_write "$h" B $K
step "$h" B A || { t_done; exit; }
[ "$(stat_of diff)" = true ] && [ "$(stat_of generations_sent)" = 0 ] && t_ok "$h: a diff" || t_fail "$h: a diff" "$STATS"

h="5 A→D auto at 100 Mbit/s"
tc qdisc add dev "zv$$D" root tbf rate 100mbit burst 64kb latency 50ms || ag_die "cannot shape D's link"
step "$h" A D || { t_done; exit; }
tc qdisc del dev "zv$$D" root 2>/dev/null
[ "$(stat_of diff)" = false ] && [ "$(stat_of compress_levels)" != none ] && t_ok "$h: compressed ($(stat_of compress_levels))" ||
	t_fail "$h: compressed" "$STATS"
r=$(jq -r '.ratio * 100 | floor' <<<"$STATS")
t_range "$h: compression ratio x100 >= 300" "$r" 300
[ "$(stat_of warm)" = false ] && t_ok "$h: a new connection (A had none to D)" || t_fail "$h: a new connection" "$STATS"

# ---- warm connections (item 6): A keeps its connection to D ----
h="6 D→A"
t_wl_write "$h" D 64
step "$h" D A || { t_done; exit; }
h="7 A→D again within ${AG_IDLE:-30} s"
t_wl_write "$h" A 64
step "$h" A D || { t_done; exit; }
[ "$(stat_of warm)" = true ] && t_ok "$h: on the warm connection A kept to D (no handshake)" ||
	t_fail "$h: on the warm connection" "$STATS" "$(grep -i warm "$CR_T/A/agent.log" | tail -n 3)"
[ "$(stat_of diff)" = true ] && t_ok "$h: a diff" || t_fail "$h: a diff" "$STATS"
# the other end goes away (D's agent and its children killed, restarted,
# the container on A meanwhile): the next move reconnects
step "8a D→A" D A || { t_done; exit; }
ag_kill D
ag_start D A B || ag_die "agent D restarted"
h="8 A→D after D's agent restarted"
step "$h" A D || { t_done; exit; }
[ "$(stat_of warm)" = false ] && t_ok "$h: a new connection (the warm one was gone)" ||
	t_fail "$h: a new connection" "$STATS"
here=D

# ---- 6. hostile chunks (an authenticated peer, C, to B) ----
tgt=B
before=$(tree_sum "$CR_T/$tgt/store")
mkdir -p "$CR_T/hostile"
for sc in "corrupt:(zstd|the manifest says)" "other-bytes:the manifest says" "longer:remain" \
	"size-lie:header says" "delta-nobase:which never moved container" "encoding:unknown encoding" \
	"store-full:a generation to store that is not a diff"; do
	name=${sc%%:*} want=${sc#*:}
	out=$(ip netns exec "${AG_NS}C" /usr/bin/python3 "$CR_TOP/tests/agent/hostile_chunks.py" "${AG_IP[$tgt]}" \
		$AG_PORT "$tgt" "$CR_T/pki/ca/ca.pem" "$CR_T/pki/C/C.pem" "$CR_T/pki/C/C-key.pem" "$name" \
		"$CR_CID" "$CR_T/hostile" 2>&1)
	sleep 0.2
	# the answer, or the target's log when the connection was reset
	# before the answer was read (data in flight when the target closed)
	if grep -qE "$want" <<<"$out" || grep "mhostile-$name" "$CR_T/$tgt/agent.log" | grep -qE "$want"; then
		t_ok "hostile chunks, $name: refused ($want)"
	else
		t_fail "hostile chunks, $name: refused ($want)" "answer: $out" "$(tail -n 3 "$CR_T/$tgt/agent.log")"
	fi
done
# deltas against a generation B really holds (a full one): a right delta
# is rebuilt and received, a corrupted one refused; neither is committed
gen=$(for g in "$CR_T/$tgt/store/containers/$CR_CID/generations"/*/; do
	[ -e "$g/parent" ] || [ ! -f "$g/pages-1.img" ] || { echo "${g%/}"; break; }
done)
if [ -n "$gen" ]; then
	gid=$(img_field "$gen" image_id)
	# as A, which moved the container to and from B (C never did: deltas
	# against B's pages are refused to C, above)
	out=$(ip netns exec "${AG_NS}C" /usr/bin/python3 "$CR_TOP/tests/agent/hostile_chunks.py" "${AG_IP[$tgt]}" \
		$AG_PORT "$tgt" "$CR_T/pki/ca/ca.pem" "$CR_T/pki/C/C.pem" "$CR_T/pki/C/C-key.pem" digests \
		"$CR_CID" "$CR_T/hostile" "$gen" "$gid" 2>/dev/null | tr -d '\0')
	# any node may hold the container now: digests are given (docs/agent.md)
	grep -q '"pagemaps"' <<<"$out" && t_ok "the digests of $tgt's pages are given to C (not their contents)" ||
		t_fail "the digests of $tgt's pages are given to C" "$out"
	for sc in "digests:\"pagemaps\"" "delta-nobase:parent pages this node does not hold" "delta-good:\"received\"" \
		"delta-corrupt:the manifest says"; do
		name=${sc%%:*} want=${sc#*:}
		out=$(ip netns exec "${AG_NS}C" /usr/bin/python3 "$CR_TOP/tests/agent/hostile_chunks.py" "${AG_IP[$tgt]}" \
			$AG_PORT "$tgt" "$CR_T/pki/ca/ca.pem" "$CR_T/pki/A/A.pem" "$CR_T/pki/A/A-key.pem" "$name" \
			"$CR_CID" "$CR_T/hostile" "$gen" "$gid" 2>&1 | tr -d '\0')
		sleep 0.2
		if grep -qF "$want" <<<"$out" || grep "mhostile-$name" "$CR_T/$tgt/agent.log" | grep -qF "$want"; then
			t_ok "hostile chunks, $name against $(basename "$gen"): $want"
		else
			t_fail "hostile chunks, $name: $want" "answer: $out" "$(tail -n 3 "$CR_T/$tgt/agent.log")"
		fi
	done
else
	t_fail "hostile chunks: a full generation of $CR_CID on $tgt" "$(ls "$CR_T/$tgt/store/containers/$CR_CID/generations")"
fi
after=$(tree_sum "$CR_T/$tgt/store")
[ "$before" = "$after" ] && t_ok "hostile chunks: $tgt's store unchanged" ||
	t_fail "hostile chunks: $tgt's store unchanged" "$(find "$CR_T/$tgt/store" -newer "$CR_T/$tgt/agent.sock" | head)"
left=$(find "$CR_T/$tgt/store" -name '.tmp-*' | head -n 3)
[ -z "$left" ] && t_ok "hostile chunks: no temporary generation left" || t_fail "hostile chunks: no temporary generation left" "$left"
n=$(zm "$tgt" moves --format json | jq '[.[] | select(.id | startswith("mhostile")) | select(.state != "aborted")] | length')
t_range "hostile chunks: every move begun is aborted" "$n" 0 0

# ---- a diff flattened against what the target holds (item 5) ----
# B holds generations of the container from steps 1-4c; D's chain (from
# the full image of step 5 on) does not lead to any of them: D asks B for
# the digests of its newest one and sends a diff against it
h="9 D→B (B holds an older generation, not the chain)"
t_wl_write "$h" D 256
step "$h" D B || { t_done; exit; }
[ "$(stat_of diff)" = true ] && t_ok "$h: a diff, not a full image" || t_fail "$h: a diff" "$STATS"
t_range "$h: pages B held were not sent (pages_from_target)" "$(stat_of pages_from_target)" $((MIB * 256 / 2))
t_range "$h: pages sent < 1/4 of the full image" "$(stat_of bytes_pages)" 1 $((full / 4))
z B remnant verify "$CR_CID" >/dev/null 2>&1 && t_ok "$h: B's store verifies" ||
	t_fail "$h: B's store verifies" "$(z B remnant verify "$CR_CID" 2>&1 | tail -n 3)"
here=B

# ---- 7. bad input ----
for bad in lz4 zstd:0 zstd:99 ""; do
	if out=$(zm "$here" migrate "$CR_CID" --to A --compress "$bad" 2>&1); then
		t_fail "--compress '$bad' is refused" "$out"
	else
		grep -q -- "--compress" <<<"$out" && t_ok "--compress '$bad' is refused: $out" || t_fail "--compress '$bad' is refused" "$out"
	fi
done
[ "$(cr_status "$here")" = running ] && t_ok "still running on $here" || t_fail "still running on $here" "$(cr_status "$here")"
t_wl_verify "memory at the end" "$here"

for n in A B C D; do
	t_check "node $n: remnant verify" z "$n" remnant verify "$CR_CID"
done
cr_delete "$here"
t_done
