#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Move modes through the coordinator (issue 14, coordinator completeness
# item 1): two real agent nodes A and B (tests/agent/lib.sh) under a real
# zanshin-api in a namespace of its own (K), started with
# `--move-mode pre-copy --move-mode drain=post-copy`.
#   - `zanshin cluster move --mode stop-copy` A→B, `--mode post-copy` B→A,
#     and a move with no mode A→B (the default: pre-copy): each record
#     shows the mode and that mode's metrics (pre-copy rounds and their
#     bytes, post-copy's last page), and the source agent's own journal
#     shows the move ran in that mode (the order carried it);
#   - an admin drains B: the drain policy moves the container B→A in
#     post-copy (its own setting), reason drain;
#   - memory verified, every page, after every move;
#   - bad input: an unknown mode through the API (400) and the CLI, and
#     an idempotency key reused with another mode (409) change nothing;
#     `zanshin-api --move-mode` with a bad mode or policy does not start.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/../agent/lib.sh"
MIB=32
CR_MIB=$MIB
K=256 # pages written between moves
API_BIN=$CR_TOP/build/bin/zanshin-api
API_PORT=7430
[ -x "$API_BIN" ] || { echo "Bail out! $API_BIN missing: run make"; exit 1; }
cr_setup coord-modes
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
API_PID=
api_cleanup() {
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	return 0
}
trap 'api_cleanup; ag_cleanup; cr_cleanup' EXIT
ag_node A 1
ag_node B 2
ag_ns K 9 || ag_die "cannot create the coordinator's namespace"
"$AG_CERT" node coord --ca "$CR_T/pki/ca" --out "$CR_T/pki/coord" >/dev/null || ag_die "coordinator certificate"
URL=https://${AG_IP[K]}:$API_PORT
CA=$CR_T/pki/ca/ca.pem
kn() { nsenter --net="/run/netns/${AG_NS}K" -- "$@"; }
zc() { kn "$ZANSHIN" cluster --coordinator "$URL" --coordinator-name coord --ca "$CA" --token-file "$CR_T/admin.tok" "$@"; }
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 5; i++)); do "$@" && return 0; sleep 0.2; done
	return 1
}
all_up() { [ "$(zc nodes -f json | jq '[.nodes[] | select(.state == "up")] | length')" = 2 ]; }
container_on() { [ "$(zc containers -f json | jq -r --arg c "$CR_CID" '.containers[] | select(.id == $c) | .node')" = "$1" ]; }
n_moves() { zc moves -f json | jq '.moves | length'; }

# bad settings: refused at start, named
for bad in teleport evacuate=warp nobody=pre-copy; do
	out=$("$API_BIN" --db "sqlite:$CR_T/bad.db" --move-mode "$bad" --listen 127.0.0.1:1 2>&1)
	rc=$?
	[ $rc != 0 ] && grep -q -- "--move-mode \`$bad\`" <<<"$out" && t_ok "zanshin-api --move-mode $bad refused: $out" ||
		t_fail "--move-mode $bad refused" "rc $rc: $out"
done

"$API_BIN" --db "sqlite:$CR_T/coord.db" token create --role admin --name modes-test >"$CR_T/admin.tok" 2>>"$CR_T/api.log" ||
	ag_die "token"
# nsenter execs zanshin-api: $! is its pid (kn, a function, would leave it behind)
nsenter --net="/run/netns/${AG_NS}K" -- "$API_BIN" --listen "${AG_IP[K]}:$API_PORT" --cert "$CR_T/pki/coord/coord.pem" --key "$CR_T/pki/coord/coord-key.pem" \
	--ca "$CA" --db "sqlite:$CR_T/coord.db" --log "$CR_T/api.log" --node-timeout 10 --heartbeat 1 \
	--policy-interval 1 --policies drain --move-mode pre-copy --move-mode drain=post-copy \
	--web-root "$CR_TOP/coordinator/web" &
