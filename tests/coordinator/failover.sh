#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Two coordinators on one PostgreSQL: kill the leader mid-evacuation; the
# other finishes it; no container moved twice or lost (issue 14, "How it
# is proven").  Three real agent nodes A, B, C (tests/agent/lib.sh), two
# zanshin-api replicas R1, R2 in a namespace of their own (K) on one
# throwaway PostgreSQL cluster; the agents and the CLI are given both
# replicas' URLs (the client fails over).  Two containers run the memory
# workload on A; an administrator drains A; the leader's drain policy
# orders the moves one at a time (--max-moves-per-node 1); while the first
# is pending, ordered or running the leader is SIGKILLed.  The other
# replica leads, the moves already ordered finish, the one not yet ordered
# is ordered by the new leader: both containers leave A, each moved once,
# each running on exactly one node, memory verified after every move.
# Then the same through the evacuation policy: the killed replica back, a
# class a minute away on the node the containers went to, its leader
# SIGKILLed while a move is open, the restarted replica finishing.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/../agent/lib.sh"
MIB=32
CR_MIB=$MIB
API_BIN=$CR_TOP/build/bin/zanshin-api
PGBIN=/usr/lib/postgresql/15/bin
P1=7437
P2=7438
[ -x "$API_BIN" ] || { echo "Bail out! $API_BIN missing: run make"; exit 1; }
if [ ! -x "$PGBIN/initdb" ] || ! id postgres >/dev/null 2>&1; then
	t_skip "failover on PostgreSQL" "$PGBIN/initdb or the postgres user missing (scripts/deps.sh installs postgresql)"
	t_done
	exit
