#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# zanshin-api's scheduler, timetable, policies and web page (issue 14 items
# 4, 5, 6, 9) through the real daemon, the real `zanshin cluster` CLI and
# headless Chromium, on loopback.  The nodes are three node certificates the
# test speaks for (heartbeats as the agents send them); tests/coordinator/
# policy.sh does the same with real agents and real moves.
#   - place --explain: the node holding the container's generations and
#     Bundle wins; every node listed with its terms; the source excluded;
#   - timetable import (.ics for a room label), show, replace, delete; a file
#     that is not iCalendar and an unknown TZID are refused and change
#     nothing; a viewer cannot import;
#   - a class 10 minutes ahead on N2 excludes it (lead time 15 min);
#   - a move without --to goes where the scheduler says;
#   - the policy loop orders a move off N1 before its class, with its
#     reason, requested by "policy"; drain and a stopping agent too;
#   - the web page at / in headless Chromium: nodes with class state and
#     next class, containers with remnant locations, moves with reasons, the
#     timetable; a screenshot into the log directory.
# Run on SQLite, then again (the script itself, ZS_SCHED_DB set) on a
# throwaway PostgreSQL cluster started as the postgres user in a temporary
# directory (unix socket only).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib/tap.sh"
API_BIN=$TOP/build/bin/zanshin-api
ZANSHIN=$TOP/build/bin/zanshin
CERT=$TOP/scripts/zanshin-cert.sh
LOGDIR=$TOP/build/test-logs
for b in "$API_BIN" "$ZANSHIN"; do [ -x "$b" ] || { echo "Bail out! $b missing: run make"; exit 1; }; done
command -v jq >/dev/null || { echo "Bail out! jq missing"; exit 1; }
T=$(mktemp -d /tmp/zs-sched-api.XXXXXX)
chmod 0755 "$T"
DB=${ZS_SCHED_DB:-sqlite:$T/db}
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
for n in coord N1 N2 N3; do
	"$CERT" node $n --ca "$T/ca" --out "$T/$n" >/dev/null || { echo "Bail out! certificate $n"; exit 1; }
done
"$API_BIN" --db "$DB" token create --role admin --name t-admin >"$T/admin.tok" 2>/dev/null &&
	"$API_BIN" --db "$DB" token create --role viewer --name t-viewer >"$T/viewer.tok" 2>/dev/null ||
	{ echo "Bail out! tokens"; exit 1; }
ADMIN=$(head -1 "$T/admin.tok")
VIEWER=$(head -1 "$T/viewer.tok")

# a free port on loopback
PORT=
for p in $(shuf -i 20000-29999 -n 20); do
	if ! ss -Htln "sport = :$p" | grep -q .; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "Bail out! no free port"; exit 1; }
URL=https://coord:$PORT
"$API_BIN" --listen 127.0.0.1:$PORT --cert "$T/coord/coord.pem" --key "$T/coord/coord-key.pem" --ca "$T/ca/ca.pem" \
	--db "$DB" --log "$T/api.log" --node-timeout 600 --policy-interval 1 --max-moves-per-node 2 \
	--web-root "$TOP/coordinator/web" &
API_PID=$!
for _ in $(seq 50); do
	curl -s --cacert "$T/ca/ca.pem" --resolve coord:$PORT:127.0.0.1 "$URL/" -o /dev/null && break
	sleep 0.1
done