API_PID=$!
wait_for 10 zc nodes -f json >/dev/null 2>&1 || ag_die "zanshin-api did not start: $(tail -n 5 "$CR_T/api.log")"
# A node's runtime restores into the node's own cgroup (as in
# tests/agent/postcopy.sh): during a post-copy move the container exists
# on both nodes at once, and all nodes share this machine's cgroup tree
# (a test artefact: real nodes have cgroup trees of their own).
mkwrap() {
	cat >"$CR_T/zanshin-$1" <<EOS
#!/bin/bash
args=("\$@")
for ((i = 0; i < \${#args[@]}; i++)); do
	[ "\${args[i]}" = restore ] || continue
	for ((j = i; j < \${#args[@]} - 1; j++)); do
		[ "\${args[j]}" = --bundle ] || continue
		b=\${args[j + 1]} nb=$CR_T/$1/cg-bundle/\$\$
		mkdir -p "\$nb" &&
			jq --arg cg "$CR_CG/$1" --arg b "\$b" '.linux.cgroupsPath = \$cg | .root.path |= (if startswith("/") then . else \$b + "/" + . end)' "\$b/config.json" >"\$nb/config.json" &&
			args[j + 1]=\$nb
	done
done
exec "$ZANSHIN" "\${args[@]}"
EOS
	chmod +x "$CR_T/zanshin-$1"
}
for n in A B; do
	mkwrap "$n"
	ag_start "$n" -- --runtime "$CR_T/zanshin-$n" --coordinator "$URL" --coordinator-name coord || ag_die "agent $n"
done
wait_for 20 all_up && t_ok "two agents registered with the coordinator" || t_fail "two nodes up" "$(zc nodes)"

t_run A
t_wl_verify "start on A" A || { t_done; exit; }
wait_for 15 container_on A && t_ok "the coordinator sees $CR_CID on A" || t_fail "$CR_CID on A" "$(zc containers)"

# the source agent's journal record of the coordinator's move MV
agent_rec() { zm "$1" moves --format json | jq -c --arg id "$(jq -r .agent_move <<<"$2")" '.[] | select(.id == $id)'; }

# move FROM TO MODE [ARGS...]: an ordered move; MV its record
move() {
	local from=$1 to=$2 mode=$3 src rec
	shift 3
	src=$(wl_dir "$from")
	t_wl_verify "before $from→$to" "$from" || return 1
	# where it runs is known from the nodes' heartbeats (the last target's
	# may have been taken before its restore ended)
	wait_for 15 container_on "$from" || { t_fail "move $from→$to: the coordinator sees $CR_CID on $from" "$(zc containers)"; return 1; }
	if ! MV=$(zc move "$CR_CID" --to "$to" --wait --timeout 180 -f json "$@" 2>&1); then
		t_fail "move $from→$to ($mode)" "$MV" "$(tail -n 20 "$CR_T/$from/agent.log")"
		return 1
	fi
	t_ok "move $from→$to $*: $(jq -c '{mode, diff, bytes_pages, downtime_s, precopy_rounds, bytes_precopy, faults, last_page_s}' <<<"$MV")"
	[ "$(jq -r .mode <<<"$MV")" = "$mode" ] && t_ok "$from→$to: the record's mode is $mode" ||
		t_fail "$from→$to: mode $mode" "$MV"
	rec=$(agent_rec "$from" "$MV")
	[ -n "$rec" ] && [ "$(jq -r .mode <<<"$rec")" = "$mode" ] &&
		t_ok "$from→$to: $from's agent ran it in $mode (its journal, move $(jq -r .id <<<"$rec"))" ||
		t_fail "$from→$to: the agent's mode" "$rec" "$(zm "$from" moves)"
	wl_follow "$src" "$to"
	t_wl_verify "after $from→$to ($mode)" "$to" "$WL_DIGEST"
}

move A B stop-copy --mode stop-copy || { t_done; exit; }
jq -e '.precopy_rounds == null and .faults == null and .bytes_pages > 0' <<<"$MV" >/dev/null &&
	t_ok "stop-copy: no pre-copy rounds, no faults" || t_fail "stop-copy metrics" "$MV"

t_wl_write "on B" B $K
move B A post-copy --mode post-copy || { t_done; exit; }
jq -e '.last_page_s != null and .faults != null and .precopy_rounds == null' <<<"$MV" >/dev/null &&
	t_ok "post-copy: the last page's time and the faults are recorded" || t_fail "post-copy metrics" "$MV"

# bad input changes nothing
before=$(n_moves)
tok=$(head -1 "$CR_T/admin.tok")
code=$(kn curl -sS --cacert "$CA" --resolve "coord:$API_PORT:${AG_IP[K]}" -o "$CR_T/bad.out" -w '%{http_code}' \
	-H "Authorization: Bearer $tok" -X POST "https://coord:$API_PORT/v1/moves" \
	--data-binary '{"container":"'"$CR_CID"'","to":"B","mode":"teleport"}')
[ "$code" = 400 ] && grep -q "mode: .teleport. is not stop-copy, pre-copy or post-copy" "$CR_T/bad.out" &&
	t_ok "API: mode teleport: 400, named ($(cat "$CR_T/bad.out"))" || t_fail "API: bad mode" "$code $(cat "$CR_T/bad.out")"
out=$(zc move "$CR_CID" --to B --mode warp 2>&1) && t_fail "CLI: --mode warp accepted" "$out" ||
	{ grep -q "warp" <<<"$out" && t_ok "CLI: --mode warp refused: $out" || t_fail "CLI: --mode warp named" "$out"; }
[ "$(n_moves)" = "$before" ] && t_ok "no move recorded by the bad orders" || t_fail "moves unchanged" "$(zc moves)"
# a node's report with a bad mode or negative mode metrics: 400, the record unchanged
mid=$(jq -r .id <<<"$MV")
rec_before=$(zc moves "$mid" -f json)
for body in '{"state":"done","mode":"warp"}' '{"state":"done","precopy_rounds":-1}' '{"state":"done","last_page_s":-2.5}'; do
	code=$(kn curl -sS --cacert "$CA" --resolve "coord:$API_PORT:${AG_IP[K]}" -o "$CR_T/bad.out" -w '%{http_code}' \
		--cert "$CR_T/pki/B/B.pem" --key "$CR_T/pki/B/B-key.pem" -X POST "https://coord:$API_PORT/v1/moves/$mid/report" \
		--data-binary "$body")
	[ "$code" = 400 ] && t_ok "report $body: 400 ($(cat "$CR_T/bad.out"))" || t_fail "report $body refused" "$code $(cat "$CR_T/bad.out")"
done
[ "$(zc moves "$mid" -f json)" = "$rec_before" ] && t_ok "the move's record is unchanged" ||
	t_fail "record unchanged" "$rec_before" "$(zc moves "$mid" -f json)"

t_wl_write "on A" A $K
move A B pre-copy --idempotency-key modes-k1 || { t_done; exit; }
jq -e '.precopy_rounds >= 1 and .bytes_precopy > 0 and .faults == null' <<<"$MV" >/dev/null &&
	t_ok "the default (--move-mode pre-copy): $(jq -r .precopy_rounds <<<"$MV") rounds, $(jq -r .bytes_precopy <<<"$MV") bytes before the freeze" ||
	t_fail "pre-copy metrics" "$MV"
rec=$(agent_rec A "$MV")
[ "$(jq '.precopy_rounds | length' <<<"$rec")" = "$(jq .precopy_rounds <<<"$MV")" ] &&
	t_ok "the record's rounds are the agent's" || t_fail "rounds as the agent's" "$rec" "$MV"
out=$(zc move "$CR_CID" --to A --mode stop-copy --idempotency-key modes-k1 2>&1) &&
	t_fail "a key reused with another mode accepted" "$out" ||
	{ grep -q "idempotency key .modes-k1. was used for another move" <<<"$out" &&
		t_ok "the key reused with another mode: refused ($out)" || t_fail "key reuse named" "$out"; }

# drain B: the drain policy's own mode, post-copy
wait_for 15 container_on B || t_fail "$CR_CID on B" "$(zc containers)"
t_wl_write "on B before the drain" B $K
t_wl_verify "on B before the drain" B || { t_done; exit; }
DIG=$WL_DIGEST
SRC=$(wl_dir B)
zc drain B >/dev/null && t_ok "drain B" || t_fail "drain B"
drain_move() { zc moves --container "$CR_CID" -f json | jq -c '[.moves[] | select(.requested_by == "policy")] | .[0] // empty'; }
drain_done() { [ "$(drain_move | jq -r .state)" = done ]; }
wait_for 120 drain_done
MV=$(drain_move)
[ "$(jq -r '[.source, .target, .state, .mode] | join(" ")' <<<"${MV:-{\}}")" = "B A done post-copy" ] &&
	t_ok "the drain policy moved $CR_CID B→A in post-copy: $(jq -r .reason <<<"$MV")" ||
	t_fail "drain move B→A post-copy" "${MV:-none}" "$(zc moves)" "$(tail -n 20 "$CR_T/api.log")"
jq -e '.reason | startswith("drain")' <<<"${MV:-{\}}" >/dev/null && t_ok "the record's reason: drain" ||
	t_fail "reason drain" "$MV"
rec=$(agent_rec B "${MV:-{\}}")
[ "$(jq -r .mode <<<"${rec:-{\}}")" = post-copy ] && t_ok "B's agent ran the drain in post-copy" ||
	t_fail "B's agent: post-copy" "$rec"
wl_follow "$SRC" A
t_wl_verify "after the drain, on A" A "$DIG"
zc moves | grep -q " post-copy " && t_ok "cluster moves shows the mode column" || t_fail "moves table: mode" "$(zc moves)"
# the web page's moves table shows each move's mode and its metrics
if command -v chromium >/dev/null; then
	tok=$(head -1 "$CR_T/admin.tok")
	CH=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
		--disable-component-update --disable-sync --ignore-certificate-errors --virtual-time-budget=8000)
	for _ in 1 2 3; do # again when the load failed (net::ERR_NETWORK_CHANGED while other tests add interfaces)
		kn timeout 90 "${CH[@]}" --user-data-dir="$(mktemp -d "$CR_T/chrome.XXXXXX")" --dump-dom "$URL/#token=$tok" \
			>"$CR_T/dom.html" 2>>"$CR_T/chrome.err"
		grep -q 'id="status"[^>]*>updated' "$CR_T/dom.html" && break
		sleep 1
	done
	grep -q 'class="mode">stop-copy<' "$CR_T/dom.html" && grep -q 'class="mode">pre-copy, [0-9]* rounds (' "$CR_T/dom.html" &&
		[ "$(grep -o 'class="mode">post-copy, [0-9]* faults, last page ' "$CR_T/dom.html" | wc -l)" = 2 ] &&
		t_ok "web page: every move's mode with its metrics" ||
		t_fail "web page: modes" "$(grep -o 'class="mode">[^<]*' "$CR_T/dom.html")"
else
	t_skip "web page in headless Chromium" "chromium not installed (scripts/deps.sh installs it)"
fi
ag_kill A
ag_kill B
t_done
