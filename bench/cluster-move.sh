#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Moves between two nodes through their agents (issue 13, "Performance";
# docs/agent.md "What remains" item 10): a container running zs-workload
# (SIZE MiB) moves A→B→A… MOVES times with `zanshin migrate`, two zanshind
# in network namespaces of their own, mutual TLS; between moves it writes
# WRITE% of its pages. Baseline in the same run, on the same links: runc +
# stock CRIU, checkpoint → the image tarred whole over TLS (socat, OpenSSL,
# the same certificates) → restore (what Podman's checkpoint --export /
# restore --import amounts to), BASE_MOVES times (its image does not depend
# on what was written: every move ships it whole).
# Links (tbf on both ends of the veth pair):
#   1gbit          1 Gbit/s
#   100mbit-20ms   100 Mbit/s, 20 ms round trip: no sch_netem in this kernel,
#                  so a user-space relay (bench/lib/delay-relay.py) in the
#                  sending node's namespace delays each direction by 10 ms;
#                  both the agents and the baseline's TLS stream go through it
# Then, unshaped (both ends on this machine's two cores), full-image moves
# with TLS and with --insecure-loopback (plaintext): what transfer,
# verification and the store's commit sustain.
# Every move is verified: the workload checks every page and its digest.
#   bench/cluster-move.sh [--mode MODE] [--compress C]   (passed to migrate)
#                         [--lazy-restore]   (both agents: targets restore lazily)
# Environment: SIZES (MiB; full "512 2048", quick "128"), LINKS, MOVES (full
# 10, quick 4), BASE_MOVES (full 3, quick 2), WRITE (1), TP_MIB (full 1024,
# quick 256), TP_RUNS (full 3, quick 2; 0: no unshaped moves), PROFILE (1:
# perf profile of the unshaped receive), BENCH_QUICK, BENCH_TMP, BENCH_KEEP.
# With --lazy-restore the result is bench/results/cluster-move-lazy.json.
set -u
. "$(dirname "$0")/lib/bench.sh"
. "$BENCH_TOP/bench/lib/container.sh"
. "$BENCH_TOP/bench/lib/workload.sh"
MIGRATE_ARGS=()
AGENT_ARGS=()
while [ $# -gt 0 ]; do
	case $1 in
	--mode | --compress)
		[ $# -ge 2 ] || bench_die "$1 needs a value"
		MIGRATE_ARGS+=("$1" "$2")
		shift 2
		;;
	--lazy-restore)
		AGENT_ARGS+=(--lazy-restore)
		shift
		;;
	*) bench_die "unknown argument $1 (--mode MODE, --compress C, --lazy-restore)" ;;
	esac
done
if [ "$BENCH_MODE" = quick ]; then
	SIZES=${SIZES:-128} MOVES=${MOVES:-4} BASE_MOVES=${BASE_MOVES:-2} TP_MIB=${TP_MIB:-256} TP_RUNS=${TP_RUNS:-2}
else
	SIZES=${SIZES:-512 2048} MOVES=${MOVES:-10} BASE_MOVES=${BASE_MOVES:-3} TP_MIB=${TP_MIB:-1024} TP_RUNS=${TP_RUNS:-3}
fi
LINKS=${LINKS:-1gbit 100mbit-20ms}
WRITE=${WRITE:-1}
PROFILE=${PROFILE:-1}
AGENT=${AGENT:-$BENCH_TOP/build/bin/zanshind}
CERT=$BENCH_TOP/scripts/zanshin-cert.sh
RELAY=$BENCH_TOP/bench/lib/delay-relay.py
for b in "$ZANSHIN" "$AGENT" "$RUNC" "$STOCK_CRIU" "$WL"; do [ -x "$b" ] || bench_die "$b missing (make all criu-stock)"; done
for c in socat certtool jq tc; do command -v $c >/dev/null || bench_die "$c missing (scripts/deps.sh)"; done

