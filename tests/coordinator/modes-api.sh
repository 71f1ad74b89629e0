#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Move modes in the coordinator's records, on SQLite and on PostgreSQL
# (tests/coordinator/modes.sh does real moves with real agents, on SQLite):
# two nodes the test speaks for (heartbeats and reports as agents send
# them), the real zanshin-api and the real `zanshin cluster` CLI.
#   - an order with --mode post-copy is handed to the source node's
#     heartbeat with its mode; the node's report of the mode's metrics
#     (faults, last page) is recorded; pre-copy rounds and their bytes too;
#   - without a mode: --move-mode admin=pre-copy for people's orders, the
#     drain policy's own (--move-mode drain=post-copy) for its orders;
#   - an idempotency key reused with another mode: 409, nothing stored.
# Run on SQLite, then again (the script itself, ZS_MODES_DB set) on a
# throwaway PostgreSQL cluster started as the postgres user in a temporary
# directory (unix socket only).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib/tap.sh"
API_BIN=$TOP/build/bin/zanshin-api
ZANSHIN=$TOP/build/bin/zanshin
CERT=$TOP/scripts/zanshin-cert.sh
for b in "$API_BIN" "$ZANSHIN"; do [ -x "$b" ] || { echo "Bail out! $b missing: run make"; exit 1; }; done
command -v jq >/dev/null || { echo "Bail out! jq missing"; exit 1; }
T=$(mktemp -d /tmp/zs-modes-api.XXXXXX)
chmod 0755 "$T"
DB=${ZS_MODES_DB:-sqlite:$T/db}
B=${DB%%:*}
PGBIN=/usr/lib/postgresql/15/bin
API_PID=
PG_DIR=
cleanup() {
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
		su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$PG_DIR/data' -m immediate stop" >/dev/null 2>&1
	fi
	[ "${KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$CERT" ca --out "$T/ca" >/dev/null || { echo "Bail out! CA"; exit 1; }
for n in coord N1 N2; do
	"$CERT" node $n --ca "$T/ca" --out "$T/$n" >/dev/null || { echo "Bail out! certificate $n"; exit 1; }
done
"$API_BIN" --db "$DB" token create --role admin --name t-modes >"$T/admin.tok" 2>/dev/null || { echo "Bail out! token"; exit 1; }
ADMIN=$(head -1 "$T/admin.tok")
PORT=
for p in $(shuf -i 20000-29999 -n 20); do
	if ! ss -Htln "sport = :$p" | grep -q .; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "Bail out! no free port"; exit 1; }
URL=https://coord:$PORT
"$API_BIN" --listen 127.0.0.1:$PORT --cert "$T/coord/coord.pem" --key "$T/coord/coord-key.pem" --ca "$T/ca/ca.pem" \
	--db "$DB" --log "$T/api.log" --node-timeout 600 --policy-interval 1 --policies drain \
	--move-mode admin=pre-copy --move-mode drain=post-copy &
API_PID=$!
c() { curl -sS --cacert "$T/ca/ca.pem" --resolve coord:$PORT:127.0.0.1 "$@"; }
for _ in $(seq 50); do c -o /dev/null "$URL/" 2>/dev/null && break; sleep 0.1; done
zc() { "$ZANSHIN" cluster --coordinator "https://127.0.0.1:$PORT" --coordinator-name coord --ca "$T/ca/ca.pem" \
	--token "$ADMIN" "$@"; }
G=$((1 << 30))
# hb NODE CONTAINERS: a heartbeat; its answer in $T/hb-NODE.out
hb() {
	c -o "$T/hb-$1.out" -w '%{http_code}' --cert "$T/$1/$1.pem" --key "$T/$1/$1-key.pem" -X POST "$URL/v1/heartbeat" \
		--data-binary '{"address":"127.0.0.1:1'"${1#N}"'","cpu":0.1,"mem_used":'$G',"mem_total":'$((8 * G))',"containers":['"$2"'],"remnants":[],"bundles":[]}'
}
ct() { printf '{"id":"%s","state":"running","memory":1000}' "$1"; }
# report NODE MOVE BODY: prints the HTTP status
report() {
	c -o "$T/rep.out" -w '%{http_code}' --cert "$T/$1/$1.pem" --key "$T/$1/$1-key.pem" -X POST "$URL/v1/moves/$2/report" \
		--data-binary "$3"
}
order_of() { jq -c --arg m "$2" '.orders[] | select(.move == $m)' "$T/hb-$1.out"; }
t_check "$B: two nodes report" test "$(hb N1 "$(ct m1),$(ct m2)") $(hb N2 "")" = "200 200"

# an order in post-copy, handed out with its mode, reported with its metrics
mv=$(zc move m1 --to N2 --mode post-copy -f json)
id=$(jq -r .id <<<"$mv")
t_check "$B: move m1 --mode post-copy: recorded pending, mode post-copy" \
	test "$(jq -r '[.state, .mode] | join(" ")' <<<"$mv")" = "pending post-copy"
hb N1 "$(ct m1),$(ct m2)" >/dev/null
t_check "$B: N1's heartbeat hands out the order with its mode" \
	test "$(order_of N1 "$id" | jq -r '[.container, .to, .mode] | join(" ")')" = "m1 N2 post-copy"
t_check "$B: N1 reports it done with post-copy's metrics" \
	test "$(report N1 "$id" '{"state":"done","agent_move":"a1","mode":"post-copy","diff":false,"downtime_s":0.2,"bytes_pages":4096,"faults":17,"last_page_s":1.25}')" = 200
t_check "$B: the record: post-copy, 17 faults, last page 1.25 s, no pre-copy rounds" \
	test "$(zc moves "$id" -f json | jq -c '[.state, .mode, .faults, .last_page_s, .precopy_rounds]')" = '["done","post-copy",17,1.25,null]'

# without a mode: the admin setting (pre-copy), with rounds reported
hb N1 "$(ct m2)" >/dev/null
hb N2 "$(ct m1)" >/dev/null
mv=$(zc move m2 --to N2 --idempotency-key k-modes -f json)
id=$(jq -r .id <<<"$mv")
t_check "$B: move m2 without --mode: --move-mode admin=pre-copy" test "$(jq -r .mode <<<"$mv")" = pre-copy
out=$(zc move m2 --to N2 --idempotency-key k-modes --mode stop-copy 2>&1)
t_check "$B: the key again with another mode: refused (409)" sh -c 'echo "$1" | grep -q "HTTP 409"' _ "$out"
t_check "$B: the key again without a mode: the same move" \
	test "$(zc move m2 --to N2 --idempotency-key k-modes -f json | jq -r .id)" = "$id"
t_check "$B: one move of m2" test "$(zc moves --container m2 -f json | jq '.moves | length')" = 1
hb N1 "$(ct m2)" >/dev/null
t_check "$B: handed out in pre-copy" test "$(order_of N1 "$id" | jq -r .mode)" = pre-copy
report N1 "$id" '{"state":"running"}' >/dev/null
t_check "$B: N1 reports it done with 3 rounds of 123456 bytes" \
	test "$(report N1 "$id" '{"state":"done","agent_move":"a2","mode":"pre-copy","diff":true,"bytes_pages":8192,"precopy_rounds":3,"bytes_precopy":123456}')" = 200
t_check "$B: the record: pre-copy, 3 rounds, 123456 bytes, no faults" \
	test "$(zc moves "$id" -f json | jq -c '[.mode, .precopy_rounds, .bytes_precopy, .faults]')" = '["pre-copy",3,123456,null]'
t_check "$B: cluster moves shows both modes" sh -c 'echo "$1" | grep -q " pre-copy " && echo "$1" | grep -q " post-copy "' _ "$(zc moves)"

# the drain policy's own mode
hb N1 "" >/dev/null
hb N2 "$(ct m1),$(ct m2)" >/dev/null
zc drain N2 >/dev/null
for _ in $(seq 40); do
	m=$(zc moves -f json | jq -c '[.moves[] | select(.requested_by == "policy")] | .[0] // empty')
	[ -n "$m" ] && break
	sleep 0.25
done
t_check "$B: drain N2: the policy's order is post-copy (--move-mode drain=post-copy)" \
	test "$(jq -r '[.source, .target, .mode] | join(" ")' <<<"${m:-{\}}")" = "N2 N1 post-copy"
kill "$API_PID" && wait "$API_PID"
API_PID=

# the same on PostgreSQL
if [ -z "${ZS_MODES_DB:-}" ]; then
	if [ -x "$PGBIN/initdb" ] && id postgres >/dev/null 2>&1; then
		PG_DIR=$T/pg
		mkdir -p "$PG_DIR" && chown postgres "$PG_DIR"
		if su postgres -s /bin/sh -c "$PGBIN/initdb -D '$PG_DIR/data' -A trust -U zs >'$PG_DIR/initdb.log' 2>&1 &&
			$PGBIN/pg_ctl -D '$PG_DIR/data' -o \"-k $PG_DIR -c listen_addresses= -c fsync=off\" -l '$PG_DIR/pg.log' -w start >/dev/null &&
			$PGBIN/createdb -h '$PG_DIR' -U zs zanshin"; then
			ZS_MODES_DB="postgresql://zs@/zanshin?host=$PG_DIR" "$0" | grep -v '^1\.\.'
			[ "${PIPESTATUS[0]}" = 0 ] || t_fail "postgresql: the run above failed"
		else
			t_fail "postgresql: a throwaway cluster" "$(tail -n 5 "$PG_DIR"/*.log)"
		fi
	else
		t_skip "postgresql" "$PGBIN/initdb or the postgres user missing (scripts/deps.sh installs postgresql)"
	fi
fi
t_done
