#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The coordinator's policies end to end (issue 14 item 6, "How it is
# proven"): three real agent nodes A, B, C (tests/agent/lib.sh) under a real
# zanshin-api in a namespace of its own (K).  The container runs on A, moves
# to B and back (so B holds its remnants: a generation and the Bundle),
# then a timetable is imported whose class starts on A in a minute.  Without
# anyone ordering anything, the policy loop evacuates A before the class
# starts, and the scheduler sends the container to B (the node holding its
# remnants), not to C: a diff, memory verified, the record giving the reason,
# bytes and downtime.  Then B's agent gets SIGTERM (a PC shutting down): the
# policy moves the container to C (A is in class) before the agent exits.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/../agent/lib.sh"
MIB=32
CR_MIB=$MIB
K=256 # pages written between moves
API_BIN=$CR_TOP/build/bin/zanshin-api
API_PORT=7430
[ -x "$API_BIN" ] || { echo "Bail out! $API_BIN missing: run make"; exit 1; }
cr_setup coord-policy
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
ag_node C 3
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
all_up() { [ "$(zc nodes -f json | jq '[.nodes[] | select(.state == "up")] | length')" = 3 ]; }
container_on() { [ "$(zc containers -f json | jq -r --arg c "$CR_CID" '.containers[] | select(.id == $c) | .node')" = "$1" ]; }
remnant_on() { zc remnants "$CR_CID" -f json | jq -e --arg n "$1" '.generations[] | select(.node == $n)' >/dev/null; }

"$API_BIN" --db "sqlite:$CR_T/coord.db" token create --role admin --name policy-test >"$CR_T/admin.tok" 2>>"$CR_T/api.log" ||
	ag_die "token"
# nsenter execs zanshin-api: $! is its pid (kn, a function, would leave it behind)
nsenter --net="/run/netns/${AG_NS}K" -- "$API_BIN" --listen "${AG_IP[K]}:$API_PORT" --cert "$CR_T/pki/coord/coord.pem" --key "$CR_T/pki/coord/coord-key.pem" \
	--ca "$CA" --db "sqlite:$CR_T/coord.db" --log "$CR_T/api.log" --node-timeout 10 --heartbeat 1 \
	--policy-interval 1 --lead 900 --web-root "$CR_TOP/coordinator/web" &
API_PID=$!
wait_for 10 zc nodes -f json >/dev/null || ag_die "zanshin-api did not start: $(tail -n 5 "$CR_T/api.log")"
for n in A B C; do
	ag_start "$n" -- --coordinator "$URL" --coordinator-name coord --drain-timeout 90 || ag_die "agent $n"
done
wait_for 20 all_up && t_ok "three agents registered with the coordinator" || t_fail "three nodes up" "$(zc nodes)"

t_run A
t_wl_verify "start on A" A || { t_done; exit; }
wait_for 15 container_on A && t_ok "the coordinator sees $CR_CID on A" || t_fail "$CR_CID on A" "$(zc containers)"

# move FROM TO: an ordered move (to give B the container's remnants)
move() {
	local from=$1 to=$2 src out
	src=$(wl_dir "$from")
	t_wl_verify "before $from→$to" "$from" || return 1
	# the coordinator knows where it runs from the nodes' heartbeats: a
	# heartbeat of the last move's target taken before its restore ended
	# can leave it unknown for a beat
	wait_for 15 container_on "$from" || { t_fail "move $from→$to: the coordinator sees $CR_CID on $from" "$(zc containers)"; return 1; }
	if ! out=$(zc move "$CR_CID" --to "$to" --wait --timeout 120 -f json 2>&1); then
		t_fail "move $from→$to" "$out" "$(tail -n 20 "$CR_T/$from/agent.log")"
		return 1
	fi
	t_ok "move $from→$to ($(jq -r '"diff: \(.diff), pages \(.bytes_pages) B, downtime \(.downtime_s) s"' <<<"$out"))"
	wl_follow "$src" "$to"
	t_wl_verify "after $from→$to" "$to" "$WL_DIGEST"
}
move A B || { t_done; exit; }
t_wl_write "on B" B $K
move B A || { t_done; exit; }
wait_for 15 remnant_on B && wait_for 15 container_on A && t_ok "B holds $CR_CID's remnants, $CR_CID runs on A" ||
	t_fail "B's remnants" "$(zc remnants "$CR_CID")"