NAME=cluster-move
# the lazy targets' run is a result of its own (issue 15), beside the eager one
[ ${#AGENT_ARGS[@]} -gt 0 ] && NAME=cluster-move-lazy
bench_begin "$NAME" "Moves between two nodes through zanshind (mutual TLS) vs runc + stock CRIU with the image sent whole over TLS" "${MIGRATE_ARGS[@]}" "${AGENT_ARGS[@]}"
bench_anchor "runc + stock CRIU, image over TLS"
BASE="runc + stock CRIU, image over TLS"
BASE_RESTORE="baseline: its restore alone"
ZCFG="zanshin${MIGRATE_ARGS[*]:+ ${MIGRATE_ARGS[*]}}${AGENT_ARGS[*]:+ ${AGENT_ARGS[*]}}"
NS=zcm$$
IP_A=10.205.$(($$ % 200)).1 IP_B=10.205.$(($$ % 200)).2
DEV_A=zcm$$a DEV_B=zcm$$b
APORT=7427 BPORT=7600 # agents; the baseline's TLS receiver
declare -A AGENT_PID RELAY_PIDS IP NSN DEV
IP[A]=$IP_A IP[B]=$IP_B NSN[A]=${NS}A NSN[B]=${NS}B DEV[A]=$DEV_A DEV[B]=$DEV_B
CID=cm$$
other() { [ "$1" = A ] && echo B || echo A; }

# ---- nodes --------------------------------------------------------------
cleanup() {
	local n r
	agents_stop
	relays_stop
	for n in A B; do
		for r in zanshin runc; do rt "$r" "$BENCH_W/$n/state-$r" delete -f "$CID" >/dev/null 2>&1; done
		rt_node "$n" delete -f "$CID" >/dev/null 2>&1
		for r in $(seq 1 $((TP_RUNS + 1))); do rt_node "$n" delete -f "$CID-tp$r" >/dev/null 2>&1; done
	done
	ip netns del "${NSN[A]}" 2>/dev/null
	ip netns del "${NSN[B]}" 2>/dev/null
	bench_settle_stores "$BENCH_W"
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "${NSN[A]}" && ip netns add "${NSN[B]}" || bench_die "ip netns add failed"
ip link add "$DEV_A" netns "${NSN[A]}" type veth peer name "$DEV_B" netns "${NSN[B]}" || bench_die "veth failed"
for n in A B; do
	ip -n "${NSN[$n]}" addr add "${IP[$n]}/24" dev "${DEV[$n]}" && ip -n "${NSN[$n]}" link set "${DEV[$n]}" up &&
		ip -n "${NSN[$n]}" link set lo up || bench_die "network setup of node $n failed"
done
# the agents run as a copy named zs-bench-agent: the profile below tells
# them from other agents on this machine by that name
mkdir -p "$BENCH_W/bin" && cp "$AGENT" "$BENCH_W/bin/zs-bench-agent" || bench_die "cannot copy $AGENT"
"$CERT" ca --out "$BENCH_W/pki/ca" >/dev/null || bench_die "cannot make the CA"
for n in A B; do
	"$CERT" node "$n" --ca "$BENCH_W/pki/ca" --out "$BENCH_W/pki/$n" >/dev/null || bench_die "cannot make $n's certificate"
done

# the node's runtime (the agent's --root and --remnant-root)
rt_node() {
	local n=$1
	shift
	"$ZANSHIN" --root "$BENCH_W/$n/zstate" --remnant-root "$BENCH_W/$n/zstore" "$@"
}
inns() {
	local n=$1
	shift
	nsenter --net="/run/netns/${NSN[$n]}" -- "$@"
}
# inns_bg NODE CMD...: in the background; $! is CMD's own pid (nsenter execs)
inns_bg() {
	local n=$1
	shift
	(exec nsenter --net="/run/netns/${NSN[$n]}" -- "$@") &
}

# shape LINK: tbf on both veth ends ("none": unshaped).
shape() {
	local t n
	case $1 in
	1gbit) t="rate 1gbit burst 1mb latency 50ms" ;;
	100mbit-20ms) t="rate 100mbit burst 256kb latency 50ms" ;;
	none) t="" ;;
	*) bench_die "unknown link $1" ;;
	esac
	for n in A B; do
		inns "$n" tc qdisc del dev "${DEV[$n]}" root 2>/dev/null
		# shellcheck disable=SC2086
		[ -z "$t" ] || inns "$n" tc qdisc replace dev "${DEV[$n]}" root tbf $t || bench_die "tc tbf $t failed"
	done
	LINK=$1
}
link_rate_bps() { case $1 in 1gbit) echo 1000000000 ;; 100mbit-20ms) echo 100000000 ;; *) echo 0 ;; esac; }
link_delay_ms() { case $1 in 100mbit-20ms) echo 10 ;; *) echo 0 ;; esac; }

wait_port() { # NODE ADDR PORT
	local i
	for ((i = 0; i < 200; i++)); do
		inns "$1" ss -ltnH 2>/dev/null | awk '{print $4}' | grep -qx "$2:$3" && return 0
		sleep 0.02
	done
	return 1
}

