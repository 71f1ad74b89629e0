#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Orders reconciled with what the agents know (issue 14; docs/coordinator.md
# "Orders the agents lost").  A real zanshin-api (SQLite) in a namespace of
# its own (K), two real agent nodes A and B (tests/agent/lib.sh), a
# container running the memory workload:
#   1. A's agent (every process of it) SIGKILLed right after taking an
#      order, then restarted: the move ends (failed with its error, rolled
#      back or done, whatever A's journal says), the container runs on
#      exactly one node, the one the coordinator records, memory verified;
#   2. the same while the move is in flight (the journal past negotiating);
#   3. with fake nodes F and G speaking the API: an order whose answer was
#      lost (F's next heartbeat does not list it) is handed out again, the
#      same move; listed, it is acknowledged (running); a running move F
#      no longer lists fails with the reason; orders F never acknowledged
#      fail when F goes down; when F returns, its report of one is taken
#      and its heartbeat listing the other makes it running again.
# No order is ever run twice: every container has one move per order.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/../agent/lib.sh"
MIB=32
CR_MIB=$MIB
API_BIN=$CR_TOP/build/bin/zanshin-api
API_PORT=7439
[ -x "$API_BIN" ] || { echo "Bail out! $API_BIN missing: run make"; exit 1; }
cr_setup coord-reconcile
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
API_PID=
api_cleanup() {
	[ -n "$API_PID" ] && kill -KILL "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	[ -f "$CR_T/pg/data/postmaster.pid" ] &&
		su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D '$CR_T/pg/data' -m immediate stop" >/dev/null 2>&1
	return 0
}
trap 'api_cleanup; ag_cleanup; cr_cleanup' EXIT
ag_node A 1
ag_node B 2
ag_ns K 9 || ag_die "cannot create the coordinator's namespace"
for n in coord F G; do
	"$AG_CERT" node "$n" --ca "$CR_T/pki/ca" --out "$CR_T/pki/$n" >/dev/null || ag_die "certificate $n"