out=$(zc place "$CR_CID" --explain -f json)
[ "$(jq -r .target <<<"$out")" = B ] && t_ok "the scheduler would choose B: $(jq -c '[.nodes[] | [.node, .reason, .cost]]' <<<"$out")" ||
	t_fail "place: B" "$out"
t_wl_write "on A again" A $K
t_wl_verify "on A before the class" A || { t_done; exit; }
DIG=$WL_DIGEST
SRC=$(wl_dir A)

# a class on A in a minute
now=$(date +%s)
start=$((now + 60))
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//zanshin//policy test//EN\r\nBEGIN:VEVENT\r\nUID:os-1\r\nSUMMARY:Operating systems\r\nDTSTART:%s\r\nDTEND:%s\r\nRRULE:FREQ=WEEKLY;COUNT=12\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
	"$(date -u -d "@$start" +%Y%m%dT%H%M%SZ)" "$(date -u -d "@$((start + 5400))" +%Y%m%dT%H%M%SZ)" >"$CR_T/a.ics"
out=$(zc timetable import "$CR_T/a.ics" --room A 2>&1) && t_ok "timetable: class on A at $(date -u -d "@$start" +%T) ($out)" ||
	t_fail "timetable import" "$out"

policy_move() { zc moves --container "$CR_CID" -f json | jq -c '[.moves[] | select(.requested_by == "policy")] | .[0] // empty'; }
policy_done() { [ "$(policy_move | jq -r .state)" = done ]; }
wait_for 55 policy_done
done_at=$(date +%s)
MV=$(policy_move)
[ "$(jq -r '[.source, .target, .state] | join(" ")' <<<"${MV:-{\}}")" = "A B done" ] &&
	t_ok "the policy moved $CR_CID A→B by itself: $(jq -r .reason <<<"$MV")" ||
	t_fail "policy move A→B" "${MV:-none}" "$(zc moves)" "$(tail -n 20 "$CR_T/api.log")"
[ "$done_at" -lt "$start" ] && t_ok "done $((start - done_at)) s before the class starts" ||
	t_fail "done before the class" "done at $done_at, class at $start"
jq -e '.reason | startswith("evacuate: a class starts on A")' <<<"${MV:-{\}}" >/dev/null &&
	t_ok "the record gives the reason" || t_fail "reason" "$MV"
jq -e '.diff == true and .downtime_s > 0 and .bytes_pages > 0' <<<"${MV:-{\}}" >/dev/null &&
	t_ok "to the remnant holder: a diff, $(jq -r '"pages \(.bytes_pages) B, Bundle \(.bytes_bundle) B, downtime \(.downtime_s) s"' <<<"$MV") (container $MIB MiB)" ||
	t_fail "a diff with metrics" "$MV"
[ "$(jq -r .bytes_pages <<<"${MV:-{\}}")" -lt $((MIB * 1024 * 1024 / 2)) ] 2>/dev/null &&
	t_ok "pages sent are less than half the container's memory" || t_fail "small diff" "$MV"
wl_follow "$SRC" B
[ "$(cr_status B)" = running ] && t_ok "running on B" || t_fail "running on B" "$(cr_status B)"
[ -z "$(cr_status A)" ] && t_ok "A is empty" || t_fail "gone from A" "$(cr_status A)"
[ -z "$(cr_status C)" ] && t_ok "nothing went to C (no remnants there)" || t_fail "C" "$(cr_status C)"
t_wl_verify "after the evacuation, on B" B "$DIG"
wait_for 10 container_on B && t_ok "the coordinator sees $CR_CID on B" || t_fail "containers: B" "$(zc containers)"
sleep 3
[ "$(zc moves --container "$CR_CID" -f json | jq '[.moves[] | select(.requested_by == "policy")] | length')" = 1 ] &&
	t_ok "one policy move, no second order" || t_fail "one policy move" "$(zc moves)"
out=$(zc place "$CR_CID" --explain -f json)
[ "$(jq -r '.nodes[] | select(.node == "A") | .reason' <<<"$out")" = class-soon ] &&
	t_ok "A is excluded from placement until its class is over" || t_fail "A excluded" "$out"
