# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Helpers for the node agent's suites (tests/agent/): nodes of a small
# cluster on this machine. A node N is
#   - a network namespace zs<PID>-N on a bridge of the test's own (no
#     address on the host side: only the namespaces' addresses are
#     targets), address 10.77.0.<i>;
#   - its directories under $CR_T/N (tests/cr/lib.sh: state/ = --root,
#     store/ = --remnant-root, bundle/), agent/ (--state-dir), agent.sock;
#   - its certificate (scripts/zanshin-cert.sh) and its zanshind, started
#     with nsenter --net only: the agent runs in the node's network
#     namespace but in the host's mount namespace (`ip netns exec` would
#     remount /sys and hide the cgroup hierarchies the runtime needs).
#     The containers it restores get network namespaces of their own, as
#     on any node.
# Sourced after tests/cr/lib.sh.

AG_BIN=$CR_TOP/build/bin/zanshind
AG_CERT=$CR_TOP/scripts/zanshin-cert.sh
AG_PORT=7427
# the "-" ends the pid: the cleanup's prefix zs2064- never matches the
# namespaces of another run, zs20643-A
AG_NS=zs$$-
AG_BR=zsb$$
declare -A AG_PID AG_IP AG_EXTRA

ag_die() { cr_die "$@"; }

# ag_setup: bridge, the CA and cleanup (chained before cr_cleanup).
ag_setup() {
	[ -x "$AG_BIN" ] || ag_die "$AG_BIN missing: run make"
	command -v certtool >/dev/null || ag_die "certtool missing (apt-get install gnutls-bin: scripts/deps.sh)"
	trap 'ag_cleanup; cr_cleanup' EXIT
	ip link add "$AG_BR" type bridge || ag_die "cannot create bridge $AG_BR"
	ip link set "$AG_BR" up
	"$AG_CERT" ca --out "$CR_T/pki/ca" >/dev/null || ag_die "cannot make the CA"
}

ag_cleanup() {
	local n p
	for n in "${!AG_PID[@]}"; do ag_kill "$n"; done
	# holders of restored containers' stdio outlive agents: they end with
	# the containers (cr_cleanup deletes those), or here
	for p in $(pgrep -f "^$AG_BIN" 2>/dev/null); do
		case "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in *"$CR_T"/*) kill -KILL "$p" 2>/dev/null ;; esac
	done
	for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $n in "$AG_NS"?*) ip netns del "$n" 2>/dev/null ;; esac
	done
	ip link del "$AG_BR" 2>/dev/null
	return 0
}

# ag_ns NODE I: the node's namespace with address 10.77.0.I on the bridge.
ag_ns() {
	local n=$1 i=$2 ns=$AG_NS$1
	ip netns add "$ns" || return 1
	ip link add "zv$$$n" type veth peer name eth0 netns "$ns" || return 1
	ip link set "zv$$$n" master "$AG_BR" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
	ip -n "$ns" link set eth0 up
	AG_IP[$n]=10.77.0.$i
}

# ag_node NODE I: namespace, directories, bundle, certificate.
ag_node() {
	ag_ns "$1" "$2" || ag_die "cannot create the namespace of node $1"
	cr_node "$1"
	mkdir -p "$CR_T/$1/agent"
	"$AG_CERT" node "$1" --ca "$CR_T/pki/ca" --out "$CR_T/pki/$1" >/dev/null || ag_die "cannot make $1's certificate"
}

# ag_start NODE PEER... [-- EXTRA ARGS]: start NODE's agent knowing PEERs
# (NAME or NAME=NODE to give another node's address under NAME); waits
# until its socket answers.
ag_start() {
	local n=$1 p args=() i
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in
		*=*) args+=(--peer "${1%%=*}=${AG_IP[${1#*=}]}:$AG_PORT") ;;
		*) args+=(--peer "$1=${AG_IP[$1]}:$AG_PORT") ;;
		esac
		shift
	done
	[ "${1:-}" = -- ] && shift
	nsenter --net="/run/netns/$AG_NS$n" -- "$AG_BIN" --node "$n" --listen "${AG_IP[$n]}:$AG_PORT" \
		--cert "${AG_CERTF[$n]:-$CR_T/pki/$n/$n.pem}" --key "${AG_KEYF[$n]:-$CR_T/pki/$n/$n-key.pem}" \
		--ca "${AG_CAF[$n]:-$CR_T/pki/ca/ca.pem}" --root "$CR_T/$n/state" --remnant-root "$CR_T/$n/store" \
		--state-dir "$CR_T/$n/agent" --socket "$CR_T/$n/agent.sock" --io-timeout "${AG_IOT:-60}" "${args[@]}" "$@" \
		</dev/null >>"$CR_T/$n/agent.log" 2>&1 &
	AG_PID[$n]=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$CR_T/$n/agent.sock" ] && return 0
		kill -0 "${AG_PID[$n]}" 2>/dev/null || break
		sleep 0.05
	done
	echo "agent $n did not start: $(tail -n 5 "$CR_T/$n/agent.log")"
	return 1
}
declare -A AG_CERTF AG_KEYF AG_CAF

# ag_kill NODE [SIG]: the agent and the children it forked (by pid).
ag_kill() {
	local pid=${AG_PID[$1]:-} sig=${2:-KILL} kids
	[ -n "$pid" ] || return 0
	kids=$(pgrep -P "$pid" 2>/dev/null)
	kill "-$sig" "$pid" $kids 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "AG_PID[$1]"
	rm -f "$CR_T/$1/agent.sock"
}

# zm NODE ARGS...: the CLI talking to NODE's agent.
zm() {
	local n=$1
	shift
	"$ZANSHIN" "$@" --agent-socket "$CR_T/$n/agent.sock"
}

# The workload's directory in the container that runs on NODE (its
# rootfs, wherever the node's agent put the bundle).
wl_dir() {
	local r
	r=$(z "$1" state "$CR_CID" 2>/dev/null | jq -r '.rootfs // empty')
	[ -n "$r" ] || r=$CR_T/$1/bundle/rootfs
	echo "$r/wl"
}

# the workload helpers of tests/cr/lib.sh, with wl_dir
wl_host_pid() {
	local init p ns want
	init=$(z "$1" state "$CR_CID" 2>/dev/null | jq -r .pid)
	[ -n "$init" ] && [ "$init" != null ] || return 1
	ns=$(readlink "/proc/$init/ns/pid") || return 1
	want=$(cat "$(wl_dir "$1")/pid")
	for p in $(pgrep -x zs-workload); do
		[ "$(readlink "/proc/$p/ns/pid")" = "$ns" ] || continue
		[ "$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status")" = "$want" ] && { echo "$p"; return 0; }
	done
	return 1
}

# wl_follow FROM_DIR TO_NODE: the workload's command directory travels
# with the container (a test artefact: it lives in the rootfs, which the
# target received once, as tests/cr/hops.sh copies it).
wl_follow() {
	local to
	to=$(wl_dir "$2")
	[ "$1" = "$to" ] && return 0
	rm -f "$to"/{ack,result,cmd}
	cp -a "$1/." "$to/"
}