# relays N: in each node's namespace, N:(port+1000) → the other node's
# port, for the agent and the baseline's receiver, delayed per direction.
relays_start() {
	local n o p d
	d=$(link_delay_ms "$LINK")
	[ "$d" != 0 ] || return 0
	for n in A B; do
		o=$(other "$n")
		for p in $APORT $BPORT; do
			inns_bg "$n" "$BENCH_PY" "$RELAY" "${IP[$n]}:$((p + 1000))" "${IP[$o]}:$p" "$d" </dev/null >/dev/null 2>>"$BENCH_W/relay.log"
			RELAY_PIDS[$n$p]=$!
			wait_port "$n" "${IP[$n]}" $((p + 1000)) || bench_die "the delaying relay did not start: $(tail -n 3 "$BENCH_W/relay.log")"
		done
	done
}
relays_stop() {
	local k
	for k in "${!RELAY_PIDS[@]}"; do kill "${RELAY_PIDS[$k]}" 2>/dev/null && wait "${RELAY_PIDS[$k]}" 2>/dev/null; done
	RELAY_PIDS=()
}
# where node N reaches the other node's PORT on this link
peer_addr() {
	local o
	o=$(other "$1")
	if [ "$(link_delay_ms "$LINK")" != 0 ]; then echo "${IP[$1]}:$(($2 + 1000))"; else echo "${IP[$o]}:$2"; fi
}

# agents_start [EXTRA...]: fresh agents on both nodes (their state, store
# and runtime root under $BENCH_W/N, emptied first).
agents_start() {
	local n i
	for n in A B; do
		mkdir -p "$BENCH_W/$n/agent" "$BENCH_W/$n/zstate" "$BENCH_W/$n/zstore"
		inns_bg "$n" "$BENCH_W/bin/zs-bench-agent" --runtime "$ZANSHIN" --node "$n" --listen "${IP[$n]}:$APORT" --cert "$BENCH_W/pki/$n/$n.pem" \
			--key "$BENCH_W/pki/$n/$n-key.pem" --ca "$BENCH_W/pki/ca/ca.pem" --root "$BENCH_W/$n/zstate" \
			--remnant-root "$BENCH_W/$n/zstore" --state-dir "$BENCH_W/$n/agent" --socket "$BENCH_W/$n/agent.sock" \
			--peer "$(other "$n")=$(peer_addr "$n" $APORT)" "${AGENT_ARGS[@]}" "$@" </dev/null >>"$BENCH_W/$n/agent.log" 2>&1
		AGENT_PID[$n]=$!
	done
	for n in A B; do
		for ((i = 0; i < 200; i++)); do
			[ -S "$BENCH_W/$n/agent.sock" ] && break
			kill -0 "${AGENT_PID[$n]}" 2>/dev/null || bench_die "agent $n did not start: $(tail -n 3 "$BENCH_W/$n/agent.log")"
			sleep 0.05
		done
	done
}
agents_stop() {
	local n
	for n in "${!AGENT_PID[@]}"; do
		kill -TERM "${AGENT_PID[$n]}" 2>/dev/null && wait "${AGENT_PID[$n]}" 2>/dev/null
		rm -f "$BENCH_W/$n/agent.sock"
	done
	AGENT_PID=()
}
node_reset() { # remove what a scenario left on both nodes
	local n r
	for n in A B; do
		rt_node "$n" delete -f "$CID" >/dev/null 2>&1
		for r in $(seq 1 $((TP_RUNS + 1))); do rt_node "$n" delete -f "$CID-tp$r" >/dev/null 2>&1; done
		"$ZANSHIN" --remnant-root "$BENCH_W/$n/zstore" remnant list >/dev/null 2>&1
		rm -rf "${BENCH_W:?}/$n/agent" "$BENCH_W/$n/zstate" "$BENCH_W/$n/zstore" "$BENCH_W/$n/agent.log" "$BENCH_W/$n"/bundle-*
	done
}