# the web page after the moves: nodes with class state, where the container
# and its remnants are, the moves with their metrics and the plot
if command -v chromium >/dev/null; then
	tok=$(head -1 "$CR_T/admin.tok")
	CH=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
		--disable-component-update --disable-sync --ignore-certificate-errors
		--virtual-time-budget=8000 --window-size=1100,1400)
	for _ in 1 2 3; do # again when the load failed (net::ERR_NETWORK_CHANGED while other tests add interfaces)
		kn timeout 90 "${CH[@]}" --user-data-dir="$(mktemp -d "$CR_T/chrome.XXXXXX")" --dump-dom "$URL/#token=$tok" \
			>"$CR_T/dom.html" 2>>"$CR_T/chrome.err"
		grep -q 'id="status"[^>]*>updated' "$CR_T/dom.html" && break
		sleep 1
	done
	grep -q "class=\"next-class\">Operating systems in" "$CR_T/dom.html" && grep -q "data-node=\"C\"" "$CR_T/dom.html" &&
		t_ok "web page: the nodes, A's class next" || t_fail "web page: nodes" "$(grep -o 'id="status"[^<]*' "$CR_T/dom.html")"
	grep -q "data-container=\"$CR_CID\"><td>$CR_CID</td><td class=\"runs-on\">B</td>" "$CR_T/dom.html" &&
		grep -q "class=\"remnants\">A: [0-9]* + Bundle, B: [0-9]* + Bundle" "$CR_T/dom.html" &&
		t_ok "web page: $CR_CID on B, remnants on A and B" || t_fail "web page: container" "$(grep -o 'data-container=.\{0,300\}' "$CR_T/dom.html")"
	grep -q 'data-moves="3"' "$CR_T/dom.html" && [ "$(grep -o '<rect class="bytes"' "$CR_T/dom.html" | wc -l)" = 3 ] &&
		[ "$(grep -o '<rect class="down"' "$CR_T/dom.html" | wc -l)" = 3 ] &&
		t_ok "web page: the plot has bytes and downtime of the 3 moves" || t_fail "web page: plot" "$(grep -o '<svg.\{0,300\}' "$CR_T/dom.html")"
	grep -q "evacuate: a class starts on A" "$CR_T/dom.html" && t_ok "web page: the policy's move and its reason" ||
		t_fail "web page: moves"
	kn timeout 90 "${CH[@]}" --user-data-dir="$(mktemp -d $CR_T/chrome.XXXXXX)" --screenshot="$CR_TOP/build/test-logs/coordinator-policy-web.png" "$URL/#token=$tok" >/dev/null 2>&1
	[ -s "$CR_TOP/build/test-logs/coordinator-policy-web.png" ] && t_ok "web page: screenshot in build/test-logs/coordinator-policy-web.png" ||
		t_fail "web page: screenshot"
else
	t_skip "web page in headless Chromium" "chromium not installed (scripts/deps.sh installs it)"
fi
# B's agent stopped with SIGTERM (a PC shutting down): it reports
# `stopping`, the policy moves its container away (A is in class: to C)
# and the agent exits once nothing runs on B
t_wl_verify "on B before its agent stops" B || { t_done; exit; }
DIG=$WL_DIGEST
SRC=$(wl_dir B)
bpid=${AG_PID[B]}
kill -TERM "$bpid"
stop_move() { zc moves --container "$CR_CID" -f json | jq -c '[.moves[] | select(.requested_by == "policy" and .source == "B")] | .[0] // empty'; }
stop_done() { [ "$(stop_move | jq -r .state)" = done ]; }
wait_for 90 stop_done
MV=$(stop_move)
[ "$(jq -r '[.target, .state] | join(" ")' <<<"${MV:-{\}}")" = "C done" ] &&
	t_ok "SIGTERM to B's agent: the policy moved $CR_CID B→C: $(jq -r .reason <<<"$MV")" ||
	t_fail "agent-stop move B→C" "${MV:-none}" "$(zc moves)" "$(tail -n 20 "$CR_T/B/agent.log")"
jq -e '.reason | startswith("agent-stop: the agent on B is stopping")' <<<"${MV:-{\}}" >/dev/null &&
	t_ok "the record gives the reason (agent-stop)" || t_fail "agent-stop reason" "$MV"
wl_follow "$SRC" C
t_wl_verify "after B's agent stopped, on C" C "$DIG"
wait_for 20 sh -c '! kill -0 "$1" 2>/dev/null' _ "$bpid" && t_ok "B's agent exited once nothing ran on B" ||
	t_fail "B's agent exits" "$(tail -n 5 "$CR_T/B/agent.log")"
wait "$bpid" 2>/dev/null
unset "AG_PID[B]"
ag_kill A
ag_kill C
t_done