fi
cr_setup coord-failover
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
declare -A API_PID
api_cleanup() {
	local p
	for p in "${API_PID[@]}"; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	[ -f "$CR_T/pg/data/postmaster.pid" ] &&
		su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$CR_T/pg/data' -m immediate stop" >/dev/null 2>&1
	return 0
}
trap 'api_cleanup; ag_cleanup; cr_cleanup' EXIT
ag_node A 1
ag_node B 2
ag_node C 3
ag_ns K 9 || ag_die "cannot create the coordinators' namespace"
"$AG_CERT" node coord --ca "$CR_T/pki/ca" --out "$CR_T/pki/coord" >/dev/null || ag_die "coordinator certificate"
CA=$CR_T/pki/ca/ca.pem
URLS=https://${AG_IP[K]}:$P1,https://${AG_IP[K]}:$P2
mkdir -p "$CR_T/pg" && chown postgres "$CR_T/pg"
su postgres -s /bin/sh -c "$PGBIN/initdb -D '$CR_T/pg/data' -A trust -U zs >'$CR_T/pg/initdb.log' 2>&1 &&
	$PGBIN/pg_ctl -D '$CR_T/pg/data' -o \"-k $CR_T/pg -c listen_addresses= -c fsync=off\" -l '$CR_T/pg/pg.log' -w start >/dev/null &&
	$PGBIN/createdb -h '$CR_T/pg' -U zs zanshin" || ag_die "postgresql: $(tail -n 3 "$CR_T"/pg/*.log)"
DB="postgresql://zs@/zanshin?host=$CR_T/pg"
"$API_BIN" --db "$DB" token create --role admin --name failover-test >"$CR_T/admin.tok" 2>>"$CR_T/api.log" || ag_die "token"

kn() { nsenter --net="/run/netns/${AG_NS}K" -- "$@"; }
zc() { kn "$ZANSHIN" cluster --coordinator "$URLS" --coordinator-name coord --ca "$CA" --token-file "$CR_T/admin.tok" "$@"; }
port() { case $1 in R1) echo $P1 ;; R2) echo $P2 ;; esac; }
# status R: one replica's /v1/status
status() {
	kn curl -sS --cacert "$CA" --connect-to "coord:$(port "$1"):${AG_IP[K]}:$(port "$1")" \
		-H "Authorization: Bearer $(head -1 "$CR_T/admin.tok")" "https://coord:$(port "$1")/v1/status" 2>/dev/null
}
leads() { [ "$(status "$1" | jq -r .leader 2>/dev/null)" = true ]; }
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 5; i++)); do "$@" && return 0; sleep 0.2; done
	return 1
}
api_start() { # R
	nsenter --net="/run/netns/${AG_NS}K" -- "$API_BIN" --listen "${AG_IP[K]}:$(port "$1")" --cert "$CR_T/pki/coord/coord.pem" \
		--key "$CR_T/pki/coord/coord-key.pem" --ca "$CA" --db "$DB" --log "$CR_T/$1.log" --node-timeout 15 \
		--heartbeat 1 --policy-interval 1 --max-moves-per-node 1 &
	API_PID[$1]=$!
}
all_up() { [ "$(zc nodes -f json | jq '[.nodes[] | select(.state == "up")] | length')" = 3 ]; }
node_of() { zc containers -f json | jq -r --arg c "$1" '.containers[] | select(.id == $c) | .node'; }
on() { [ "$(node_of "$1")" = "$2" ]; }
# where container ID runs, by asking every node's runtime
runs_on() {
	local n out=()
	for n in A B C; do
		[ "$(z "$n" state "$1" 2>/dev/null | jq -r '.status // empty')" = running ] && out+=("$n")
	done
	echo "${out[*]}"
}

api_start R1
api_start R2
wait_for 15 leads R1 || wait_for 5 leads R2 || ag_die "no replica leads: $(tail -n 5 "$CR_T"/R*.log)"
leads R1 && { L=R1 O=R2; } || { L=R2 O=R1; }
leads "$O" && t_fail "one leader" "$(status R1) $(status R2)" || t_ok "two replicas on one PostgreSQL, $L leads"
for n in A B C; do
	ag_start "$n" -- --coordinator "$URLS" --coordinator-name coord --drain-timeout 90 || ag_die "agent $n"
done
wait_for 30 all_up && t_ok "three agents registered (both replicas' URLs given)" || t_fail "three nodes up" "$(zc nodes)"

# two containers on A, each with its own bundle and cgroup
C1=$CR_CID
C2=$CR_CID-2
t_run A
mkdir -p "$CR_T/A/bundle2"
cp -a "$CR_T/rootfs" "$CR_T/A/bundle2/rootfs"
cr_config "$MIB" "$CR_CG/A2" >"$CR_T/A/bundle2/config.json"
cr_pipes
z A run -d --bundle "$CR_T/A/bundle2" "$C2" <&"$CR_IN" >&"$CR_OUT" 2>&"$CR_OUT" || ag_die "run $C2"
wait_for 60 test -s "$CR_T/A/bundle2/rootfs/wl/pid" || ag_die "$C2's workload did not start"
declare -A DIG SRC
for c in "$C1" "$C2"; do
	CR_CID=$c
	t_wl_verify "$c on A" A || { t_done; exit; }
	DIG[$c]=$WL_DIGEST
	SRC[$c]=$(wl_dir A)
	wait_for 20 on "$c" A && t_ok "the coordinators see $c on A" || t_fail "$c on A" "$(zc containers)"
done

# the evacuation: A drained; kill the leader while a move is open
open_moves() { zc moves -f json | jq -c '[.moves[] | select(.requested_by == "policy" and (.state == "pending" or .state == "ordered" or .state == "running"))]'; }
some_open() { [ "$(open_moves | jq length)" -gt 0 ]; }
out=$(zc drain A 2>&1) && t_ok "A drained by an administrator" || t_fail "drain A" "$out"
if wait_for 60 some_open; then
	at_kill=$(open_moves)
	killed_at=$(date +%s.%N)
	kill -KILL "${API_PID[$L]}"
	wait "${API_PID[$L]}" 2>/dev/null
	unset "API_PID[$L]"
	t_ok "the leader $L SIGKILLed mid-evacuation, moves open: $(jq -c '[.[] | [.container, .state]]' <<<"$at_kill")"
else
	t_fail "a policy move opened" "$(zc moves)" "$(tail -n 20 "$CR_T/$L.log")"
fi
wait_for 15 leads "$O" && t_ok "$O leads" || t_fail "$O takes over" "$(status "$O")" "$(tail -n 5 "$CR_T/$O.log")"

# both containers leave A, each by one move
evacuated() { ! on "$C1" A && ! on "$C2" A && [ -n "$(node_of "$C1")" ] && [ -n "$(node_of "$C2")" ] &&
	[ "$(zc moves -f json | jq '[.moves[] | select(.state == "done")] | length')" = 2 ]; }
wait_for 240 evacuated && t_ok "A evacuated: $C1 on $(node_of "$C1"), $C2 on $(node_of "$C2")" ||
	t_fail "evacuation finished" "$(zc moves)" "$(zc containers)" "$(tail -n 20 "$CR_T/$O.log")"
MOVES=$(zc moves -f json)
n=$(jq --argjson t "${killed_at:-0}" '[.moves[] | select(.created > $t)] | length' <<<"$MOVES")
if [ "$n" -ge 1 ]; then
	t_ok "$O, the new leader, ordered the rest of the evacuation ($n move(s))"
else
	t_skip "the new leader ordered the rest" "every move was ordered before the kill (this run's timing)"
fi
for c in "$C1" "$C2"; do
	mv=$(jq -c --arg c "$c" '[.moves[] | select(.container == $c)]' <<<"$MOVES")
	[ "$(jq length <<<"$mv")" = 1 ] && [ "$(jq -r '.[0] | [.source, .state, .requested_by] | join(" ")' <<<"$mv")" = "A done policy" ] &&
		t_ok "$c: one move, A→$(jq -r '.[0].target' <<<"$mv"), done: $(jq -r '.[0].reason' <<<"$mv")" ||
		t_fail "$c moved once" "$mv"
	where=$(runs_on "$c")
	[ "$where" = "$(node_of "$c")" ] && t_ok "$c runs on exactly one node ($where)" || t_fail "$c runs once" "runs on: '$where'"
	CR_CID=$c
	wl_follow "${SRC[$c]}" "$where"
	t_wl_verify "$c after the move, on $where" "$where" "${DIG[$c]}"
done
n=$(zc audit -f json | jq '[.audit[] | select(.action == "leader.acquire")] | length')
[ "$n" = 2 ] && t_ok "the audit log has both leaders' acquisitions" || t_fail "two leader.acquire" "$(zc audit)"
# nothing more is ordered: the drain is done, every move closed
sleep 3
[ "$(zc moves -f json | jq '.moves | length')" = 2 ] && [ "$(open_moves | jq length)" = 0 ] &&
	t_ok "no third order, no move left open" || t_fail "moves after" "$(zc moves)"

# ---- again, for a class: L back, a class on X (where C1 runs) in a
# minute, the evacuation policy empties X; its leader O SIGKILLed while a
# move is open; L leads and finishes ----
api_start "$L"
wait_for 15 status "$L" >/dev/null && sleep 1.5
leads "$O" && ! leads "$L" && t_ok "$L restarted: $O still leads" || t_fail "one leader" "$(status R1) $(status R2)"
X=$(node_of "$C1")
on_x=()
for c in "$C1" "$C2"; do on "$c" "$X" && on_x+=("$c"); done
for c in "${on_x[@]}"; do
	CR_CID=$c
	t_wl_verify "$c on $X before the class" "$X" || { t_done; exit; }
	DIG[$c]=$WL_DIGEST
	SRC[$c]=$(wl_dir "$X")
done
start=$(($(date +%s) + 60))
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//zanshin//failover test//EN\r\nBEGIN:VEVENT\r\nUID:fo-1\r\nSUMMARY:Networks\r\nDTSTART:%s\r\nDTEND:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
	"$(date -u -d "@$start" +%Y%m%dT%H%M%SZ)" "$(date -u -d "@$((start + 5400))" +%Y%m%dT%H%M%SZ)" >"$CR_T/x.ics"
out=$(zc timetable import "$CR_T/x.ics" --room "$X" 2>&1) && t_ok "a class on $X in a minute (${#on_x[@]} container(s) there)" ||
	t_fail "timetable import" "$out"
if wait_for 60 some_open; then
	at_kill=$(open_moves)
	killed_at=$(date +%s.%N)
	kill -KILL "${API_PID[$O]}"
	wait "${API_PID[$O]}" 2>/dev/null
	unset "API_PID[$O]"
	t_ok "the leader $O SIGKILLed mid-evacuation, moves open: $(jq -c '[.[] | [.container, .state, .reason]]' <<<"$at_kill")"
else
	t_fail "an evacuation move opened" "$(zc moves)" "$(tail -n 20 "$CR_T/$O.log")"
fi
wait_for 15 leads "$L" && t_ok "$L leads again" || t_fail "$L takes over" "$(status "$L")"
left_x() { local c; for c in "${on_x[@]}"; do on "$c" "$X" && return 1; [ -n "$(node_of "$c")" ] || return 1; done
	[ "$(zc moves -f json | jq '[.moves[] | select(.state == "done")] | length')" = $((2 + ${#on_x[@]})) ]; }
wait_for 240 left_x && t_ok "$X evacuated before its class" || t_fail "evacuation of $X" "$(zc moves)" "$(zc containers)"
MOVES=$(zc moves -f json)
for c in "${on_x[@]}"; do
	mv=$(jq -c --arg c "$c" --arg x "$X" '[.moves[] | select(.container == $c and .source == $x)]' <<<"$MOVES")
	[ "$(jq length <<<"$mv")" = 1 ] && [ "$(jq -r '.[0].state' <<<"$mv")" = done ] &&
		jq -e '.[0].reason | startswith("evacuate")' <<<"$mv" >/dev/null &&
		t_ok "$c: one move from $X, $(jq -r '.[0] | .target + ", " + .reason' <<<"$mv")" || t_fail "$c moved once from $X" "$mv"
	where=$(runs_on "$c")
	[ "$where" = "$(node_of "$c")" ] && t_ok "$c runs on exactly one node ($where)" || t_fail "$c runs once" "runs on: '$where'"
	CR_CID=$c
	wl_follow "${SRC[$c]}" "$where"
	t_wl_verify "$c after the evacuation, on $where" "$where" "${DIG[$c]}"
done
sleep 3
[ "$(zc moves -f json | jq '.moves | length')" = $((2 + ${#on_x[@]})) ] && [ "$(open_moves | jq length)" = 0 ] &&
	t_ok "$((2 + ${#on_x[@]})) moves in all, none ordered twice, none open" || t_fail "moves after the class evacuation" "$(zc moves)"
for n in A B C; do ag_kill "$n"; done
t_done