# wire bytes: both directions of A's veth (headers and ACKs included)
wire_bytes() {
	inns A ip -s -j link show dev "$DEV_A" | jq '.[0].stats64 | .rx.bytes + .tx.bytes'
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.6f", (b - a) / 1e9}'; }

# ---- the workload, wherever the container runs ---------------------------
# (bench/lib/workload.sh assumes $BENCH_W/NODE/bundle; under an agent the
# rootfs is the bundle the node holds: `zanshin state` says which)
z_wl_dir() {
	local r
	r=$(rt_node "$1" state "$2" 2>/dev/null | jq -r '.rootfs // empty')
	[ -n "$r" ] && echo "$r/wl"
}
z_wl_do() { # NODE CID OP [ARG]
	local d init ns want p pid="" i
	d=$(z_wl_dir "$1" "$2") || return 1
	WL_SEQ=$(($(cat "$BENCH_W/.seq" 2>/dev/null || echo 0) + 1))
	echo "$WL_SEQ" >"$BENCH_W/.seq"
	echo "$WL_SEQ $3 ${4:-}" >"$d/cmd.new" && mv -f "$d/cmd.new" "$d/cmd"
	init=$(rt_node "$1" state "$2" | jq -r .pid)
	ns=$(readlink "/proc/$init/ns/pid")
	want=$(cat "$d/pid")
	for p in $(pgrep -x zs-workload); do
		[ "$(readlink "/proc/$p/ns/pid")" = "$ns" ] || continue
		[ "$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status")" = "$want" ] && pid=$p && break
	done
	[ -n "$pid" ] && kill -USR1 "$pid" || bench_die "workload of $2 not found on node $1"
	for ((i = 0; i < 3000; i++)); do
		[ "$(cat "$d/ack" 2>/dev/null)" = "$WL_SEQ" ] && break
		sleep 0.02
	done
	head -n1 "$d/result"
	head -n1 "$d/result" | grep -qE "^$WL_SEQ (OK|PASS) "
}
# the workload's command directory travels with the container (a bench
# artefact, as in tests/agent: the rootfs was sent once)
z_wl_follow() { # FROM_DIR TO_NODE CID
	local to
	to=$(z_wl_dir "$2" "$3")
	[ -n "$to" ] && [ "$1" != "$to" ] || return 0
	rm -f "$to"/{ack,result,cmd}
	cp -a "$1/." "$to/"
}
z_run() { # NODE CID MIB: a container on NODE, under its agent's root
	local i
	c_bundle "$BENCH_W/$1/bundle-$2" "$(C_WL_ARGS "$3")"
	mkdir -p "$BENCH_W/$1/bundle-$2/rootfs/proc" "$BENCH_W/$1/bundle-$2/rootfs/sys" "$BENCH_W/$1/bundle-$2/rootfs/dev"
	rt_node "$1" run -d --bundle "$BENCH_W/$1/bundle-$2" "$2" </dev/null >/dev/null 2>"$BENCH_W/err" ||
		bench_die "zanshin run failed: $(cat "$BENCH_W/err")"
	for ((i = 0; i < 600; i++)); do [ -s "$BENCH_W/$1/bundle-$2/rootfs/wl/pid" ] && break; sleep 0.1; done
	z_wl_do "$1" "$2" verify >/dev/null || bench_die "the workload of $2 does not verify"
}
settle() { # both nodes' stores: background keeping and merging done
	local n
	for n in A B; do "$ZANSHIN" --remnant-root "$BENCH_W/$n/zstore" remnant list >/dev/null 2>&1; done
}

# z_move FROM TO CID: one `zanshin migrate`; sets MV (its --print-stats),
# MJ (the source's journal record, STATE_DIR/moves/ID.json), MV_WALL, MV_WIRE.
z_move() {
	local from=$1 to=$2 cid=$3 src w0 t0 t1
	src=$(z_wl_dir "$from" "$cid")
	w0=$(wire_bytes)
	t0=$(date +%s%N)
	MV=$("$ZANSHIN" migrate "$cid" --to "$to" --print-stats "${MIGRATE_ARGS[@]}" --agent-socket "$BENCH_W/$from/agent.sock" 2>"$BENCH_W/err") ||
		bench_die "migrate $cid $from→$to failed: $(cat "$BENCH_W/err") $MV"
	t1=$(date +%s%N)
	MV_WIRE=$(($(wire_bytes) - w0))
	MV_WALL=$(secs "$t0" "$t1")
	MJ=$(jq -c . "$BENCH_W/$from/agent/moves/$(jq -r .id <<<"$MV").json") || bench_die "no journal record of the move"
	z_wl_follow "$src" "$to" "$cid"
}
us() { jq -r ".$1 // 0 | . / 1e6" <<<"$MJ"; }

# ---- zanshin: MOVES moves of one container between A and B --------------
zanshin_scenario() {
	local mib=$1 link=$2 g="$1 MiB, $2" k from=A to=B mv out digest grp pbytes
	k=$(wl_pages "$mib" "$WRITE")
	node_reset
	agents_start
	z_run A "$CID" "$mib"
	for ((mv = 1; mv <= MOVES; mv++)); do
		if [ "$mv" -gt 1 ]; then
			out=$(z_wl_do "$from" "$CID" write "$k") || bench_die "write failed: $out"
		fi
		out=$(z_wl_do "$from" "$CID" verify) || bench_die "verify failed before move $mv: $out"
		digest=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
		settle
		warm_memory "$mib"
		z_move "$from" "$to" "$CID"
		out=$(z_wl_do "$to" "$CID" verify) || bench_die "memory wrong after move $mv: $out"
		[[ $out == *"digest=$digest"* ]] || bench_die "move $mv restored another state ($out, want $digest)"
		if [ "$mv" = 1 ]; then grp="$g, first move (full image)"; else grp="$g, repeat moves ($WRITE% written)"; fi
		pbytes=$(jq -r .bytes_pages <<<"$MV")
		bench_sample "$grp" "$ZCFG" "total (s)" "$MV_WALL" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "downtime (s)" "$(jq -r .downtime_s <<<"$MV")" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "setup (s)" "$(jq -r .setup_s <<<"$MV")" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "checkpoint (s)" "$(us checkpoint_us)" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "transfer + verify (s)" "$(us transfer_us)" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "store commit on the target (s)" "$(us commit_us)" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "restore on the target (rest of the downtime) (s)" \
			"$(jq -r '(.downtime_us - .checkpoint_us - .transfer_us - .commit_us) / 1e6' <<<"$MJ")" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "bytes on the wire" "$MV_WIRE" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "bytes sent (pages)" "$pbytes" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "bytes sent (metadata)" "$(jq -r .bytes_metadata <<<"$MV")" 1 "$mv"
		bench_sample "$grp" "$ZCFG" "bytes sent (Bundle)" "$(jq -r .bytes_bundle <<<"$MV")" 1 "$mv"
		bench_sample "$g, every move" "$ZCFG" "bytes on the wire" "$MV_WIRE" 1 "$mv"
		bench_sample "$g, every move" "$ZCFG" "total (s)" "$MV_WALL" 1 "$mv"
		if [ "$mv" -gt 1 ]; then
			bench_sample "$grp" "bound: 1.2 × written pages + 256 KiB" "bytes on the wire" $((k * 4096 * 12 / 10 + 262144)) 1 "$mv"
		else
			# the full image's pages and metadata at the link's line rate
			local r
			r=$(link_rate_bps "$link")
			[ "$r" != 0 ] && bench_sample "$grp" "$ZCFG" "image transfer ÷ its time at line rate" \
				"$(awk -v t="$(us transfer_us)" -v b="$(jq -r '.bytes_pages + .bytes_metadata' <<<"$MV")" -v r="$r" 'BEGIN {printf "%.4f", t / (b * 8 / r)}')" 1 "$mv"
		fi
		bench_log "zanshin $g move $mv $from→$to: $(jq -c '{downtime_s, total_s, bytes_pages, bytes_metadata, bytes_bundle, diff}' <<<"$MV") wire $MV_WIRE"
		if [ "$from" = A ]; then from=B to=A; else from=A to=B; fi
	done
	rt_node "$from" delete -f "$CID" >/dev/null 2>&1
	agents_stop
}

# ---- baseline: runc + stock CRIU, the image tarred over TLS (socat) ------
# ship FROM TO DIR: DIR of FROM's img/ into TO's img/ over TLS; sets
# SHIP_SECS, SHIP_WIRE
ship() {
	local from=$1 to=$2 gen=$3 rx t0 w0 addr
	mkdir -p "$BENCH_W/$to/img"
	w0=$(wire_bytes)
	t0=$(date +%s%N)
	inns "$to" bash -c "socat -u OPENSSL-LISTEN:$BPORT,bind=${IP[$to]},reuseaddr,cert='$BENCH_W/pki/$to/$to.pem',key='$BENCH_W/pki/$to/$to-key.pem',cafile='$BENCH_W/pki/ca/ca.pem',verify=1 - | tar x -C '$BENCH_W/$to/img'" 2>>"$BENCH_W/ship.log" &
	rx=$!
	wait_port "$to" "${IP[$to]}" $BPORT || bench_die "the baseline's TLS receiver did not start"
	addr=$(peer_addr "$from" $BPORT)
	inns "$from" bash -c "tar c -C '$BENCH_W/$from/img' '$gen' | socat -u - OPENSSL:${addr%:*}:${addr##*:},cert='$BENCH_W/pki/$from/$from.pem',key='$BENCH_W/pki/$from/$from-key.pem',cafile='$BENCH_W/pki/ca/ca.pem',commonname=$to" 2>>"$BENCH_W/ship.log" ||
		bench_die "sending $gen failed: $(tail -n 3 "$BENCH_W/ship.log")"
	wait "$rx" || bench_die "receiving $gen failed: $(tail -n 3 "$BENCH_W/ship.log")"
	SHIP_SECS=$(secs "$t0" "$(date +%s%N)")
	SHIP_WIRE=$(($(wire_bytes) - w0))
}

baseline_scenario() {
	local mib=$1 link=$2 g="$1 MiB, $2" from=A to=B mv out digest t0 cs rs gen n grp
	rm -rf "$BENCH_W/A/img" "$BENCH_W/B/img" "$BENCH_W/A/bundle" "$BENCH_W/B/bundle"
	for n in A B; do c_bundle "$BENCH_W/$n/bundle" "$(C_WL_ARGS "$mib")"; done
	rt runc "$BENCH_W/A/state-runc" run -d --bundle "$BENCH_W/A/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
		bench_die "runc run failed: $(cat "$BENCH_W/err")"
	for ((n = 0; n < 600; n++)); do [ -s "$BENCH_W/A/bundle/rootfs/wl/pid" ] && break; sleep 0.1; done
	for ((mv = 1; mv <= BASE_MOVES; mv++)); do
		out=$(wl_do "$from" runc write "$(wl_pages "$mib" "$WRITE")") || bench_die "runc: write failed: $out"
		out=$(wl_do "$from" runc verify) || bench_die "runc: verify failed: $out"
		digest=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
		gen=m$mv
		warm_memory "$mib"
		t0=$(date +%s%N)
		bench_time rt runc "$BENCH_W/$from/state-runc" checkpoint --image-path "$BENCH_W/$from/img/$gen" "$CID" 2>"$BENCH_W/err" ||
			bench_die "runc checkpoint failed: $(tail -c 600 "$BENCH_W/err")"
		cs=$BENCH_SECS
		rt runc "$BENCH_W/$from/state-runc" delete -f "$CID" >/dev/null 2>&1
		ship "$from" "$to" "$gen"
		rm -rf "${BENCH_W:?}/$from/img/$gen"
		rm -f "$BENCH_W/$to/bundle/rootfs/wl"/{ack,result,cmd}
		cp -a "$BENCH_W/$from/bundle/rootfs/wl/." "$BENCH_W/$to/bundle/rootfs/wl/"
		bench_time rt runc "$BENCH_W/$to/state-runc" restore -d --image-path "$BENCH_W/$to/img/$gen" \
			--bundle "$BENCH_W/$to/bundle" "$CID" </dev/null >/dev/null 2>"$BENCH_W/err" ||
			bench_die "runc restore failed: $(tail -c 600 "$BENCH_W/err")"
		rs=$BENCH_SECS
		local tot
		tot=$(secs "$t0" "$(date +%s%N)")
		rm -rf "${BENCH_W:?}/$to/img/$gen"
		out=$(wl_do "$to" runc verify) || bench_die "runc: memory wrong after move $mv: $out"
		[[ $out == *"digest=$digest"* ]] || bench_die "runc: move $mv restored another state"
		for grp in "$g, first move (full image)" "$g, repeat moves ($WRITE% written)" "$g, every move"; do
			bench_sample "$grp" "$BASE" "total (s)" "$tot" 1 "$mv"
			bench_sample "$grp" "$BASE" "bytes on the wire" "$SHIP_WIRE" 1 "$mv"
			[ "$grp" = "$g, every move" ] && continue
			bench_sample "$grp" "$BASE" "downtime (s)" "$tot" 1 "$mv"
			bench_sample "$grp" "$BASE" "checkpoint (s)" "$cs" 1 "$mv"
			bench_sample "$grp" "$BASE" "transfer + verify (s)" "$SHIP_SECS" 1 "$mv"
			bench_sample "$grp" "$BASE" "restore (s)" "$rs" 1 "$mv"
			bench_sample "$grp" "$BASE_RESTORE" "downtime (s)" "$rs" 1 "$mv"
		done
		bench_log "baseline $g move $mv $from→$to: checkpoint $cs s, transfer $SHIP_SECS s, restore $rs s, wire $SHIP_WIRE"
		if [ "$from" = A ]; then from=B to=A; else from=A to=B; fi
	done
	rt runc "$BENCH_W/$from/state-runc" delete -f "$CID" >/dev/null 2>&1
}

# ---- unshaped: full images, TLS and plaintext -----------------------------
# One fresh container on fresh nodes per run, moved A→B once (a full
# image and the Bundle). Rate = image bytes (pages and
# metadata) ÷ (transfer + verify + the target's store commit).
throughput_scenario() {
	local transport=$1 run cid g="unshaped, $TP_MIB MiB full image" cfg extra=() rate
	cfg="zanshin, TLS"
	[ "$transport" = plain ] && cfg="zanshin, plaintext (--insecure-loopback)" extra=(--insecure-loopback)
	local runs=$TP_RUNS
	# profiling slows what it watches: one more run, profiled, not recorded
	[ "$PROFILE" = 1 ] && [ "$transport" = tls ] && command -v perf >/dev/null && runs=$((TP_RUNS + 1))
	for ((run = 1; run <= runs; run++)); do
		# fresh nodes each run: the stores do not pile up full images
		node_reset
		agents_start "${extra[@]}"
		cid=$CID-tp$run
		z_run A "$cid" "$TP_MIB"
		settle
		warm_memory "$TP_MIB"
		if [ "$run" -gt "$TP_RUNS" ]; then
			perf record -F 499 -a -g -o "$BENCH_W/perf.data" 2>/dev/null >/dev/null &
			PERF_PID=$!
			sleep 0.5
		fi
		z_move A B "$cid"
		if [ -n "${PERF_PID:-}" ]; then
			kill -INT "$PERF_PID"
			wait "$PERF_PID"
			PERF_PID=""
			profile_note
		fi
		z_wl_do B "$cid" verify >/dev/null || bench_die "memory wrong after the unshaped move"
		if [ "$run" -gt "$TP_RUNS" ]; then
			bench_log "profiled run: $(jq -c '{downtime_us, checkpoint_us, transfer_us, commit_us}' <<<"$MJ")"
			rt_node B delete -f "$cid" >/dev/null 2>&1
			agents_stop
			continue
		fi
		rate=$(awk -v t="$(us transfer_us)" -v c="$(us commit_us)" -v b="$(jq -r '.bytes_pages + .bytes_metadata' <<<"$MV")" 'BEGIN {printf "%.6f", (t + c) / (b / 1e9)}')
		bench_sample "$g" "$cfg" "transfer + verify + commit (s per GB)" "$rate" "$run"
		bench_sample "$g" "$cfg" "transfer + verify (s)" "$(us transfer_us)" "$run"
		bench_sample "$g" "$cfg" "store commit on the target (s)" "$(us commit_us)" "$run"
		bench_sample "$g" "$cfg" "checkpoint (s)" "$(us checkpoint_us)" "$run"
		bench_sample "$g" "$cfg" "downtime (s)" "$(jq -r .downtime_s <<<"$MV")" "$run"
		bench_log "$cfg unshaped run $run: $rate s per GB, $(jq -c '{setup_us, downtime_us, checkpoint_us, transfer_us, commit_us, total_us, bytes_pages}' <<<"$MJ")"
		rt_node B delete -f "$cid" >/dev/null 2>&1
		agents_stop
	done
}

# profile_note: where the CPU went during the profiled unshaped move (the
# agents' processes: source and target side), as a note.
profile_note() {
	local top
	top=$(perf script -i "$BENCH_W/perf.data" --comms zs-bench-agent 2>/dev/null | awk -f "$BENCH_TOP/bench/lib/agent-profile.awk")
	[ -n "$top" ] && bench_note "profile of the agents (source and target side; not the runtime and CRIU they run) during one more unshaped TLS move ($TP_MIB MiB, not among the samples; \`perf record -a -g -F 499\`, the agents' samples by what their stacks show, bench/lib/agent-profile.awk): $top"
}

bench_note "nodes: two network namespaces joined by a veth pair, each with its own zanshind (mutual TLS 1.3, certificates from scripts/zanshin-cert.sh), runtime root, remnant store and state directory under $BENCH_W (tmpfs); links shaped with tbf on both ends; 100mbit-20ms adds 10 ms per direction in a user-space relay (bench/lib/delay-relay.py: this kernel has no sch_netem) that both the agents and the baseline's stream go through"
bench_note "container: busybox rootfs, \`zs-workload -m SIZE\` (one process, SIZE MiB of verifiable pattern); before each move it writes $WRITE% of its pages; after each move every page is verified and the state digest compared. Memory is warmed before each move (free page reporting, see \"Reading these numbers\")"
bench_note "zanshin: \`zanshin migrate CID --to NODE --print-stats${MIGRATE_ARGS[*]:+ ${MIGRATE_ARGS[*]}}\` against the source's agent, $MOVES moves A→B→A…; the first sends the full image and the Bundle, each later one a diff against the image the target holds. total = the migrate command's wall time; downtime, setup from --print-stats; checkpoint, transfer + verify (checkpoint end → the target has every file, hashed and checked) and the target's store commit from the source's journal (\`zanshin moves --format json\`). The source's background store work (keeping its checkpoint as a generation) overlaps the target's restore: both nodes share 2 cores"
bench_note "baseline: runc 1.1.5 + stock CRIU 4.2.1: \`runc checkpoint\` → \`tar c | socat OPENSSL:\` (TLS, the same certificates, mutual) → \`socat OPENSSL-LISTEN | tar x\` → \`runc restore -d\`; $BASE_MOVES moves per size and link (a full image every time, whatever was written); its samples stand in both the first-move and the repeat-move groups"
bench_note "bytes on the wire: both directions of the veth (TCP/IP headers, ACKs, TLS records, the protocol's frames, the Bundle when sent); bytes sent: the agent's own count of file bytes by kind"
bench_note "sizes (MiB): $SIZES; links: $LINKS; moves: $MOVES (baseline $BASE_MOVES); written between moves: $WRITE% of the pages; unshaped: $TP_MIB MiB, $TP_RUNS runs per transport"

FAILED=0
shape none
[ "$TP_RUNS" -gt 0 ] || bench_note "unshaped moves not run (TP_RUNS=0)"
for tr in $([ "$TP_RUNS" -gt 0 ] && echo tls plain); do
	if ! (throughput_scenario "$tr") 2>"$BENCH_W/scen.err"; then
		cat "$BENCH_W/scen.err" >&2
		bench_note "**FAILED**: unshaped throughput, $tr: $(grep 'bench cluster-move:' "$BENCH_W/scen.err" | tail -n1 | cut -c1-400)"
		FAILED=1
		agents_stop
	else
		cat "$BENCH_W/scen.err" >&2
	fi
done
if [ "$TP_RUNS" -gt 0 ]; then
	bench_goal_abs "unshaped, TLS + verification + commit ≥ 0.8 GB/s (shown as s per GB ≤ 1.25)" "unshaped, $TP_MIB MiB full image" "transfer + verify + commit (s per GB)" "zanshin, TLS" 1.25
	bench_plot "$NAME-unshaped.svg" bars "transfer + verify + commit (s per GB)" "unshaped full image: seconds per GB (lower is faster)" "^unshaped"
fi
for mib in $SIZES; do
	for link in $LINKS; do
		shape "$link"
		relays_start
		for s in baseline zanshin; do
			if ! ("${s}_scenario" "$mib" "$link") 2>"$BENCH_W/scen.err"; then
				cat "$BENCH_W/scen.err" >&2
				bench_note "**FAILED**: $s, $mib MiB, $link: $(grep 'bench cluster-move:' "$BENCH_W/scen.err" | tail -n1 | cut -c1-400)"
				FAILED=1
				agents_stop
			else
				cat "$BENCH_W/scen.err" >&2
			fi
		done
		relays_stop
		g="$mib MiB, $link"
		bench_goal "$g: bytes on the wire of a repeat move ≤ 1.2 × written pages + 256 KiB" "$g, repeat moves ($WRITE% written)" "bytes on the wire" "$ZCFG" "$g, repeat moves ($WRITE% written)" "bound: 1.2 × written pages + 256 KiB" 1.0
		case $link in
		100mbit*) mx=0.05 ;;
		*) mx=0.15 ;;
		esac
		bench_goal "$g: total time of a repeat move ≤ $mx × the baseline's" "$g, repeat moves ($WRITE% written)" "total (s)" "$ZCFG" "$g, repeat moves ($WRITE% written)" "$BASE" "$mx"
		bench_goal "$g: downtime of a repeat move ≤ the baseline's restore alone" "$g, repeat moves ($WRITE% written)" "downtime (s)" "$ZCFG" "$g, repeat moves ($WRITE% written)" "$BASE_RESTORE" 1.0
		[ "$link" = 1gbit ] && [ ${#AGENT_ARGS[@]} -gt 0 ] &&
			bench_goal_abs "$g: downtime of a repeat move with a lazy restore on the target ≤ 0.15 s (issue 15)" "$g, repeat moves ($WRITE% written)" "downtime (s)" "$ZCFG" 0.15
		[ "$link" = 1gbit ] &&
			bench_goal_abs "$g: a full image moves at ≥ 0.9 × the link rate with TLS (shown: its transfer time ÷ the time at line rate ≤ 1.111)" "$g, first move (full image)" "image transfer ÷ its time at line rate" "$ZCFG" 1.111
		bench_plot "$NAME-$mib-$link-bytes.svg" hops "bytes on the wire" "$mib MiB, $link: bytes on the wire per move" "^$mib MiB, $link, every move"
		bench_plot "$NAME-$mib-$link-time.svg" hops "total (s)" "$mib MiB, $link: total time per move" "^$mib MiB, $link, every move"
	done
done
bench_note "the downtime goal compares zanshin's downtime (checkpoint start → running on the target) with the baseline's restore alone; the × anchor column of the downtime rows compares it with the baseline's whole downtime (checkpoint + transfer + restore)"
bench_plot "$NAME-downtime.svg" bars "downtime (s)" "downtime per move (median, p10–p90)" "repeat moves"

bench_end
exit "$FAILED"