c() { curl -sS --cacert "$T/ca/ca.pem" --resolve coord:$PORT:127.0.0.1 "$@"; }
# api TOKEN METHOD PATH [BODY-FILE]: prints "STATUS BODY"
api() {
	local code
	code=$(c -o "$T/api.out" -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" ${4:+--data-binary "@$4"} "$URL$3")
	echo "$code $(cat "$T/api.out")"
}
zc() { "$ZANSHIN" cluster --coordinator "https://127.0.0.1:$PORT" --coordinator-name coord --ca "$T/ca/ca.pem" \
	--token "${ZC_TOKEN:-$ADMIN}" "$@"; }
G=$((1 << 30))
hb() { # NODE JSON
	c -o "$T/hb.out" -w '%{http_code}' --cert "$T/$1/$1.pem" --key "$T/$1/$1-key.pem" -X POST "$URL/v1/heartbeat" \
		--data-binary "$2"
}
STOP_N3=false
N2_CT=
beat() {
	hb N1 '{"address":"127.0.0.1:1","cpu":0.5,"mem_used":'$G',"mem_total":'$((8 * G))',"containers":[{"id":"cf","state":"running","memory":100000000}],"remnants":[{"container":"cf","image_id":"i1","size":4096},{"container":"cg","image_id":"g1","size":8192}],"bundles":[{"container":"cf","digest":"0123456789abcdef"},{"container":"cg","digest":"fedcba9876543210"}]}' >/dev/null
	hb N2 '{"address":"127.0.0.1:2","cpu":0.6,"mem_used":'$G',"mem_total":'$((8 * G))',"containers":['"$N2_CT"'],"remnants":[{"container":"cf","image_id":"i1","size":4096},{"container":"cf","image_id":"i2","parent_id":"i1","size":100}],"bundles":[{"container":"cf","digest":"0123456789abcdef"}]}' >/dev/null
	hb N3 '{"address":"127.0.0.1:3","stopping":'$STOP_N3',"cpu":0.1,"mem_used":'$G',"mem_total":'$((8 * G))',"containers":[{"id":"cg","state":"running","memory":200000000}],"remnants":[],"bundles":[]}' >/dev/null
}
beat
t_check "$B: three nodes report" test "$(zc nodes -f json | jq '[.nodes[] | select(.state == "up")] | length')" = 3

# ---- place --explain
out=$(zc place cf --explain -f json)
t_check "$B: place cf: N2 wins (2 of 2 generations and the Bundle)" test "$(jq -r .target <<<"$out")" = N2
t_check "$B: explain: N2's terms P = 1, B = 1, C = 0.6, M = 0.125" \
	test "$(jq -c '.nodes[] | select(.node == "N2") | [.P, .B, .C, .M, .L]' <<<"$out")" = "[1,1,0.6,0.125,1]"
t_check "$B: explain: N1 (where cf runs) excluded as the source" \
	test "$(jq -r '.nodes[] | select(.node == "N1") | .reason' <<<"$out")" = source
t_check "$B: explain: costs, N2 -2.275 < N3 -0.775" \
	test "$(jq -c '[.nodes[] | select(.candidate) | [.node, .cost]]' <<<"$out")" = '[["N2",-2.275],["N3",-0.775]]'
tab=$(zc place cf --explain)
t_check "$B: place --explain as a table names every node and the formula" \
	sh -c 'echo "$1" | grep -q "cost = 1(C+M) - 1(P+B) - 1L" && echo "$1" | grep -q "^N3 " && echo "$1" | grep -q "source of the move"' _ "$tab"
t_check "$B: place of an unknown container: every node a candidate, chosen by load" \
	test "$(zc place nowhere -f json | jq -r .target)" = N3
t_check "$B: place with a bad id is refused" sh -c '! "$@" >/dev/null 2>&1' _ "$ZANSHIN" cluster --coordinator "https://127.0.0.1:$PORT" --coordinator-name coord --ca "$T/ca/ca.pem" --token "$ADMIN" place '../x'

# ---- timetable
ics() { # UID SUMMARY START END [RRULE]
	printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//zanshin//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nSUMMARY:%s\r\nDTSTART:%s\r\nDTEND:%s\r\n%sEND:VEVENT\r\nEND:VCALENDAR\r\n' \
		"$1" "$2" "$(date -u -d "@$3" +%Y%m%dT%H%M%SZ)" "$(date -u -d "@$4" +%Y%m%dT%H%M%SZ)" "${5:+$5$'\r\n'}"
}
now=$(date +%s)
ics alg Algebra $((now + 600)) $((now + 4200)) "RRULE:FREQ=WEEKLY;COUNT=10" >"$T/n2.ics"
out=$(zc timetable import "$T/n2.ics" --room N2 2>&1)
t_check "$B: timetable import for N2: 10 weekly classes" sh -c 'echo "$1" | grep -q "room N2: 1 events, 10 classes"' _ "$out"
echo '{"classes": []}' >"$T/bad.ics"
out=$(zc timetable import "$T/bad.ics" --room N2 2>&1); rc=$?
t_check "$B: a JSON file is not iCalendar: refused, named" sh -c '[ "$1" != 0 ] && echo "$2" | grep -q "not an iCalendar file"' _ $rc "$out"
sed 's/DTSTART:/DTSTART;TZID=Mars\/Olympus:/; s/DTSTART;TZID=Mars\/Olympus:\([0-9T]*\)Z/DTSTART;TZID=Mars\/Olympus:\1/' "$T/n2.ics" >"$T/tz.ics"
out=$(zc timetable import "$T/tz.ics" --room N2 2>&1); rc=$?
t_check "$B: an unknown TZID: refused, named" sh -c '[ "$1" != 0 ] && echo "$2" | grep -q "Mars/Olympus"' _ $rc "$out"
ics spam Spam $((now + 600)) $((now + 630)) "RRULE:FREQ=MINUTELY" >"$T/spam.ics"
out=$(zc timetable import "$T/spam.ics" --room N2 2>&1); rc=$?
t_check "$B: a rule with a class every minute is refused (not a class timetable)" sh -c '[ "$1" != 0 ] && echo "$2" | grep -q "more than 99999 classes"' _ $rc "$out"
t_check "$B: after the refused imports N2's timetable is unchanged (10 classes in 70 days)" \
	test "$(api "$ADMIN" GET "/v1/timetable/N2?to=$((now + 70 * 86400))" | cut -d' ' -f2- | jq '.classes | length')" = 10
t_check "$B: a viewer cannot import a timetable (403)" \
	test "$(api "$VIEWER" PUT /v1/timetable/N3 "$T/n2.ics" | cut -d' ' -f1)" = 403
t_check "$B: timetable show lists the class" sh -c 'echo "$1" | grep -q "N2 .*Algebra"' _ "$(zc timetable show)"
out=$(zc place cf --explain -f json)
t_check "$B: class on N2 in 10 min (lead 15): N2 excluded, N3 chosen" \
	test "$(jq -r '.target, (.nodes[] | select(.node == "N2") | .reason)' <<<"$out" | tr '\n' ' ')" = "N3 class-soon "
t_check "$B: explain says why: class starts in 10 min (lead time 15 min)" \
	sh -c 'echo "$1" | jq -r ".nodes[].why" | grep -q "class starts in 10 min (lead time 15 min)"' _ "$out"
t2=$(date +%s)
ics alg2 "Algebra moved" $((t2 + 7200)) $((t2 + 9000)) >"$T/n2b.ics"
zc timetable import "$T/n2b.ics" --room N2 >/dev/null
out=$(zc place cf --explain -f json)
# L = 2 h / 24 h = 0.0833 when placed at once; a loaded machine may take a
# minute to get here (then 0.0826)
t_check "$B: replaced timetable: class in 2 h, N2 back, L = 1/12" \
	jq -e '.target == "N2" and ((.nodes[] | select(.node == "N2") | .L) | . >= 0.0826 and . <= 0.08334)' <<<"$out"
t_check "$B: timetable delete" sh -c '"$@" >/dev/null' _ "$ZANSHIN" cluster --coordinator "https://127.0.0.1:$PORT" --coordinator-name coord --ca "$T/ca/ca.pem" --token "$ADMIN" timetable delete N2
t_check "$B: deleting it again: 404" test "$(api "$ADMIN" DELETE /v1/timetable/N2 | cut -d' ' -f1)" = 404

# ---- a move without --to: the scheduler's target
out=$(zc move cg -f json)
t_check "$B: move cg without --to: to N1, which holds its generation and Bundle" test "$(jq -r .target <<<"$out")" = N1

# ---- policies: evacuation before a class on N1
ics phys Physics $((now + 300)) $((now + 3900)) >"$T/n1.ics"
zc timetable import "$T/n1.ics" --room N1 >/dev/null
for _ in $(seq 30); do
	m=$(zc moves --container cf -f json | jq -c '[.moves[] | select(.requested_by == "policy")] | .[0] // empty')
	[ -n "$m" ] && break
	sleep 0.5
done
t_check "$B: policy: cf leaves N1 before its class (ordered, pending for N1's agent)" \
	test "$(jq -r '[.source, .state, .requested_by] | join(" ")' <<<"${m:-{\}}")" = "N1 pending policy"
t_check "$B: the move's reason says why" sh -c 'echo "$1" | jq -r .reason | grep -q "^evacuate: a class starts on N1 in"' _ "${m:-{\}}"
t_check "$B: the scheduler chose N2 (cf's generations and Bundle; its class timetable deleted)" \
	test "$(jq -r .target <<<"${m:-{\}}")" = N2
sleep 2
t_check "$B: the policy does not order cf twice" \
	test "$(zc moves --container cf -f json | jq '[.moves[] | select(.state == "pending")] | length')" = 1
t_check "$B: the order is in the audit log, by policy" \
	sh -c 'echo "$1" | jq -e "[.audit[] | select(.who == \"policy\" and .action == \"move.create\")] | length > 0" >/dev/null' _ "$(api "$ADMIN" GET /v1/audit | cut -d' ' -f2-)"

# ---- the web page in headless Chromium
if command -v chromium >/dev/null; then
	CH=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
		--disable-component-update --disable-sync --ignore-certificate-errors
		--virtual-time-budget=8000 --window-size=1100,1300)
	# ch_dom URL OUT: the page's DOM after its scripts ran; again when the
	# load failed (net::ERR_NETWORK_CHANGED while other tests add interfaces)
	ch_dom() {
		local i
		for i in 1 2 3; do
			timeout 90 "${CH[@]}" --user-data-dir="$(mktemp -d "$T/chrome.XXXXXX")" --dump-dom "$1" >"$2" 2>>"$T/chrome.err"
			grep -q 'id="status"[^>]*>[^<]*\(updated\|token is needed\)' "$2" && return 0
			sleep 1
		done
	}
	ch_dom "https://127.0.0.1:$PORT/#token=$VIEWER" "$T/dom.html"
	t_check "$B: web page: loaded and updated from the API" sh -c 'grep -q "id=\"status\" class=\"\">updated .* 3 nodes, 2 containers" "$1"' _ "$T/dom.html"
	t_check "$B: web page: every node listed" test "$(grep -o 'data-node="N[123]"' "$T/dom.html" | sort -u | wc -l)" = 3
	t_check "$B: web page: N1's next class is Physics" sh -c 'grep -q "class=\"next-class\">Physics in [45] min" "$1"' _ "$T/dom.html"
	t_check "$B: web page: cf's remnants on N1 and N2" sh -c 'grep -q "class=\"remnants\">N1: 1 + Bundle, N2: 2 + Bundle" "$1"' _ "$T/dom.html"
	t_check "$B: web page: the policy's move with its reason" sh -c 'grep -q "evacuate: a class starts on N1" "$1"' _ "$T/dom.html"
	t_check "$B: web page: the timetable" sh -c 'grep -q "<td>N1</td><td>Physics</td>" "$1"' _ "$T/dom.html"
	timeout 90 "${CH[@]}" --user-data-dir="$(mktemp -d $T/chrome.XXXXXX)" --screenshot="$LOGDIR/coordinator-web.png" "https://127.0.0.1:$PORT/#token=$VIEWER" >/dev/null 2>&1
	t_check "$B: web page: screenshot in build/test-logs/coordinator-web.png" test -s "$LOGDIR/coordinator-web.png"
	ch_dom "https://127.0.0.1:$PORT/" "$T/dom0.html"
	t_check "$B: web page without a token asks for one, shows no data" \
		sh -c 'grep -q "a token is needed" "$1" && ! grep -q "data-node=" "$1"' _ "$T/dom0.html"
