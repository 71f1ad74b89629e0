#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Repeated migration (issue 5 item 3): a container running zs-workload (SIZE
# MiB) moves A→B→A→B… HOPS hops between two "nodes" on this machine: two
# runtime state roots, two bundles and two image stores, each node in its own
# network namespace, joined by a veth pair shaped with tc netem (both ends)
# to each LINK. The images really travel: tar | socat over TCP from the
# sending node's namespace to a socat | tar in the receiving one. Between
# hops the workload writes WRITE% of its pages.
#   runc     runc 1.1.5 + stock CRIU: every hop a full checkpoint, shipped whole
#   zanshin  restore --track-mem; the next checkpoint is
#            --track-mem --parent-path ../<generation it was restored from>:
#            only the diff is shipped (the receiver holds the older ones)
# Per hop: bytes shipped (the tar stream), checkpoint, transfer and restore
# time, and downtime = checkpoint start to restore end (no pre-copy: the
# container is frozen from the checkpoint until it resumes at the receiver).
# runc's image does not depend on WRITE, so runc runs once per size and link.
# Every restore is verified page by page (outside the timings).
# Environment: WARM (1: warm memory before each restore), SEPARATE (1: the
# sender's background store work is waited for before the restore, as on two
# machines; 0: it overlaps the restore), SIZES (MiB; full "512 2048", quick "128"), LINKS ("1gbit
# 100mbit-10ms"), WRITES (percent; full "0.1 1 10", quick "1"), HOPS (full
# 10, quick 3), RUNTIMES ("runc zanshin"), BENCH_QUICK, BENCH_TMP.
set -u
. "$(dirname "$0")/lib/bench.sh"
. "$BENCH_TOP/bench/lib/container.sh"
. "$BENCH_TOP/bench/lib/workload.sh"
if [ "$BENCH_MODE" = quick ]; then
	SIZES=${SIZES:-128} WRITES=${WRITES:-1} HOPS=${HOPS:-3}
else
	SIZES=${SIZES:-512 2048} WRITES=${WRITES:-0.1 1 10} HOPS=${HOPS:-10}
fi
LINKS=${LINKS:-1gbit 100mbit-10ms}
RUNTIMES=${RUNTIMES:-runc zanshin}
command -v socat >/dev/null || bench_die "socat missing (Debian package socat)"
for b in "$ZANSHIN" "$RUNC" "$STOCK_CRIU" "$WL"; do [ -x "$b" ] || bench_die "$b missing"; done

bench_begin migrate "Repeated migration: A→B→A… between two nodes, zanshin vs runc + stock CRIU" "$@"
bench_anchor "runc + stock CRIU"
NS_A=zsb$$a NS_B=zsb$$b
IP_A=10.203.$(($$ % 200)).1 IP_B=10.203.$(($$ % 200)).2
CID=bench-mig

RX_PID=""
cleanup() {
	local n
	if [ -n "$RX_PID" ]; then
		pkill -P "$RX_PID" 2>/dev/null
		kill "$RX_PID" 2>/dev/null
	fi
	for n in A B; do
		for r in zanshin runc; do rt "$r" "$BENCH_W/$n/state-$r" delete -f "$CID" >/dev/null 2>&1; done
	done
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS_A" && ip netns add "$NS_B" || bench_die "ip netns add failed"
ip link add zsb$$a0 netns "$NS_A" type veth peer name zsb$$b0 netns "$NS_B" || bench_die "veth failed"
ip -n "$NS_A" addr add "$IP_A/24" dev zsb$$a0 && ip -n "$NS_B" addr add "$IP_B/24" dev zsb$$b0 &&
	ip -n "$NS_A" link set zsb$$a0 up && ip -n "$NS_B" link set zsb$$b0 up &&
	ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up || bench_die "network setup failed"

# shape LINK: tc netem on both ends of the veth; where the kernel has no
# netem (CONFIG_NET_SCH_NETEM is not set on this machine's kernel), a token
# bucket (tbf) gives the rate and the delay is not emulated (noted once).
SHAPED_WITH=""
shape() {
	local q t
	case $1 in
	1gbit) q="rate 1gbit limit 100000" t="rate 1gbit burst 1mb latency 50ms" ;;
	100mbit-10ms) q="delay 10ms rate 100mbit limit 100000" t="rate 100mbit burst 256kb latency 50ms" ;;
	*) bench_die "unknown link $1" ;;
	esac
	# shellcheck disable=SC2086
	if ip netns exec "$NS_A" tc qdisc replace dev zsb$$a0 root netem $q 2>/dev/null; then
		ip netns exec "$NS_B" tc qdisc replace dev zsb$$b0 root netem $q || bench_die "tc netem $q failed"
		SHAPED_WITH+=" $1: netem $q;"
	else
		ip netns exec "$NS_A" tc qdisc replace dev zsb$$a0 root tbf $t &&
			ip netns exec "$NS_B" tc qdisc replace dev zsb$$b0 root tbf $t || bench_die "tc tbf $t failed"
		SHAPED_WITH+=" $1: NO netem in this kernel, tbf $t (rate only, the delay is not emulated);"
	fi
}