done
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
# as NODE METHOD PATH [BODY]: "STATUS BODY" with NODE's certificate
as() {
	local n=$1
	shift
	kn curl -sS -o "$CR_T/out" -w '%{http_code}' --cacert "$CA" --connect-to "coord:$API_PORT:${AG_IP[K]}:$API_PORT" \
		--cert "$CR_T/pki/$n/$n.pem" --key "$CR_T/pki/$n/$n-key.pem" -X "$1" ${3:+--data-binary "$3"} \
		"https://coord:$API_PORT$2" 2>/dev/null
	echo " $(cat "$CR_T/out" 2>/dev/null)"
}
start_agent() { ag_start "$1" -- --coordinator "$URL" --coordinator-name coord; }
# every process of NODE's agent: the main one and its zanshind descendants
# (the coordinator link, the processes running orders)
kill_agent_tree() {
	local n=$1 todo pids="" p
	todo=${AG_PID[$n]}
	while [ -n "$todo" ]; do
		set -- $todo
		p=$1
		shift
		todo="$*"
		case "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in
		"$AG_BIN "*) pids="$pids $p" todo="$todo $(pgrep -P "$p" | tr '\n' ' ')" ;;
		esac
	done
	kill -KILL $pids 2>/dev/null
	wait "${AG_PID[$n]}" 2>/dev/null
	unset "AG_PID[$n]"
	rm -f "$CR_T/$n/agent.sock"
}
node_state() { zc nodes -f json | jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .state'; }
both_up() { [ "$(node_state A)" = up ] && [ "$(node_state B)" = up ]; }
node_of() { zc containers -f json | jq -r --arg c "$CR_CID" '.containers[] | select(.id == $c) | .node'; }
on() { [ "$(node_of)" = "$1" ]; }
runs_on() {
	local n out=()
	for n in A B; do [ "$(cr_status "$n")" = running ] && out+=("$n"); done
	echo "${out[*]}"
}
move_state() { zc moves "$1" -f json | jq -r .state; }
ended() { case $(move_state "$1") in done | failed | rolled-back) return 0 ;; esac; return 1; }
has_order_record() { compgen -G "$CR_T/$1/agent/orders/*.json" >/dev/null; }
no_order_record() { ! has_order_record "$1"; }
journal_past_negotiating() { # NODE ORDER
	local f
	for f in "$CR_T/$1"/agent/moves/*.json; do
		[ -f "$f" ] || continue
		jq -e --arg o "$2" '.order == $o and .state != "negotiating"' "$f" >/dev/null 2>&1 && return 0
	done
	return 1
}

"$API_BIN" --db "sqlite:$CR_T/coord.db" token create --role admin --name reconcile-test >"$CR_T/admin.tok" 2>>"$CR_T/api.log" ||
	ag_die "token"
nsenter --net="/run/netns/${AG_NS}K" -- "$API_BIN" --listen "${AG_IP[K]}:$API_PORT" --cert "$CR_T/pki/coord/coord.pem" \
	--key "$CR_T/pki/coord/coord-key.pem" --ca "$CA" --db "sqlite:$CR_T/coord.db" --log "$CR_T/api.log" \
	--node-timeout 10 --heartbeat 1 --policies none &
API_PID=$!
wait_for 10 zc nodes -f json >/dev/null || ag_die "zanshin-api did not start: $(tail -n 5 "$CR_T/api.log")"
start_agent A || ag_die "agent A"
start_agent B || ag_die "agent B"
wait_for 20 both_up && t_ok "A and B registered" || t_fail "A and B up" "$(zc nodes)"
t_run A
wait_for 15 on A && t_ok "the coordinator sees $CR_CID on A" || t_fail "$CR_CID on A" "$(zc containers)"

# scenario NAME WHEN: order a move away from where the container runs,
# kill the source's agent (every process of it) WHEN the order is taken
# (`taken`) or the move is in flight (`flight`), restart it, check.
scenario() {
	local name=$1 when=$2 from to id out st where dig src
	from=$(node_of)
	[ "$from" = A ] && to=B || to=A
	t_wl_verify "$name: before" "$from" || return 1
	dig=$WL_DIGEST
	src=$(wl_dir "$from")
	out=$(zc move "$CR_CID" --to "$to" -f json 2>&1) && id=$(jq -r .id <<<"$out") || {
		t_fail "$name: order $from→$to" "$out"
		return 1
	}
	if [ "$when" = taken ]; then
		wait_for 30 has_order_record "$from" || t_fail "$name: $from took the order" "$(zc moves "$id")"
	else
		wait_for 60 journal_past_negotiating "$from" "$id" ||
			t_fail "$name: the move in flight" "$(zc moves "$id")" "$(tail -n 5 "$CR_T/$from/agent.log")"
	fi
	kill_agent_tree "$from"
	t_ok "$name: $from's agent SIGKILLed ($when; the coordinator says $(move_state "$id"))"
	start_agent "$from" || { t_fail "$name: restart $from" "$(tail -n 5 "$CR_T/$from/agent.log")"; return 1; }
	if wait_for 120 ended "$id"; then
		out=$(zc moves "$id" -f json)
		st=$(jq -r .state <<<"$out")
		t_ok "$name: after the restart the move is $st$(jq -r 'if .error then ": " + .error else "" end' <<<"$out" | head -c 300)"
	else
		t_fail "$name: the move ends" "$(zc moves "$id")" "$(tail -n 10 "$CR_T/$from/agent.log")"
		return 1
	fi
	[ "$st" = done ] && where=$to || where=$from
	[ "$st" != failed ] || jq -e '.error | length > 0' <<<"$out" >/dev/null && t_ok "$name: a failed outcome carries its error" ||
		t_fail "$name: error" "$out"
	wait_for 20 on "$where" && [ "$(runs_on)" = "$where" ] && t_ok "$name: $CR_CID runs on $where only, as recorded" ||
		t_fail "$name: runs once, where recorded" "runs on '$(runs_on)', recorded on '$(node_of)'"
	wl_follow "$src" "$where"
	t_wl_verify "$name: after" "$where" "$dig"
	wait_for 20 no_order_record "$from" && t_ok "$name: $from's record of the order is gone (outcome delivered)" ||
		t_fail "$name: order record" "$(ls "$CR_T/$from/agent/orders")"
}
scenario "killed after taking the order" taken
wait_for 20 both_up || t_fail "both up again" "$(zc nodes)"
scenario "killed mid-move" flight
wait_for 20 both_up || t_fail "both up again" "$(zc nodes)"
n=$(zc moves --container "$CR_CID" -f json | jq '.moves | length')
[ "$n" = 2 ] && t_ok "two orders, two moves: none ordered twice" || t_fail "two moves" "$(zc moves)"
# still usable: an ordinary move after both
from=$(node_of)
[ "$from" = A ] && to=B || to=A
t_wl_verify "before a last move" "$from" && {
	dig=$WL_DIGEST
	src=$(wl_dir "$from")
	out=$(zc move "$CR_CID" --to "$to" --wait --timeout 120 -f json 2>&1) && t_ok "a last move $from→$to: done" ||
		t_fail "last move" "$out" "$(tail -n 10 "$CR_T/$from/agent.log")"
	wl_follow "$src" "$to"
	t_wl_verify "after the last move" "$to" "$dig"
}

# ---- 3. the API: orders whose answers were lost, lost records, a node gone ----
api_scenario() {
	local b=$1 out a b2 c mf mg mh
	HBF='{"address":"10.77.0.50:7427","cpu":0.1,"mem_used":1,"mem_total":1000000000,"containers":[{"id":"cf","state":"running"},{"id":"cf2","state":"running"},{"id":"cf3","state":"running"}]'
	HBG='{"address":"10.77.0.51:7427","cpu":0.1,"mem_used":1,"mem_total":1000000000}'
	hbf() { as F POST /v1/heartbeat "$HBF,\"moves\":[$1]}"; }
	orders_of() { cut -d' ' -f2- <<<"$1" | jq -c '[.orders[].move]'; }
	st() { zc moves "$1" -f json | jq -r .state; }
	out=$(hbf "") && [ "${out%% *}" = 200 ] && out=$(as G POST /v1/heartbeat "$HBG") && [ "${out%% *}" = 200 ] &&
		t_ok "$b: fake nodes F and G" || t_fail "$b: F and G" "$out"
	# both up when ordered (--node-timeout is short: a loaded machine is slow between steps)
	fresh() { as G POST /v1/heartbeat "$HBG" >/dev/null && hbf "" >/dev/null; }
	fresh
	out=$(zc move cf --to G -f json 2>&1) && mf=$(jq -r .id <<<"$out") || t_fail "$b: order cf F→G" "$out"
	a=$(orders_of "$(hbf "")")
	b2=$(orders_of "$(hbf "")")
	[ "$a" = "[\"$mf\"]" ] && [ "$b2" = "[\"$mf\"]" ] &&
		t_ok "$b: an order F's next heartbeat does not list (its answer was lost) is handed out again: the same move" ||
		t_fail "$b: re-handed" "$a" "$b2"
	zc audit -f json | jq -e --arg m "$mf" '[.audit[] | select(.action == "move.requeue" and .target == $m)] | length == 1' >/dev/null &&
		t_ok "$b: audit: move.requeue" || t_fail "$b: requeue audited" "$(zc audit)"
	c=$(orders_of "$(hbf "{\"move\":\"$mf\"}")")
	[ "$c" = "[]" ] && [ "$(st "$mf")" = running ] && t_ok "$b: listed by F's heartbeat: acknowledged (running), not handed out again" ||
		t_fail "$b: acknowledged" "$c $(zc moves "$mf")"
	hbf "" >/dev/null
	[ "$(st "$mf")" = failed ] && zc moves "$mf" -f json | jq -e '.error | contains("no record")' >/dev/null &&
		t_ok "$b: running and no longer listed by F: failed ($(zc moves "$mf" -f json | jq -r .error))" || t_fail "$b: lost" "$(zc moves "$mf")"
	out=$(as F POST "/v1/moves/$mf/report" '{"state":"done"}')
	[ "${out%% *}" = 409 ] || [ "${out%% *}" = 400 ] && t_ok "$b: a report of that move afterwards is refused: ${out%% *}" ||
		t_fail "$b: late report refused" "$out"
	# F takes two orders, then goes down without acknowledging them
	fresh
	out=$(zc move cf2 --to G -f json 2>&1) && mg=$(jq -r .id <<<"$out") || t_fail "$b: order cf2 F→G" "$out"
	out=$(zc move cf3 --to G -f json 2>&1) && mh=$(jq -r .id <<<"$out") || t_fail "$b: order cf3 F→G" "$out"
	a=$(orders_of "$(hbf "")" | jq -c sort)
	[ "$a" = "$(jq -cn --arg a "$mg" --arg b "$mh" '[$a, $b] | sort')" ] && [ "$(st "$mg")" = ordered ] &&
		t_ok "$b: F took $mg and $mh (ordered)" || t_fail "$b: F took" "$a"
	f_down() { [ "$(node_state F)" = down ]; }
	keep_g() { as G POST /v1/heartbeat "$HBG" >/dev/null; f_down; }
	wait_for 60 keep_g && [ "$(st "$mg")" = failed ] && [ "$(st "$mh")" = failed ] &&
		zc moves "$mg" -f json | jq -e '.error | startswith("not acknowledged")' >/dev/null &&
		t_ok "$b: F down, the orders never acknowledged: failed ($(zc moves "$mg" -f json | jq -r .error))" ||
		t_fail "$b: unacknowledged orders fail" "$(zc moves "$mg")" "$(zc nodes)"
	out=$(as F POST "/v1/moves/$mg/report" '{"state":"done","agent_move":"mX","setup_s":0.1,"downtime_s":0.2,"total_s":0.5}')
	[ "${out%% *}" = 200 ] && [ "$(st "$mg")" = done ] &&
		t_ok "$b: F back, its report of $mg is taken: done" || t_fail "$b: late report of an unacknowledged order" "$out"
	c=$(orders_of "$(hbf "{\"move\":\"$mh\"}")")
	[ "$c" = "[]" ] && [ "$(st "$mh")" = running ] && t_ok "$b: F back, listing $mh: running again (acknowledged late)" ||
		t_fail "$b: revived" "$c $(zc moves "$mh")"
	out=$(as F POST "/v1/moves/$mh/report" '{"state":"rolled-back","error":"test: rolled back"}')
	[ "${out%% *}" = 200 ] && [ "$(st "$mh")" = rolled-back ] && t_ok "$b: then its report: rolled-back" || t_fail "$b: report of $mh" "$out"
	[ "$(zc moves --container cf -f json | jq '.moves | length')" = 1 ] && [ "$(zc moves --container cf2 -f json | jq '.moves | length')" = 1 ] &&
		[ "$(zc moves --container cf3 -f json | jq '.moves | length')" = 1 ] &&
		t_ok "$b: one move per order" || t_fail "$b: one move per order" "$(zc moves)"
	out=$(as F POST /v1/heartbeat "$HBF,\"moves\":[{\"move\":\"no good\"}]}")
	[ "${out%% *}" = 400 ] && t_ok "$b: a heartbeat listing a bad move id: 400 ($(cut -d' ' -f2- <<<"$out" | jq -r .error))" ||
		t_fail "$b: bad moves" "$out"
}
api_scenario sqlite
# ... and on PostgreSQL (a throwaway cluster as the postgres user)
PGBIN=/usr/lib/postgresql/15/bin
if [ -x "$PGBIN/initdb" ] && id postgres >/dev/null 2>&1; then
	kill -KILL "$API_PID" 2>/dev/null
	wait "$API_PID" 2>/dev/null
	API_PID=
	mkdir -p "$CR_T/pg" && chown postgres "$CR_T/pg"
	su postgres -s /bin/sh -c "$PGBIN/initdb -D '$CR_T/pg/data' -A trust -U zs >'$CR_T/pg/initdb.log' 2>&1 &&
		$PGBIN/pg_ctl -D '$CR_T/pg/data' -o \"-k $CR_T/pg -c listen_addresses= -c fsync=off\" -l '$CR_T/pg/pg.log' -w start >/dev/null &&
		$PGBIN/createdb -h '$CR_T/pg' -U zs zanshin" || ag_die "postgresql: $(tail -n 3 "$CR_T"/pg/*.log)"
	DB="postgresql://zs@/zanshin?host=$CR_T/pg"
	"$API_BIN" --db "$DB" token create --role admin --name reconcile-test >"$CR_T/admin.tok" 2>>"$CR_T/api.log" || ag_die "token"
	API_PORT=7440
	URL=https://${AG_IP[K]}:$API_PORT
	nsenter --net="/run/netns/${AG_NS}K" -- "$API_BIN" --listen "${AG_IP[K]}:$API_PORT" --cert "$CR_T/pki/coord/coord.pem" \
		--key "$CR_T/pki/coord/coord-key.pem" --ca "$CA" --db "$DB" --log "$CR_T/api-pg.log" \
		--node-timeout 10 --heartbeat 1 --policies none &
	API_PID=$!
	wait_for 10 zc nodes -f json >/dev/null || ag_die "zanshin-api on PostgreSQL did not start: $(tail -n 5 "$CR_T/api-pg.log")"
	api_scenario postgresql
else
	t_skip "the API part on PostgreSQL" "$PGBIN/initdb or the postgres user missing (scripts/deps.sh installs postgresql)"
fi
ag_kill A
ag_kill B
t_done
