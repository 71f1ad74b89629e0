#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Two zanshin-api replicas on one PostgreSQL (issue 14, item 2): both
# serve the API over one database, exactly one leads (a PostgreSQL
# advisory lock); SIGKILL of the leader hands leadership to the other
# within seconds; an order is handed out once whichever replica the
# agent's heartbeat reaches, and an idempotency key replayed on the other
# replica gives the same move.  The replicas run in a network namespace
# of the test's own (loopback only); PostgreSQL is a throwaway cluster
# started as the postgres user in the test's directory (unix socket).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib/tap.sh"
API=$TOP/build/bin/zanshin-api
CERT=$TOP/scripts/zanshin-cert.sh
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$API" ] || { echo "Bail out! $API missing: run make"; exit 1; }
if [ ! -x "$PGBIN/initdb" ] || ! id postgres >/dev/null 2>&1; then
	t_skip "replicas on PostgreSQL" "$PGBIN/initdb or the postgres user missing (scripts/deps.sh installs postgresql)"
	t_done
	exit
fi
T=$(mktemp -d /tmp/zs-coord-replicas.XXXXXX) || exit 1
chmod 0755 "$T"
NS=zsrep$$
declare -A PID
cleanup() {
	local p
	for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null; done
	[ -f "$T/pg/data/postmaster.pid" ] && su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$T/pg/data' -m immediate stop" >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	if [ "${_t_failed:-0}" -gt 0 ]; then
		mkdir -p "$TOP/build/test-logs/coord-replicas"
		cp "$T"/*.log "$T"/pg/*.log "$TOP/build/test-logs/coord-replicas/" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" && ip -n "$NS" link set lo up || { echo "Bail out! netns"; exit 1; }
"$CERT" ca --out "$T/ca" >/dev/null && "$CERT" node coord --ca "$T/ca" --out "$T/coord" >/dev/null &&
	"$CERT" node F --ca "$T/ca" --out "$T/F" >/dev/null && "$CERT" node G --ca "$T/ca" --out "$T/G" >/dev/null ||
	{ echo "Bail out! certificates"; exit 1; }
mkdir -p "$T/pg" && chown postgres "$T/pg"
su postgres -s /bin/sh -c "$PGBIN/initdb -D '$T/pg/data' -A trust -U zs >'$T/pg/initdb.log' 2>&1 &&
	$PGBIN/pg_ctl -D '$T/pg/data' -o \"-k $T/pg -c listen_addresses= -c fsync=off\" -l '$T/pg/pg.log' -w start >/dev/null &&
	$PGBIN/createdb -h '$T/pg' -U zs zanshin" || { echo "Bail out! postgresql: $(tail -n 3 "$T"/pg/*.log)"; exit 1; }
DB="postgresql://zs@/zanshin?host=$T/pg"
"$API" --db "$DB" token create --role admin >"$T/admin.tok" 2>/dev/null || { echo "Bail out! token"; exit 1; }

start() { # start R PORT
	nsenter --net="/run/netns/$NS" -- "$API" --listen "127.0.0.1:$2" --cert "$T/coord/coord.pem" \
		--key "$T/coord/coord-key.pem" --ca "$T/ca/ca.pem" --db "$DB" --heartbeat 1 --log "$T/$1.log" &
	PID[$1]=$!
}
port() { case $1 in R1) echo 7431 ;; R2) echo 7432 ;; esac; }
# call R AUTH... -- METHOD PATH [BODY]: "STATUS BODY"
call() {
	local r=$1 auth=()
	shift
	while [ "$1" != -- ]; do auth+=("$1"); shift; done
	shift
	nsenter --net="/run/netns/$NS" -- curl -sS -o "$T/out" -w '%{http_code}' --cacert "$T/ca/ca.pem" \
		--connect-to "coord:$(port "$r"):127.0.0.1:$(port "$r")" "${auth[@]}" -X "$1" ${3:+--data-binary "$3"} \
		"https://coord:$(port "$r")$2" 2>/dev/null
	echo " $(cat "$T/out" 2>/dev/null)"
}
admin() { local r=$1; shift; call "$r" -H "Authorization: Bearer $(cat "$T/admin.tok")" -- "$@"; }
node() { local r=$1 n=$2; shift 2; call "$r" --cert "$T/$n/$n.pem" --key "$T/$n/$n-key.pem" -- "$@"; }
leads() { [ "$(admin "$1" GET /v1/status | cut -d' ' -f2- | jq -r .leader 2>/dev/null)" = true ]; }
up() { [ "$(admin "$1" GET /v1/status | cut -d' ' -f1)" = 200 ]; }
wait_for() { local t=$1 i; shift; for ((i = 0; i < t * 5; i++)); do "$@" && return 0; sleep 0.2; done; return 1; }
leaders() { local n=0 r; for r in "$@"; do leads "$r" && n=$((n + 1)); done; echo $n; }

start R1 7431
start R2 7432
wait_for 10 up R1 && wait_for 10 up R2 && t_ok "two replicas started together on one PostgreSQL (schema migrated once)" ||
	{ t_fail "replicas start" "$(tail -n 3 "$T"/R*.log)"; t_done; exit; }
[ "$(admin R1 GET /v1/status | cut -d' ' -f2- | jq -r .schema)" = 8 ] && t_ok "schema version 8 (6: move modes, 7: bundles keyed by node, container, digest, 8: one open move per container)" || t_fail "schema" "$(admin R1 GET /v1/status)"
sleep 1.5 # a leader within a round (0.5 s) of the lock's holder's start
[ "$(leaders R1 R2)" = 1 ] && t_ok "exactly one replica leads" || t_fail "one leader" "$(admin R1 GET /v1/status) $(admin R2 GET /v1/status)"
leads R1 && L=R1 O=R2 || { L=R2 O=R1; }
t_diag "leader: $L ($(admin $L GET /v1/status))"

HB='{"address":"10.0.0.1:7427","cpu":0.1,"mem_used":1,"mem_total":2,"containers":[{"id":"c1","state":"running"}]}'
HBG='{"address":"10.0.0.2:7427","cpu":0.1,"mem_used":1,"mem_total":2}'
out=$(node R1 F POST /v1/heartbeat "$HB") && [ "${out%% *}" = 200 ] && out=$(node R2 G POST /v1/heartbeat "$HBG") &&
	[ "${out%% *}" = 200 ] && t_ok "heartbeats to either replica" || t_fail "heartbeats" "$out"
n=$(admin R2 GET /v1/nodes | cut -d' ' -f2- | jq '.nodes | length')
[ "$n" = 2 ] && t_ok "both replicas see both nodes (one database)" || t_fail "nodes on R2" "$(admin R2 GET /v1/nodes)"
o1=$(admin R1 POST /v1/moves '{"container":"c1","to":"G","idempotency_key":"evacuate-F-1"}')
o2=$(admin R2 POST /v1/moves '{"container":"c1","to":"G","idempotency_key":"evacuate-F-1"}')
id=$(cut -d' ' -f2- <<<"$o1" | jq -r .id)
[ "${o1%% *}" = 201 ] && [ "${o2%% *}" = 200 ] && [ "$(cut -d' ' -f2- <<<"$o2" | jq -r .id)" = "$id" ] &&
	t_ok "an order replayed on the other replica is the same move ($id)" || t_fail "idempotency across replicas" "$o1" "$o2"
a=$(node R2 F POST /v1/heartbeat "$HB" | cut -d' ' -f2- | jq -c '[.orders[].move]')
b=$(node R1 F POST /v1/heartbeat "$HB" | cut -d' ' -f2- | jq -c '[.orders[].move]')
[ "$a" = "[\"$id\"]" ] && [ "$b" = "[]" ] && t_ok "the order is handed out once (R2 gave it, R1 has none left)" ||
	t_fail "order handed out once" "$a" "$b"
[ "$(admin R1 GET /v1/moves | cut -d' ' -f2- | jq '.moves | length')" = 1 ] && t_ok "one move recorded" ||
	t_fail "one move" "$(admin R1 GET /v1/moves)"

# ---- the leader dies ----
t0=$(date +%s.%N)
kill -KILL "${PID[$L]}"
wait "${PID[$L]}" 2>/dev/null
unset "PID[$L]"
if wait_for 10 leads "$O"; then
	t1=$(date +%s.%N)
	t_ok "the leader SIGKILLed: $O leads after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
else
	t_fail "$O takes over" "$(admin "$O" GET /v1/status)" "$(tail -n 5 "$T/$O.log")"
fi
start "$L" "$(port "$L")"
wait_for 10 up "$L" && sleep 1.5
[ "$(leaders R1 R2)" = 1 ] && leads "$O" && t_ok "$L restarted: still one leader ($O)" ||
	t_fail "one leader after the restart" "$(admin R1 GET /v1/status) $(admin R2 GET /v1/status)"
n=$(admin "$L" GET /v1/audit | cut -d' ' -f2- | jq '[.audit[] | select(.action == "leader.acquire")] | length')
[ "$n" = 2 ] && t_ok "the audit log has both acquisitions" || t_fail "leader.acquire in audit" "$(admin "$L" GET /v1/audit)"
out=$(node "$L" F POST /v1/moves/"$id"/report '{"state":"done","agent_move":"x1","setup_s":0.1,"downtime_s":0.5,"total_s":1}')
[ "${out%% *}" = 200 ] && [ "$(admin "$O" GET /v1/moves/"$id" | cut -d' ' -f2- | jq -r .state)" = done ] &&
	t_ok "the move's report through one replica is seen by the other" || t_fail "report" "$out"
t_done
