#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# zanshind --insecure-loopback (plaintext between agents, for benchmarks
# that compare transports; agent/insecure.c):
#   1. refused where another machine may reach the agent: a namespace with
#      a route through a gateway, one with a macvlan interface (no gateway),
#      a non-loopback --listen outside the test's own namespaces; with
#      --coordinator, even on loopback;
#   2. allowed on loopback only, and in the test's own namespaces (veth on a
#      bridge, no gateway): a container moves A→B→A in plaintext, memory
#      verified after each move, the second move a diff;
#   3. the two transports do not mix: a TLS agent refuses a plaintext peer,
#      a plaintext agent refuses a TLS client; a plaintext peer that does
#      not say hello first is refused; a file whose digest (sent after its
#      bytes, "digests": "after") is not theirs is refused, nothing kept.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/lib.sh"
MIB=32
CR_MIB=$MIB
cr_setup agent-insecure
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
ag_node A 1
ag_node B 2
ag_node T 3 # a TLS agent

# agent_refused NAME NETNS LISTEN WANT: zanshind --insecure-loopback exits
# non-zero naming WANT
agent_refused() {
	local out rc ns=()
	[ -n "$2" ] && ns=(nsenter --net="/run/netns/$2" --)
	out=$(timeout 10 "${ns[@]}" "$AG_BIN" --node Q --listen "$3" --insecure-loopback --root "$CR_T/q/state" \
		--remnant-root "$CR_T/q/store" --state-dir "$CR_T/q/agent" --socket "$CR_T/q.sock" --peer A=10.77.0.1:$AG_PORT 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "refused: .*$4" <<<"$out" && [ ! -S "$CR_T/q.sock" ]; then
		t_ok "$1: $out"
	else
		t_fail "$1" "exit $rc: $out"
		rm -f "$CR_T/q.sock"
	fi
}

# ---- 1. refusals ----
ip netns add "${AG_NS}gw" && ip link add "zg$$" type veth peer name eth0 netns "${AG_NS}gw" &&
	ip -n "${AG_NS}gw" addr add 10.78.0.2/24 dev eth0 && ip -n "${AG_NS}gw" link set eth0 up &&
	ip -n "${AG_NS}gw" route add default via 10.78.0.1 || ag_die "cannot make the namespace with a gateway"
agent_refused "refused in a namespace with a default route" "${AG_NS}gw" 10.78.0.2:$AG_PORT "route through a gateway"
# a macvlan (how a namespace is put on a machine's LAN), on a veth here
ip netns add "${AG_NS}mv" && ip -n "${AG_NS}mv" link add v1 type veth peer name v2 &&
	ip -n "${AG_NS}mv" link add mv0 link v1 type macvlan && ip -n "${AG_NS}mv" addr add 10.79.0.2/24 dev mv0 &&
	ip -n "${AG_NS}mv" link set v1 up && ip -n "${AG_NS}mv" link set mv0 up || ag_die "cannot make the namespace with a macvlan"
agent_refused "refused in a namespace with a macvlan interface (no gateway)" "${AG_NS}mv" 10.79.0.2:$AG_PORT "interface \`mv0\`"
if ip route show default | grep -q . || ip -o link show | grep -vq ' lo:'; then
	agent_refused "refused in the test's host namespace on a non-loopback address" "" 0.0.0.0:$AG_PORT "gateway\|interface"
else
	t_skip "refused in the test's host namespace" "this namespace has neither a default route nor an interface"
fi
# on loopback, but with a coordinator (its link is TLS, its peers unchecked)
out=$(timeout 10 "$AG_BIN" --node Q --listen 127.0.0.1:$AG_PORT --insecure-loopback --coordinator https://127.0.0.1:1 \
	--root "$CR_T/q/state" --remnant-root "$CR_T/q/store" --state-dir "$CR_T/q/agent" --socket "$CR_T/q.sock" 2>&1)
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "refused: --coordinator" <<<"$out" && [ ! -S "$CR_T/q.sock" ] &&
	t_ok "refused with --coordinator, even on loopback: $out" || t_fail "refused with --coordinator" "exit $rc: $out"
rm -f "$CR_T/q.sock"
port=$((20000 + $$ % 20000))
"$AG_BIN" --node L --listen 127.0.0.1:$port --insecure-loopback --peer M=127.0.0.1:$((port + 1)) --root "$CR_T/l/state" \
	--remnant-root "$CR_T/l/store" --state-dir "$CR_T/l/agent" --socket "$CR_T/l.sock" </dev/null >"$CR_T/l.log" 2>&1 &
lpid=$!
for ((i = 0; i < 100; i++)); do [ -S "$CR_T/l.sock" ] && break; sleep 0.05; done
if [ -S "$CR_T/l.sock" ] && grep -q "plaintext and unauthenticated" "$CR_T/l.log"; then
	t_ok "allowed when --listen and every --peer are loopback addresses (and it says plaintext)"
else
	t_fail "allowed on loopback" "$(cat "$CR_T/l.log")"
fi
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null

# ---- 2. a move in plaintext between the test's own namespaces ----
ag_start A B -- --insecure-loopback || ag_die "agent A (insecure)"
ag_start B A -- --insecure-loopback || ag_die "agent B (insecure)"
ag_start T A || ag_die "agent T (TLS)"
grep -q "plaintext and unauthenticated" "$CR_T/A/agent.log" && t_ok "agents start with --insecure-loopback in the test's namespaces" ||
	t_fail "agents start with --insecure-loopback" "$(tail -n 3 "$CR_T/A/agent.log")"
t_run A
t_wl_verify "start on A" A || { t_done; exit; }
for hop in "A B" "B A"; do
	set -- $hop
	[ "$1" = B ] && { t_wl_write "before $1→$2" "$1" 256 || break; }
	t_wl_verify "before $1→$2" "$1" || break
	d=$WL_DIGEST
	src=$(wl_dir "$1")
	if ! STATS=$(zm "$1" migrate "$CR_CID" --to "$2" --print-stats 2>"$CR_T/migrate.err"); then
		t_fail "plaintext move $1→$2" "$(cat "$CR_T/migrate.err")"
		break
	fi
	wl_follow "$src" "$2"
	t_ok "plaintext move $1→$2 ($(jq -c '{diff, downtime_s, bytes_pages}' <<<"$STATS"))"
	t_wl_verify "after $1→$2" "$2" "$d" || break
	peer=$(zm "$2" moves --format json | jq -r '[.[] | select(.role == "target")] | last | .peer')
	[ "$peer" = "$1" ] && t_ok "$2 records the peer's name from its hello ($peer)" || t_fail "$2 records the peer's name" "$peer"
done
[ "$(jq -r .diff <<<"$STATS")" = true ] && t_ok "the move back is a diff" || t_fail "the move back is a diff" "$STATS"

# ---- 3. transports do not mix ----
n0=$(grep -c "refused a connection" "$CR_T/T/agent.log")
hello='import socket, struct, sys, json
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
def send(o):
    b = json.dumps(o).encode(); s.sendall(struct.pack(">I", len(b)) + b)
if sys.argv[3] == "hello": send({"type": "hello", "node": "A"})
send({"type": "status", "move": "m-none"})
try:
    h = s.recv(4)
    n = struct.unpack(">I", h)[0] if len(h) == 4 else 0
    print(s.recv(n).decode() if n else "closed")
except OSError as e:
    print("error", e)'
ans=$(ip netns exec "${AG_NS}A" /usr/bin/python3 -c "$hello" "${AG_IP[T]}" $AG_PORT hello 2>&1)
sleep 0.3
n1=$(grep -c "refused a connection" "$CR_T/T/agent.log")
[ $((n1 - n0)) -ge 1 ] && [[ $ans != *'"status"'* ]] && t_ok "a TLS agent refuses a plaintext peer ($ans)" ||
	t_fail "a TLS agent refuses a plaintext peer" "$ans" "$(tail -n 2 "$CR_T/T/agent.log")"
ans=$(ip netns exec "${AG_NS}T" /usr/bin/python3 -c "$hello" "${AG_IP[B]}" $AG_PORT hello 2>&1)
[[ $ans == *'"state":"unknown"'* ]] && t_ok "a plaintext agent answers a plaintext peer after its hello ($ans)" ||
	t_fail "a plaintext agent answers a plaintext peer" "$ans"
ans=$(ip netns exec "${AG_NS}T" /usr/bin/python3 -c "$hello" "${AG_IP[B]}" $AG_PORT nohello 2>&1)
sleep 0.3
[[ $ans != *'"state"'* ]] && grep -q "refused a connection.*hello" "$CR_T/B/agent.log" &&
	t_ok "a plaintext peer that does not say hello first is refused ($ans)" ||
	t_fail "a plaintext peer without hello is refused" "$ans" "$(tail -n 2 "$CR_T/B/agent.log")"
# a file whose digest, sent after its bytes, is not theirs: refused,
# nothing stored (the protocol is easy to speak in plaintext)
liar='import socket, struct, sys, json
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
def send(o, data=b""):
    b = json.dumps(o).encode(); s.sendall(struct.pack(">I", len(b)) + b + data)
def recv():
    h = s.recv(4, socket.MSG_WAITALL); n = struct.unpack(">I", h)[0]
    return json.loads(s.recv(n, socket.MSG_WAITALL))
send({"type": "hello", "node": "A"})
send({"type": "offer", "move": "m-liar", "container": "liar", "mode": "stop-copy", "bundle_digest": "b" * 64, "rootfs_digest": "r" * 64})
print(recv()["type"])
send({"type": "image", "image_id": "1" * 32, "digests": "after", "files": [{"name": "pages-1.img", "size": 8192}]})
print(recv()["type"])
send({"type": "file", "name": "pages-1.img", "size": 8192}, b"x" * 8192)
send({"type": "digest", "name": "pages-1.img", "digest": "0" * 64})
print(json.dumps(recv()))'
ans=$(ip netns exec "${AG_NS}T" /usr/bin/python3 -c "$liar" "${AG_IP[B]}" $AG_PORT 2>&1)
left=$(find "$CR_T/B/store" -path '*liar*' -name 'pages-1.img' 2>/dev/null)
if [[ $ans == *'"type": "error"'*'the source says'* ]] && [ -z "$left" ]; then
	t_ok "a digest after the file that is not the bytes' is refused, nothing kept ($(tail -n1 <<<"$ans" | cut -c1-160))"
else
	t_fail "a lying digest after the file is refused" "$ans" "left: $left"
fi
ip netns exec "${AG_NS}T" gnutls-cli --x509cafile "$CR_T/pki/ca/ca.pem" --x509certfile "$CR_T/pki/T/T.pem" \
	--x509keyfile "$CR_T/pki/T/T-key.pem" -p $AG_PORT "${AG_IP[B]}" --verify-hostname B </dev/null >"$CR_T/cli.log" 2>&1
grep -qi "handshake.*fail\|error" "$CR_T/cli.log" && t_ok "a plaintext agent refuses a TLS client" ||
	t_fail "a plaintext agent refuses a TLS client" "$(tail -n 5 "$CR_T/cli.log")"
ip netns del "${AG_NS}gw" 2>/dev/null
ip netns del "${AG_NS}mv" 2>/dev/null
t_done
