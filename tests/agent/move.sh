#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# zanshind and `zanshin migrate` (issue 13, milestone 1): three nodes on this
# machine (network namespaces on a bridge, tests/agent/lib.sh), each with
# its own agent, runtime root, store and certificate.
#   1. a container (zs-workload, busybox) moved A→B→A→B→A with stop-and-
#      copy: the first move sends the full image and the Bundle; every
#      later one only the diff (bytes_pages <= 1.2 x the pages written +
#      256 KiB) and no Bundle; memory verified, every page, after each;
#   2. refused peers: a node whose certificate comes from another CA, a
#      node that presents another node's certificate, TLS clients with no
#      certificate or a foreign one (the agent logs the refusal);
#   3. failures: the target's restore fails; the target agent is SIGKILLed
#      during the move and restarted: the container runs again on the
#      source, memory verified, nothing runs on the target, stores verify;
#   4. CLI bad input; `zanshin moves`; SIGTERM stops an agent cleanly.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/lib.sh"
MIB=64
CR_MIB=$MIB
K=512 # pages written between moves
AG_IOT=5 # seconds before a silent peer is given up (the link cut below)
cr_setup agent-move
# the mount points exist, as in any image: running a container then leaves
# its rootfs as it was (the rootfs digest of two copies stays the same)
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
ag_node A 1
ag_node B 2
ag_node C 3
ag_node D 5
# D's store is a small tmpfs: a full disk on the target
mount -t tmpfs -o size=96m,mode=0700 tmpfs "$CR_T/D/store" || ag_die "cannot mount D's store"
# X: a node whose certificate is signed by another CA
"$AG_CERT" ca --out "$CR_T/pki/rogue-ca" >/dev/null && "$AG_CERT" node X --ca "$CR_T/pki/rogue-ca" --out "$CR_T/pki/X" >/dev/null ||
	ag_die "cannot make the rogue CA"
ag_ns X 4 || ag_die "cannot create X's namespace"
mkdir -p "$CR_T/X/state" "$CR_T/X/store" "$CR_T/X/agent"
AG_CAF[X]=$CR_T/pki/rogue-ca/ca.pem

# B's runtime fails a restore while $CR_T/fail-restore exists (a restore
# error on the target, injected where the agent runs the runtime)
cat >"$CR_T/zanshin-B" <<EOS
#!/bin/sh
for a in "\$@"; do
	if [ "\$a" = restore ] && [ -e "$CR_T/fail-restore" ]; then
		echo "injected restore failure (test)" >&2
		exit 1
	fi
done
exec "$ZANSHIN" "\$@"
EOS
chmod +x "$CR_T/zanshin-B"

ag_start A B C D X impostor=C || ag_die "agent A"
ag_start D A || ag_die "agent D"
ag_start B A C -- --runtime "$CR_T/zanshin-B" || ag_die "agent B"
ag_start C A B || ag_die "agent C"
ag_start X A || ag_die "agent X"
t_ok "five agents run, each in its own network namespace"

t_run A
t_wl_verify "start on A" A || { t_done; exit; }

# move FROM TO: migrate with --print-stats into $STATS; the workload follows
move() {
	local from=$1 to=$2 src
	src=$(wl_dir "$from")
	STATS=$(zm "$from" migrate "$CR_CID" --to "$to" --print-stats 2>"$CR_T/migrate.err")
	local rc=$?
	[ $rc -eq 0 ] && wl_follow "$src" "$to"
	return $rc
}
stat_of() { jq -r ".$1" <<<"$STATS"; }
# the state of the last move NODE started, in NODE's journal or in TARGET's
last_src_id() { zm "$1" moves --format json | jq -r '[.[] | select(.role == "source")] | last | .id'; }
move_state() { zm "$1" moves --format json | jq -r --arg id "$2" '.[] | select(.id == $id) | .state'; }