else
	t_skip "$B: web page in headless Chromium" "chromium not installed (scripts/deps.sh installs it)"
fi
t_check "$B: only the page's files are served outside /v1/ (no paths)" \
	sh -c '[ "$(curl -sS --path-as-is --cacert "$1" --resolve "coord:$2:127.0.0.1" -o "$3" -w "%{http_code}" "https://coord:$2/../../etc/passwd")" != 200 ] && ! grep -q "root:" "$3"' _ "$T/ca/ca.pem" $PORT "$T/trav.out"
t_check "$B: the page's script is served" test "$(c -o /dev/null -w '%{http_code}' "$URL/app.js")" = 200

# ---- drain by an admin, and an agent that is stopping
N2_CT='{"id":"ch","state":"running","memory":1000}'
beat
zc drain N2 >/dev/null
for _ in $(seq 20); do
	m=$(zc moves --container ch -f json | jq -c '[.moves[] | select(.requested_by == "policy")] | .[0] // empty')
	[ -n "$m" ] && break
	sleep 0.5
done
t_check "$B: drain N2: the policy moves ch away, reason drain" \
	test "$(jq -r '[.source, .reason] | join(" ")' <<<"${m:-{\}}")" = "N2 drain: N2 is drained by an administrator"
t_check "$B: drained N2 is excluded from placement" \
	test "$(zc place cf --explain -f json | jq -r '.nodes[] | select(.node == "N2") | .reason')" = draining