# ship FROM TO GEN: copy image directory GEN from node FROM's store to TO's
# over the link; sets SHIP_BYTES (tar stream) and SHIP_SECS.
ship() {
	local from=$1 to=$2 gen=$3 port=$((20000 + RANDOM % 20000)) ns_to ip_to ns_from i t0 t1
	ns_from=$NS_A ns_to=$NS_B ip_to=$IP_B
	[ "$from" = B ] && ns_from=$NS_B ns_to=$NS_A ip_to=$IP_A
	mkdir -p "$BENCH_W/$to/img"
	t0=$(date +%s%N)
	ip netns exec "$ns_to" bash -c "socat -u TCP-LISTEN:$port,bind=$ip_to,reuseaddr - | tar x -C '$BENCH_W/$to/img'" &
	RX_PID=$!
	local rx=$RX_PID
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$ns_to" ss -ltn 2>/dev/null | grep -q ":$port " && break
		sleep 0.02
	done
	ip netns exec "$ns_from" bash -c "tar c --warning=no-file-changed -C '$BENCH_W/$from/img' '$gen' | tee >(wc -c >'$BENCH_W/.bytes') | socat -u - TCP:$ip_to:$port" ||
		bench_die "sending $gen failed"
	wait "$rx" || bench_die "receiving $gen failed"
	RX_PID=""
	t1=$(date +%s%N)
	SHIP_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')
	for ((i = 0; i < 50; i++)); do [ -s "$BENCH_W/.bytes" ] && break; sleep 0.02; done
	SHIP_BYTES=$(cat "$BENCH_W/.bytes")
	rm -f "$BENCH_W/.bytes"
}

# The two nodes share this machine's two cores and memory. On two machines
# the sending node's background store work (keeping the generation it just
# wrote, merging a chain past max_chain: a new full generation) runs on the
# sender while the receiver restores; here it would run beside the
# receiver's restore. With SEPARATE=1 (default) the sender's store is
# settled (`zanshin remnant list` waits for its background work) after the
# transfer and before the restore; the time waited is recorded and left out
# of the downtime, as it would not be spent on the receiver. SEPARATE=0
# lets the two overlap (co-located nodes). runc leaves no background work.
SETTLE_SECS=0
settle_sender() {
	local t0
	SETTLE_SECS=0
	[ "$1" = zanshin ] && [ "${SEPARATE:-1}" = 1 ] || return 0
	t0=$(date +%s%N)
	rt zanshin "$BENCH_W/$2/state-zanshin" remnant list >/dev/null 2>&1 || bench_die "remnant list on node $2 failed"
	SETTLE_SECS=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.6f", (b - a) / 1e9}')
}