full_pages=$((MIB * 256))
seq=(A B A B A)
for ((i = 1; i < ${#seq[@]}; i++)); do
	from=${seq[i - 1]} to=${seq[i]} h="move $i $from→$to"
	if [ "$i" -gt 1 ]; then
		t_wl_write "$h" "$from" $K || break
	fi
	t_wl_verify "$h: before" "$from" || break
	d=$WL_DIGEST
	if ! move "$from" "$to"; then
		t_fail "$h: migrate" "$(cat "$CR_T/migrate.err")" "$STATS"
		break
	fi
	t_ok "$h: migrate ($(stat_of downtime_s) s downtime, $(stat_of total_s) s total)"
	t_diag "$STATS"
	[ -z "$(cr_status "$from")" ] && t_ok "$h: gone from $from" || t_fail "$h: gone from $from" "$(cr_status "$from")"
	[ "$(cr_status "$to")" = running ] && t_ok "$h: running on $to" || t_fail "$h: running on $to" "$(cr_status "$to")"
	t_wl_verify "$h: after" "$to" "$d" || break
	pages=$(stat_of bytes_pages)
	if [ "$i" = 1 ]; then
		t_range "$h: the full image's pages were sent (bytes_pages)" "$pages" $((full_pages * PAGE * 9 / 10)) $((full_pages * PAGE * 11 / 10))
		t_range "$h: the Bundle was sent (bytes_bundle)" "$(stat_of bytes_bundle)" 100000
		[ "$(stat_of diff)" = false ] && t_ok "$h: a full image" || t_fail "$h: a full image" "$STATS"
	else
		[ "$(stat_of diff)" = true ] && t_ok "$h: a diff" || t_fail "$h: a diff" "$STATS"
		t_range "$h: only the diff was sent (bytes_pages <= 1.2 x $K pages + 256 KiB)" "$pages" $((K * PAGE)) $((K * PAGE * 12 / 10 + 262144))
		t_range "$h: no Bundle sent (held by $to)" "$(stat_of bytes_bundle)" 0 0
		t_range "$h: metadata bytes" "$(stat_of bytes_metadata)" 1 $((2 * 1048576))
	fi
done
here=${seq[$((${#seq[@]} - 1))]}
[ "$i" -eq ${#seq[@]} ] && t_ok "all $((i - 1)) moves done" || here=$(for n in A B; do [ "$(cr_status $n)" = running ] && echo $n; done | head -n1)
[ -n "$here" ] || { t_fail "the container runs somewhere" "on no node"; t_done; exit; }

# ---- refused peers ----
t_wl_verify "before the refused moves" "$here" || { t_done; exit; }
d=$WL_DIGEST
if out=$(zm "$here" migrate "$CR_CID" --to X 2>&1); then
	t_fail "a node with another CA's certificate is refused" "$out"
else
	grep -qi "certificate\|handshake" <<<"$out" && t_ok "a node with another CA's certificate is refused: $out" ||
		t_fail "a node with another CA's certificate is refused" "$out"
fi
if [ "$here" = A ]; then
	if out=$(zm A migrate "$CR_CID" --to impostor 2>&1); then
		t_fail "a node presenting another node's certificate is refused" "$out"
	else
		t_ok "a node presenting another node's certificate is refused: $out"
	fi
fi
[ "$(cr_status "$here")" = running ] && t_ok "still running on $here" || t_fail "still running on $here" "$(cr_status "$here")"
t_wl_verify "memory after the refused moves" "$here" "$d"
grep -q "refused a connection.*X\|refused a connection" "$CR_T/X/agent.log" && t_ok "X refused the connection from $here (its CA differs)" ||
	t_fail "X refused the connection" "$(tail -n 5 "$CR_T/X/agent.log")"
n0=$(grep -c "refused a connection" "$CR_T/A/agent.log")
ip netns exec "${AG_NS}C" gnutls-cli --x509cafile "$CR_T/pki/ca/ca.pem" -p $AG_PORT "${AG_IP[A]}" --verify-hostname A \
	</dev/null >"$CR_T/cli1.log" 2>&1
ip netns exec "${AG_NS}C" gnutls-cli --x509cafile "$CR_T/pki/ca/ca.pem" --x509certfile "$CR_T/pki/X/X.pem" \
	--x509keyfile "$CR_T/pki/X/X-key.pem" -p $AG_PORT "${AG_IP[A]}" --verify-hostname A </dev/null >"$CR_T/cli2.log" 2>&1
sleep 0.5
n1=$(grep -c "refused a connection" "$CR_T/A/agent.log")
t_range "A refused a TLS client without a certificate and one with a foreign certificate" $((n1 - n0)) 2 2

# ---- hostile requests from an authenticated peer (C) ----
tgt=A
[ "$here" = A ] && tgt=B
before=$(tree_sum "$CR_T/$tgt/store")
hostile() {
	ip netns exec "${AG_NS}C" /usr/bin/python3 "$CR_TOP/tests/agent/hostile.py" "${AG_IP[$tgt]}" $AG_PORT "$tgt" \
		"$CR_T/pki/ca/ca.pem" "$CR_T/pki/C/C.pem" "$CR_T/pki/C/C-key.pem" "$1" "$CR_CID" 2>&1
}
for sc in "badjson:message from C" "oversize:bad length" "badid:invalid container id" \
	"traversal:invalid name, digest or size" "lie:the manifest says" "huge:invalid name, digest or size" \
	"commit:commit before the image was received"; do
	name=${sc%%:*} want=${sc#*:}
	out=$(hostile "$name")
	sleep 0.2
	if grep -qF "$want" "$CR_T/$tgt/agent.log"; then
		t_ok "hostile peer, $name: refused ($want)"
	else
		t_fail "hostile peer, $name: refused ($want)" "answer: $out" "$(tail -n 3 "$CR_T/$tgt/agent.log")"
	fi
done
[ ! -e /tmp/zs-hostile ] && t_ok "hostile peer: nothing written outside the store" || t_fail "hostile peer: nothing written outside the store" "/tmp/zs-hostile exists"
after=$(tree_sum "$CR_T/$tgt/store")
[ "$before" = "$after" ] && t_ok "hostile peer: $tgt's store unchanged" ||
	t_fail "hostile peer: $tgt's store unchanged" "$(find "$CR_T/$tgt/store" -newer "$CR_T/$tgt/agent.sock" | head)"
n=$(zm "$tgt" moves --format json | jq '[.[] | select(.id | startswith("mhostile")) | select(.state != "aborted")] | length')
t_range "hostile peer: every move it began is aborted in $tgt's journal" "$n" 0 0
[ -z "$(cr_status "$tgt")" ] && t_ok "hostile peer: no container on $tgt" || t_fail "hostile peer: no container on $tgt" "$(cr_status "$tgt")"
peer=$(zm "$tgt" moves --format json | jq -r '.[] | select(.id == "mhostile-lie") | .peer')
[ "$peer" = C ] && t_ok "the peer of a move is the name in its certificate (C)" || t_fail "the peer is the certificate's name" "$peer"

# an expired certificate signed by the cluster CA is refused too
cat >"$CR_T/pki/expired.tmpl" <<EOT
cn = "C"
dns_name = "C"
tls_www_client
signing_key
activation_date = "2020-01-01 00:00:00"
expiration_date = "2021-01-01 00:00:00"
EOT
certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$CR_T/pki/expired-key.pem" 2>/dev/null &&
	certtool --generate-certificate --load-privkey "$CR_T/pki/expired-key.pem" --load-ca-certificate "$CR_T/pki/ca/ca.pem" \
		--load-ca-privkey "$CR_T/pki/ca/ca-key.pem" --template "$CR_T/pki/expired.tmpl" --outfile "$CR_T/pki/expired.pem" 2>/dev/null
n0=$(grep -c "refused a connection" "$CR_T/$tgt/agent.log")
ip netns exec "${AG_NS}C" /usr/bin/python3 "$CR_TOP/tests/agent/hostile.py" "${AG_IP[$tgt]}" $AG_PORT "$tgt" \
	"$CR_T/pki/ca/ca.pem" "$CR_T/pki/expired.pem" "$CR_T/pki/expired-key.pem" badjson "$CR_CID" >/dev/null 2>&1
sleep 0.3
n1=$(grep -c "refused a connection" "$CR_T/$tgt/agent.log")
t_range "a peer with an expired certificate is refused" $((n1 - n0)) 1 1

# ---- failures: the container must run again on the source ----
if [ "$here" != A ]; then
	move "$here" A || { t_fail "back to A" "$(cat "$CR_T/migrate.err")"; t_done; exit; }
	here=A
fi
t_wl_write "failure 1: before" A $K
t_wl_verify "failure 1: before" A
d=$WL_DIGEST
touch "$CR_T/fail-restore"
if out=$(zm A migrate "$CR_CID" --to B 2>&1); then
	t_fail "failure 1: a restore that fails on B fails the move" "$out"
else
	grep -q "injected restore failure" <<<"$out" && t_ok "failure 1: a restore that fails on B fails the move, naming why" ||
		t_fail "failure 1: the error names the restore failure" "$out"
	t_diag "$out"
fi
rm -f "$CR_T/fail-restore"
[ "$(cr_status A)" = running ] && t_ok "failure 1: running again on A" || t_fail "failure 1: running again on A" "$(cr_status A)"
[ -z "$(cr_status B)" ] && t_ok "failure 1: not on B" || t_fail "failure 1: not on B" "$(cr_status B)"
t_wl_verify "failure 1: memory on A" A "$d"
mid=$(last_src_id A)
st=$(move_state A "$mid")
[ "$st" = rolled-back ] && t_ok "failure 1: A's journal says rolled-back" || t_fail "failure 1: A's journal" "$st"
st=$(move_state B "$mid")
[ "$st" = aborted ] && t_ok "failure 1: B's journal says aborted" || t_fail "failure 1: B's journal" "$st"
t_check "failure 1: B's store verifies" z B remnant verify "$CR_CID"

# failure 2: B's agent SIGKILLed while the image is on its way, restarted
t_wl_write "failure 2: before" A $K
t_wl_verify "failure 2: before" A
d=$WL_DIGEST
# (B's link shaped to 100 Mbit/s: the image takes seconds to arrive)
tc qdisc add dev "zv$$B" root tbf rate 100mbit burst 64kb latency 400ms || t_fail "tbf on B's link"
zm A migrate "$CR_CID" --to B >"$CR_T/m2.out" 2>&1 &
mpid=$!
killed=
for ((j = 0; j < 2000; j++)); do
	if grep -lq '"state": "receiving"' "$CR_T/B/agent"/moves/*.json 2>/dev/null &&
		grep -l '"state": "receiving"' "$CR_T/B/agent"/moves/*.json | xargs grep -q '"img_dir"'; then
		ag_kill B KILL
		killed=1
		break
	fi
	sleep 0.005
done
[ -n "$killed" ] && t_ok "failure 2: B's agent SIGKILLed while receiving" || t_fail "failure 2: B's agent SIGKILLed while receiving" "never saw it receive"
sleep 1
[ -n "$killed" ] && { ag_start B A C -- --runtime "$CR_T/zanshin-B" || t_fail "failure 2: B's agent restarts"; }
wait $mpid
tc qdisc del dev "zv$$B" root 2>/dev/null
t_diag "migrate said: $(cat "$CR_T/m2.out")"
for ((j = 0; j < 100; j++)); do [ "$(cr_status A)" = running ] && break; sleep 0.2; done
[ "$(cr_status A)" = running ] && t_ok "failure 2: running again on A" || t_fail "failure 2: running again on A" "$(cr_status A)"
[ -z "$(cr_status B)" ] && t_ok "failure 2: not on B" || t_fail "failure 2: not on B" "$(cr_status B)"
t_wl_verify "failure 2: memory on A" A "$d"
mid=$(last_src_id A)
st=$(move_state B "$mid")
[ "$st" = aborted ] && t_ok "failure 2: B's journal says aborted (recovered at restart)" || t_fail "failure 2: B's journal" "$st"
t_check "failure 2: B's store verifies" z B remnant verify "$CR_CID"
if ls -d "$CR_T/B/store/containers/$CR_CID/generations"/.tmp-* >/dev/null 2>&1; then
	t_fail "failure 2: no half-written generation left on B" "$(ls -a "$CR_T/B/store/containers/$CR_CID/generations")"
else
	t_ok "failure 2: no half-written generation left on B"
fi

# failure 3: A's agent SIGKILLed while it sends the full image to C, restarted
t_wl_write "failure 3: before" A $K
t_wl_verify "failure 3: before" A
d=$WL_DIGEST
zm A migrate "$CR_CID" --to C >"$CR_T/m3.out" 2>&1 &
mpid=$!
killed=
for ((j = 0; j < 4000; j++)); do
	if grep -lq '"state": "sending"' "$CR_T/A/agent"/moves/*.json 2>/dev/null; then
		ag_kill A KILL
		killed=1
		break
	fi
	sleep 0.005
done
[ -n "$killed" ] && t_ok "failure 3: A's agent SIGKILLed while sending" || t_fail "failure 3: A's agent SIGKILLed while sending" "never saw it send"
wait $mpid
t_diag "migrate said: $(cat "$CR_T/m3.out")"
[ -z "$(cr_status A)" ] && t_ok "failure 3: the container was checkpointed (gone from A) when the agent died" ||
	t_diag "failure 3: the container was still on A: $(cr_status A)"
[ -n "$killed" ] && { ag_start A B C D X impostor=C || t_fail "failure 3: A's agent restarts"; }
[ "$(cr_status A)" = running ] && t_ok "failure 3: running again on A (rolled back at restart)" || t_fail "failure 3: running again on A" "$(cr_status A)" "$(tail -n 5 "$CR_T/A/agent.log")"
[ -z "$(cr_status C)" ] && t_ok "failure 3: not on C" || t_fail "failure 3: not on C" "$(cr_status C)"
t_wl_verify "failure 3: memory on A" A "$d"
mid=$(last_src_id A)
st=$(move_state A "$mid")
[ "$st" = rolled-back ] && t_ok "failure 3: A's journal says rolled-back" || t_fail "failure 3: A's journal" "$st"
for ((j = 0; j < 50; j++)); do
	st=$(move_state C "$mid")
	[ "$st" = aborted ] && break
	sleep 0.1
done
[ "$st" = aborted ] && t_ok "failure 3: C's journal says aborted" || t_fail "failure 3: C's journal" "$st"
if ls -d "$CR_T/C/store/containers/$CR_CID/generations"/.tmp-* >/dev/null 2>&1; then
	t_fail "failure 3: no half-written generation left on C" "$(ls -a "$CR_T/C/store/containers/$CR_CID/generations")"
else
	t_ok "failure 3: no half-written generation left on C"
fi

# failure 3b: the link to C is cut while the image is on its way (the link
# shaped to 100 Mbit/s, so that the transfer lasts a few seconds)
tc qdisc add dev "zv$$C" root tbf rate 100mbit burst 64kb latency 400ms || t_fail "tbf on C's link"
t_wl_verify "link cut: before" A
d=$WL_DIGEST
zm A migrate "$CR_CID" --to C >"$CR_T/m3b.out" 2>&1 &
mpid=$!
cut=
for ((j = 0; j < 4000; j++)); do
	if grep -lq '"state": "sending"' "$CR_T/A/agent"/moves/*.json 2>/dev/null; then
		sleep 0.3
		ip link set "zv$$C" down
		cut=1
		break
	fi
	sleep 0.005
done
[ -n "$cut" ] && t_ok "link cut: C's link down while A sends" || t_fail "link cut: C's link down while A sends" "never saw it send"
wait $mpid
rc=$?
t_diag "migrate said: $(cat "$CR_T/m3b.out")"
[ $rc -ne 0 ] && grep -q "runs again on node A" "$CR_T/m3b.out" && t_ok "link cut: the move fails and says the container runs again on A" ||
	t_fail "link cut: the move fails and says the container runs again on A" "$(cat "$CR_T/m3b.out")"
ip link set "zv$$C" up
tc qdisc del dev "zv$$C" root 2>/dev/null
[ "$(cr_status A)" = running ] && t_ok "link cut: running again on A" || t_fail "link cut: running again on A" "$(cr_status A)"
[ -z "$(cr_status C)" ] && t_ok "link cut: not on C" || t_fail "link cut: not on C" "$(cr_status C)"
t_wl_verify "link cut: memory on A" A "$d"
mid=$(last_src_id A)
for ((j = 0; j < 150; j++)); do
	st=$(move_state C "$mid")
	[ "$st" = aborted ] && break
	sleep 0.1
done
[ "$st" = aborted ] && t_ok "link cut: C's journal says aborted (C gave the silent source up)" || t_fail "link cut: C's journal" "$st"
if ls -d "$CR_T/C/store/containers/$CR_CID/generations"/.tmp-* >/dev/null 2>&1; then
	t_fail "link cut: no half-written generation left on C" "$(ls -a "$CR_T/C/store/containers/$CR_CID/generations")"
else
	t_ok "link cut: no half-written generation left on C"
fi

# cancel: `zanshin move cancel` while the image travels (the link shaped again)
tc qdisc add dev "zv$$C" root tbf rate 100mbit burst 64kb latency 400ms || t_fail "tbf on C's link"
t_wl_verify "cancel: before" A
d=$WL_DIGEST
old_recs=$(ls "$CR_T/A/agent/moves/")
zm A migrate "$CR_CID" --to C >"$CR_T/m6.out" 2>&1 &
mpid=$!
cid=
for ((j = 0; j < 4000; j++)); do
	for f in "$CR_T/A/agent"/moves/*.json; do
		grep -qxF "$(basename "$f")" <<<"$old_recs" && continue
		grep -q '"state": "sending"' "$f" && cid=$(basename "$f" .json)
	done
	[ -n "$cid" ] && break
	sleep 0.005
done
if [ -n "$cid" ] && out=$(zm A move cancel "$cid" 2>&1); then
	grep -q "rolled-back" <<<"$out" && t_ok "cancel: $out" || t_fail "cancel: the move is rolled back" "$out"
else
	t_fail "cancel: zanshin move cancel while sending" "${cid:-never saw it send}: $out"
fi
wait $mpid
rc=$?
tc qdisc del dev "zv$$C" root 2>/dev/null
[ $rc -ne 0 ] && grep -q "cancelled by request" "$CR_T/m6.out" && t_ok "cancel: migrate fails, saying it was cancelled" ||
	t_fail "cancel: migrate fails, saying it was cancelled" "$(cat "$CR_T/m6.out")"
[ "$(cr_status A)" = running ] && t_ok "cancel: running again on A" || t_fail "cancel: running again on A" "$(cr_status A)"
[ -z "$(cr_status C)" ] && t_ok "cancel: not on C" || t_fail "cancel: not on C" "$(cr_status C)"
t_wl_verify "cancel: memory on A" A "$d"
for ((j = 0; j < 100; j++)); do
	st=$(move_state C "$cid")
	[ "$st" = aborted ] && break
	sleep 0.1
done
[ "$st" = aborted ] && t_ok "cancel: C's journal says aborted" || t_fail "cancel: C's journal" "$st"
out=$(zm A move cancel "$cid" 2>&1) && t_fail "cancel of an ended move is an error" "$out" ||
	{ grep -q "already ended" <<<"$out" && t_ok "cancel of an ended move: $out" || t_fail "cancel of an ended move: clear error" "$out"; }

# failure 4: the target's disk is too small for the image
t_wl_verify "failure 4: before" A
d=$WL_DIGEST
if out=$(zm A migrate "$CR_CID" --to D 2>&1); then
	t_fail "failure 4: a move to a full disk fails" "$out"
else
	grep -q "not enough space" <<<"$out" && t_ok "failure 4: a move to a full disk fails, naming why" ||
		t_fail "failure 4: the error names the full disk" "$out" "$(tail -n 2 "$CR_T/D/agent.log")"
fi
[ "$(cr_status A)" = running ] && t_ok "failure 4: running again on A" || t_fail "failure 4: running again on A" "$(cr_status A)"
[ -z "$(cr_status D)" ] && t_ok "failure 4: not on D" || t_fail "failure 4: not on D" "$(cr_status D)"
t_wl_verify "failure 4: memory on A" A "$d"
n=$(find "$CR_T/D/store" -mindepth 4 -maxdepth 4 2>/dev/null | wc -l)
t_range "failure 4: nothing written in D's store" "$n" 0 0

# 5: B's agent SIGKILLed while its restore runs, restarted: the move
# completes (the restore it started finishes; the source asks B)
t_wl_write "kill while restoring: before" A $K
t_wl_verify "kill while restoring: before" A
d=$WL_DIGEST
src=$(wl_dir A)
old_recs=$(ls "$CR_T/B/agent/moves/")
new_restoring() {
	local f
	for f in "$CR_T/B/agent"/moves/*.json; do
		grep -qxF "$(basename "$f")" <<<"$old_recs" && continue
		grep -q '"state": "restoring"' "$f" && grep -qE '"restore_pid": ?[1-9]' "$f" && return 0
	done
	return 1
}
t_diag "B's moves before: $(zm B moves --format json | jq -c '[.[] | [.id, .state]]')"
zm A migrate "$CR_CID" --to B >"$CR_T/m5.out" 2>&1 &
mpid=$!
killed=
for ((j = 0; j < 4000; j++)); do
	# once the restore of this move runs (its pid is in the journal)
	if new_restoring; then
		ag_kill B KILL
		killed=1
		break
	fi
	sleep 0.005
done
[ -n "$killed" ] && t_ok "kill while restoring: B's agent SIGKILLed while restoring" || t_fail "kill while restoring: B's agent SIGKILLed while restoring" "never saw it restore"
sleep 0.5
ag_start B A C -- --runtime "$CR_T/zanshin-B" || t_fail "kill while restoring: B's agent restarts"
wait $mpid
rc=$?
t_diag "migrate said: $(cat "$CR_T/m5.out")"
[ $rc -eq 0 ] && t_ok "kill while restoring: the move succeeded" || t_fail "kill while restoring: the move succeeded" "$(cat "$CR_T/m5.out")"
[ "$(cr_status B)" = running ] && t_ok "kill while restoring: running on B" || t_fail "kill while restoring: running on B" "$(cr_status B)"
[ -z "$(cr_status A)" ] && t_ok "kill while restoring: not on A" || t_fail "kill while restoring: not on A" "$(cr_status A)"
wl_follow "$src" B
t_wl_verify "kill while restoring: memory on B" B "$d"
mid=$(last_src_id A)
st=$(move_state A "$mid")
[ "$st" = done ] && t_ok "kill while restoring: A's journal says done" || t_fail "kill while restoring: A's journal" "$st"
st=$(move_state B "$mid")
[ "$st" = running ] && t_ok "kill while restoring: B's journal says running (recovered at restart)" || t_fail "kill while restoring: B's journal" "$st"
here=B

# after the failures the container still moves, as a diff
t_wl_write "after the failures" B $K
t_wl_verify "after the failures: before" B
d=$WL_DIGEST
if move B A; then
	[ "$(stat_of diff)" = true ] && t_ok "after the failures: B→A, a diff ($(stat_of bytes_pages) page bytes)" ||
		t_fail "after the failures: B→A, a diff" "$STATS"
	t_wl_verify "after the failures: memory on A" A "$d"
	here=A
else
	t_fail "after the failures: B→A" "$(cat "$CR_T/migrate.err")"
fi

# ---- a second container from the same image reuses the rootfs ----
# two busybox `sleep` containers on A with identical rootfs copies: the
# first one's move sends its rootfs, the second one's only its config.json
sleeper() {
	local n=$2
	mkdir -p "$CR_T/A/$n"
	cp -a "$CR_T/rootfs" "$CR_T/A/$n/rootfs"
	cr_config 1 "$CR_CG/$n" | jq '.process.args = ["sleep", "100000000"]' >"$CR_T/A/$n/config.json"
	cr_pipes
	z A run -d --bundle "$CR_T/A/$n" "$1" <&"$CR_IN" >&"$CR_OUT" 2>&"$CR_OUT"
}
s2=$CR_CID-s2 s3=$CR_CID-s3
if sleeper "$s2" s2 && sleeper "$s3" s3; then
	t_ok "two sleepers run on A"
	sst() { z "$1" state "$2" 2>/dev/null | jq -r '.status // empty'; }
	if STATS=$(zm A migrate "$s2" --to B --print-stats --progress none 2>&1); then
		t_range "sleeper 1 → B: its rootfs is sent" "$(stat_of bytes_bundle)" 1000000
		[ "$(stat_of rootfs_reused)" = false ] || t_diag "$STATS"
	else
		t_fail "sleeper 1 → B" "$STATS"
	fi
	if STATS=$(zm A migrate "$s3" --to B --print-stats --progress none 2>&1); then
		t_range "sleeper 2 → B: only its config.json is sent (the rootfs B holds is copied locally)" "$(stat_of bytes_bundle)" 1 65536
		t_diag "$STATS"
	else
		t_fail "sleeper 2 → B" "$STATS"
	fi
	[ "$(sst B "$s2")" = running ] && [ "$(sst B "$s3")" = running ] && t_ok "both sleepers run on B" ||
		t_fail "both sleepers run on B" "$(sst B "$s2") $(sst B "$s3")"
	r2=$(z B state "$s2" | jq -r .rootfs) r3=$(z B state "$s3" | jq -r .rootfs)
	if [ "$r2" != "$r3" ] && [ "$(stat -c %i "$r2/bin/busybox")" != "$(stat -c %i "$r3/bin/busybox")" ] &&
		cmp -s "$r2/bin/busybox" "$r3/bin/busybox"; then
		t_ok "the second sleeper's rootfs on B is a copy of the first one's with its own inodes"
	else
		t_fail "the second sleeper's rootfs on B is a copy with its own inodes" "$r2 $r3"
	fi
	echo zs-mine >>"$r2/etc/hostname" 2>/dev/null
	if ! grep -q zs-mine "$r3/etc/hostname" 2>/dev/null; then
		t_ok "a write into one sleeper's rootfs does not reach the other's"
	else
		t_fail "a write into one sleeper's rootfs reached the other's"
	fi
	z B delete -f "$s2" >/dev/null 2>&1
	z B delete -f "$s3" >/dev/null 2>&1
else
	t_fail "two sleepers run on A" "$(tail -n 3 "$CR_T/stdout.log")"
fi

# ---- CLI bad input ----
other=A
[ "$here" = A ] && other=B
out=$(zm "$here" migrate nosuch --to $other 2>&1) && t_fail "unknown container is an error" "$out" ||
	{ grep -q 'nosuch.*does not exist' <<<"$out" && t_ok "unknown container: $out" || t_fail "unknown container: clear error" "$out"; }
out=$(zm "$here" migrate "$CR_CID" --to nowhere 2>&1) && t_fail "unknown node is an error" "$out" ||
	{ grep -q 'unknown node `nowhere`' <<<"$out" && t_ok "unknown node: $out" || t_fail "unknown node: clear error" "$out"; }
out=$(zm "$here" migrate "$CR_CID" 2>&1) && t_fail "no --to is an error" "$out" ||
	{ grep -q -- '--to' <<<"$out" && t_ok "no --to: $out" || t_fail "no --to: clear error" "$out"; }
out=$("$ZANSHIN" migrate "$CR_CID" --to A --agent-socket "$CR_T/none.sock" 2>&1) && t_fail "no agent is an error" "$out" ||
	{ grep -q 'cannot reach the node agent' <<<"$out" && t_ok "no agent: $out" || t_fail "no agent: clear error" "$out"; }
[ "$(cr_status "$here")" = running ] && t_ok "bad input changed nothing: running on $here" || t_fail "still running on $here" "$(cr_status "$here")"

# ---- moves, SIGTERM ----
n=$(zm A moves --format json | jq 'length')
t_range "zanshin moves --format json lists A's moves" "$n" 5
zm A moves | grep -q "^MOVE " && t_ok "zanshin moves prints a table" || t_fail "zanshin moves prints a table" "$(zm A moves 2>&1)"
perm=$(stat -c %a "$CR_T/A/agent.sock")
[ "$perm" = 600 ] && t_ok "the local socket is 0600" || t_fail "the local socket is 0600" "$perm"
# SIGTERM while a move is in flight: the move finishes, then the agent exits
if [ "$here" = A ]; then
	t_wl_verify "SIGTERM: before" A
	d=$WL_DIGEST
	src=$(wl_dir A)
	zm A migrate "$CR_CID" --to C >"$CR_T/m9.out" 2>&1 &
	mpid=$!
	for ((j = 0; j < 4000; j++)); do
		grep -lqE '"state": "(checkpointing|sending)"' "$CR_T/A/agent"/moves/*.json 2>/dev/null && break
		sleep 0.005
	done
	pid=${AG_PID[A]}
	kill -TERM "$pid"
	wait $mpid
	mrc=$?
	for ((j = 0; j < 200; j++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	wait "$pid"
	rc=$?
	unset "AG_PID[A]"
	[ $mrc -eq 0 ] && t_ok "SIGTERM: the move in flight finished" || t_fail "SIGTERM: the move in flight finished" "$(cat "$CR_T/m9.out")"
	[ $rc -eq 0 ] && [ ! -e "$CR_T/A/agent.sock" ] && t_ok "SIGTERM: agent A exits 0 after it, its socket removed" ||
		t_fail "SIGTERM: agent A exits 0" "rc $rc; $(tail -n 3 "$CR_T/A/agent.log")"
	if [ "$(cr_status C)" = running ]; then
		wl_follow "$src" C
		t_wl_verify "SIGTERM: memory on C" C "$d"
		here=C
	else
		t_fail "SIGTERM: running on C" "$(cr_status C) / A: $(cr_status A)"
	fi
else
	t_skip "SIGTERM while a move is in flight" "the container is not on A (an earlier step failed)"
fi
for n in A B C; do
	t_check "node $n: remnant verify" z "$n" remnant verify "$CR_CID"
done
cr_delete "$here"
t_done