STOP_N3=true
beat
n3_draining() { [ "$(zc place cf --explain -f json | jq -r '.nodes[] | select(.node == "N3") | .reason')" = draining ]; }
for _ in $(seq 10); do n3_draining && break; sleep 0.3; done # placement reads a view at most 1 s old
t_check "$B: an agent that is stopping: its node excluded too" n3_draining
t_check "$B: bad weights are refused at start" sh -c '! "$1" --weights 1,-2,1 --db "sqlite:$2/db2" token list 2>"$2/w.err" && grep -q "weights" "$2/w.err"' _ "$API_BIN" "$T"
kill "$API_PID" && wait "$API_PID"
API_PID=

# the same on PostgreSQL
if [ -z "${ZS_SCHED_DB:-}" ]; then
	if [ -x "$PGBIN/initdb" ] && id postgres >/dev/null 2>&1; then
		PG_DIR=$T/pg
		mkdir -p "$PG_DIR" && chown postgres "$PG_DIR"
		if su postgres -s /bin/sh -c "$PGBIN/initdb -D '$PG_DIR/data' -A trust -U zs >'$PG_DIR/initdb.log' 2>&1 &&
			$PGBIN/pg_ctl -D '$PG_DIR/data' -o \"-k $PG_DIR -c listen_addresses= -c fsync=off\" -l '$PG_DIR/pg.log' -w start >/dev/null &&
			$PGBIN/createdb -h '$PG_DIR' -U zs zanshin"; then
			ZS_SCHED_DB="postgresql://zs@/zanshin?host=$PG_DIR" "$0" | grep -v '^1\.\.'
			[ "${PIPESTATUS[0]}" = 0 ] || t_fail "postgresql: the run above failed"
		else
			t_fail "postgresql: a throwaway cluster" "$(tail -n 5 "$PG_DIR"/*.log)"
		fi
	else
		t_skip "postgresql" "$PGBIN/initdb or the postgres user missing (scripts/deps.sh installs postgresql)"
	fi
fi
t_done