# scenario RT MIB LINK WRITE: HOPS hops; samples go to group "MIB MiB, LINK, WRITE% written".
scenario() {
	local r=$1 mib=$2 link=$3 wr=$4 n from=A to=B prev="" gen out digest t0 t1 k cfg
	local groups=("$mib MiB, $link, $wr% written") g
	cfg="runc + stock CRIU"
	[ "$r" = zanshin ] && cfg=zanshin
	# runc ships its whole image whatever was written: one run stands for every write rate
	if [ "$r" = runc ]; then
		groups=()
		for g in $WRITES; do groups+=("$mib MiB, $link, $g% written"); done
	fi
	k=$(wl_pages "$mib" "$wr")
	bench_settle_stores "$BENCH_W"
	rm -rf "$BENCH_W/A" "$BENCH_W/B"
	for n in A B; do
		c_bundle "$BENCH_W/$n/bundle" "$(C_WL_ARGS "$mib")"
		mkdir -p "$BENCH_W/$n/img"
	done
	rt "$r" "$BENCH_W/A/state-$r" run -d --bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
		bench_die "$r run failed: $(cat "$BENCH_W/err")"
	for ((n = 0; n < 600; n++)); do [ -s "$BENCH_W/A/bundle/rootfs/wl/pid" ] && break; sleep 0.1; done
	out=$(wl_do A "$r" verify) || bench_die "$r: workload does not verify: $out"
	for ((hop = 1; hop <= HOPS; hop++)); do
		out=$(wl_do "$from" "$r" write "$k") || bench_die "$r: write failed: $out"
		out=$(wl_do "$from" "$r" verify) || bench_die "$r: verify failed before hop $hop: $out"
		digest=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
		gen=h$hop
		local cargs=()
		[ "$r" = zanshin ] && [ -n "$prev" ] && cargs=(--track-mem --parent-path "../$prev")
		t0=$(date +%s%N)
		bench_time rt "$r" "$BENCH_W/$from/state-$r" checkpoint --image-path "$BENCH_W/$from/img/$gen" \
			"${cargs[@]}" "$CID" 2>"$BENCH_W/err" || bench_die "$r checkpoint (hop $hop) failed: $(tail -c 600 "$BENCH_W/err")"
		local cs=$BENCH_SECS
		rt "$r" "$BENCH_W/$from/state-$r" delete -f "$CID" >/dev/null 2>&1
		rm -f "$BENCH_W/$from/img/$gen"/*.log
		ship "$from" "$to" "$gen"
		# runc's full image is not needed once shipped (nor, below, once
		# restored): ten hops of them would fill the tmpfs (40 GB at 2 GiB)
		# and push later hops into memory the machine has not touched yet,
		# which slows them severalfold. zanshin keeps its generations: they
		# are the remnants the next hops' diffs build on.
		[ "$r" = runc ] && rm -rf "${BENCH_W:?}/$from/img/$gen"
		local rargs=()
		[ "$r" = zanshin ] && rargs=(--track-mem)
		rm -f "$BENCH_W/$to/bundle/rootfs/wl"/{ack,result,cmd}
		cp -a "$BENCH_W/$from/bundle/rootfs/wl/." "$BENCH_W/$to/bundle/rootfs/wl/"
		settle_sender "$r" "$from"
		warm_memory "$mib"
		bench_time rt "$r" "$BENCH_W/$to/state-$r" restore -d "${rargs[@]}" --image-path "$BENCH_W/$to/img/$gen" \
			--bundle "$BENCH_W/$to/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
			bench_die "$r restore (hop $hop) failed: $(tail -c 600 "$BENCH_W/err")"
		local rs=$BENCH_SECS
		t1=$(date +%s%N)
		[ "$r" = runc ] && rm -rf "${BENCH_W:?}/$to/img/$gen"
		for g in "${groups[@]}"; do
			bench_sample "$g" "$cfg" "bytes shipped" "$SHIP_BYTES" 1 "$hop"
			bench_sample "$g" "$cfg" "checkpoint (s)" "$cs" 1 "$hop"
			bench_sample "$g" "$cfg" "transfer (s)" "$SHIP_SECS" 1 "$hop"
			bench_sample "$g" "$cfg" "restore (s)" "$rs" 1 "$hop"
			bench_sample "$g" "$cfg" "downtime = total per hop (s)" "$(awk -v a="$t0" -v b="$t1" -v s="$SETTLE_SECS" 'BEGIN {printf "%.6f", (b - a) / 1e9 - s}')" 1 "$hop"
			[ "$r" = zanshin ] && [ "${SEPARATE:-1}" = 1 ] &&
				bench_sample "$g" "$cfg" "sender's background store work, waited for (s)" "$SETTLE_SECS" 1 "$hop"
		done
		out=$(wl_do "$to" "$r" verify) || bench_die "$r: restored memory wrong after hop $hop: $out"
		[[ $out == *"digest=$digest"* ]] || bench_die "$r: hop $hop restored another state ($out, want $digest)"
		bench_log "$r ${groups[0]} hop $hop: $SHIP_BYTES bytes, checkpoint $cs s, transfer $SHIP_SECS s, restore $rs s"
		prev=$gen
		if [ "$from" = A ]; then from=B to=A; else from=A to=B; fi
	done
	rt "$r" "$BENCH_W/$from/state-$r" delete -f "$CID" >/dev/null 2>&1
}

if [ "${SEPARATE:-1}" = 1 ]; then
	bench_note "separate machines emulated (SEPARATE=1): after each transfer and before the restore, the sending node's background store work (keeping the generation it wrote; from hop 5, merging its chain past max_chain into a new full generation) is waited for (\`zanshin remnant list\` settles the store), as on two machines it would run on the sender, not beside the receiver's restore; that wait is recorded per hop (\"sender's background store work, waited for\") and is not part of the downtime. SEPARATE=0 lets it overlap the restore (co-located nodes: one node's merge then slows the other's restore)"
else
	bench_note "co-located nodes (SEPARATE=0): the sending node's background store work (keeping, merging past max_chain) runs beside the receiving node's restore on the same two cores and memory"
fi
if [ "${WARM:-1}" = 1 ]; then
	bench_note "memory: right before each restore, for both runtimes, 1.25× the image's size of free memory is touched and freed (a tmpfs file written and removed): this VM returns free memory to the host (free page reporting, see \"Reading these numbers\"), and a restore into such memory pays a host fault per page (2 GiB: ~7 s instead of ~1.5 s). runc deletes its image right after sending it, which warms as much memory just before its restore; zanshin keeps its images (they are the remnant, here on tmpfs, in RAM), so without this step its restores ran into cold memory. WARM=0 leaves memory as it is"
else
	bench_note "memory: not warmed before restores (WARM=0): restores may run into memory this VM has returned to the host"
fi
bench_note "nodes: two runtime roots, bundles and image stores under $BENCH_W (tmpfs), network namespaces joined by a veth pair; shaped on both ends (see "link shaping used" below); transfer = \`tar c GEN | socat -u - TCP:peer\` into \`socat -u TCP-LISTEN | tar x\` in the peer's namespace; bytes shipped = the tar stream"
bench_note "container: busybox rootfs, init \`sh\` then \`sleep\`, \`zs-workload -m SIZE\` (one process, SIZE MiB filled with a verifiable pattern) as the memory; before each hop it writes WRITE% of its pages (\`write K\`); after each restore every page is verified and the state digest compared"
bench_note "zanshin: \`zanshin restore --track-mem\`, then \`zanshin checkpoint --track-mem --parent-path ../hN-1\` (hop 1: a plain checkpoint of the freshly started container); the receiver already holds every earlier generation (it sent or received it), so only the new diff travels. runc: \`runc --criu build/stock/bin/criu checkpoint\` / \`restore -d\`, a full image every hop. Per-hop values are single measurements; the tables pool the HOPS hops (the first hop is a full image for both)"
bench_note "sizes (MiB): $SIZES; links: $LINKS; writes (% of pages): $WRITES; hops: $HOPS; runtimes: $RUNTIMES (runc's image does not depend on the write rate: it runs once per size and link, writing at the first rate, and its samples stand in every write rate's group)"

for mib in $SIZES; do
	for link in $LINKS; do
		shape "$link"
		first=1
		for wr in $WRITES; do
			for r in $RUNTIMES; do
				if [ "$r" = runc ] && [ $first = 0 ]; then continue; fi
				# in a subshell: a failing runtime is reported, the others still run
				if ! (scenario "$r" "$mib" "$link" "$wr") 2>"$BENCH_W/scen.err"; then
					cat "$BENCH_W/scen.err" >&2
					bench_note "**FAILED**: $r, $mib MiB, $link, $wr% written: $(grep 'bench migrate:' "$BENCH_W/scen.err" | tail -n1 | cut -c1-400)"
					for n in A B; do rt "$r" "$BENCH_W/$n/state-$r" delete -f "$CID" >/dev/null 2>&1; done
					FAILED=1
				else
					cat "$BENCH_W/scen.err" >&2
				fi
			done
			first=0
		done
	done
done

# goals at 1% written: bytes per hop <= 3% of runc's, total per hop over 100 Mbit/s <= 10% of runc's
for mib in $SIZES; do
	w1=""
	for wr in $WRITES; do [ "$wr" = 1 ] && w1=1; done
	if [ -n "$w1" ] && [[ " $RUNTIMES " == *" runc "* ]] && [[ " $RUNTIMES " == *" zanshin "* ]]; then
		for link in $LINKS; do
			bench_goal "$mib MiB, $link, 1% written: bytes per hop ≤ 3% of runc's" "$mib MiB, $link, 1% written" "bytes shipped" zanshin "$mib MiB, $link, 1% written" "runc + stock CRIU" 0.03
		done
		# issue 4: later checkpoints <= 30% of runc's time, restore with tracking <= 1.05x runc's restore
		link=${LINKS%% *}
		bench_goal "$mib MiB, 1% written: checkpoint time ≤ 30% of runc's (issue 4)" "$mib MiB, $link, 1% written" "checkpoint (s)" zanshin "$mib MiB, $link, 1% written" "runc + stock CRIU" 0.30
		bench_goal "$mib MiB, 1% written: restore --track-mem (of the diff) ≤ 1.05× runc's restore (issue 4)" "$mib MiB, $link, 1% written" "restore (s)" zanshin "$mib MiB, $link, 1% written" "runc + stock CRIU" 1.05
		[[ " $LINKS " == *" 100mbit-10ms "* ]] &&
			bench_goal "$mib MiB, 100 Mbit/s, 1% written: total time per hop ≤ 10% of runc's" "$mib MiB, 100mbit-10ms, 1% written" "downtime = total per hop (s)" zanshin "$mib MiB, 100mbit-10ms, 1% written" "runc + stock CRIU" 0.10
	fi
	for link in $LINKS; do
		bench_plot "migrate-$mib-$link-bytes.svg" hops "bytes shipped" "$mib MiB, $link: bytes shipped per hop" "^$mib MiB, $link,"
		bench_plot "migrate-$mib-$link-time.svg" hops "downtime = total per hop (s)" "$mib MiB, $link: total time (= downtime) per hop" "^$mib MiB, $link,"
	done
done
bench_note "link shaping used:$SHAPED_WITH"
bench_end
exit "${FAILED:-0}"
