#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# zanshin-api, the coordinator (issue 14: items 1, 2, 3, 7, 8, 10), run
# twice: on SQLite and on a throwaway PostgreSQL cluster this test starts
# as the postgres user in its own directory (unix socket only).  Each run:
#   - the coordinator in a network namespace of its own (node K), two real
#     agents (A, B; tests/agent/lib.sh) started with --coordinator and NO
#     --peer: they register over mutual TLS with their node certificates
#     and learn each other's addresses from the coordinator;
#   - tokens: admin and viewer; a viewer cannot write, no/bad token 401;
#     every write is in the audit log with who did it;
#   - heartbeats: load and remnant inventory appear in `zanshin cluster
#     nodes|containers|remnants`; bad reports (malformed JSON, unknown
#     fields, negative load, an unknown generation, bad ids) get 400 and
#     change nothing stored; an expired certificate and one from another
#     CA are refused;
#   - a real move ordered with `zanshin cluster move ID --to B --wait`
#     (the coordinator hands the order to A's agent in its heartbeat
#     answer), memory verified, then back to A (a diff), metrics recorded;
#     idempotency keys; drain/undrain; a node whose agent is killed is
#     marked down after --node-timeout and up again when it returns.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/../agent/lib.sh"
MIB=32
CR_MIB=$MIB
K=256 # pages written between moves
API_BIN=$CR_TOP/build/bin/zanshin-api
API_PORT=7430
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$API_BIN" ] || { echo "Bail out! $API_BIN missing: run make"; exit 1; }
cr_setup coord-api
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
API_PID=
PG_DIR=
api_cleanup() {
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
		su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$PG_DIR/data' -m immediate stop" >/dev/null 2>&1
	fi
	return 0
}
trap 'api_cleanup; ag_cleanup; cr_cleanup' EXIT
ag_node A 1
ag_node B 2
ag_ns K 9 || ag_die "cannot create the coordinator's namespace"
"$AG_CERT" node coord --ca "$CR_T/pki/ca" --out "$CR_T/pki/coord" >/dev/null || ag_die "coordinator certificate"
# ops: an admin's certificate (--admin-cn ops)
"$AG_CERT" node ops --ca "$CR_T/pki/ca" --out "$CR_T/pki/ops" >/dev/null || ag_die "the admin certificate"
# F: a node certificate with no agent behind it (the test speaks for it)
"$AG_CERT" node F --ca "$CR_T/pki/ca" --out "$CR_T/pki/F" >/dev/null || ag_die "F's certificate"
"$AG_CERT" ca --out "$CR_T/pki/rogue-ca" >/dev/null &&
	"$AG_CERT" node F --ca "$CR_T/pki/rogue-ca" --out "$CR_T/pki/rogueF" >/dev/null || ag_die "the rogue CA"
cat >"$CR_T/pki/expired.tmpl" <<EOT
cn = "F"
dns_name = "F"
tls_www_client
signing_key
activation_date = "2020-01-01 00:00:00"
expiration_date = "2021-01-01 00:00:00"
EOT
certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$CR_T/pki/expired-key.pem" 2>/dev/null &&
	certtool --generate-certificate --load-privkey "$CR_T/pki/expired-key.pem" --load-ca-certificate "$CR_T/pki/ca/ca.pem" \
		--load-ca-privkey "$CR_T/pki/ca/ca-key.pem" --template "$CR_T/pki/expired.tmpl" \
		--outfile "$CR_T/pki/expired.pem" 2>/dev/null || ag_die "the expired certificate"

URL=https://${AG_IP[K]}:$API_PORT
CA=$CR_T/pki/ca/ca.pem
kn() { nsenter --net="/run/netns/${AG_NS}K" -- "$@"; }
# zc ARGS...: `zanshin cluster` as the admin (ZC_TOKEN to change)
zc() { kn "$ZANSHIN" cluster --coordinator "$URL" --coordinator-name coord --ca "$CA" --token-file "${ZC_TOKEN:-$CR_T/admin.tok}" "$@"; }
# api AUTH... -- METHOD PATH [BODY]: curl, prints "STATUS BODY"
api() {
	local auth=()
	while [ "$1" != -- ]; do auth+=("$1"); shift; done
	shift
	kn curl -sS -o "$CR_T/api.out" -w '%{http_code}' --cacert "$CA" --connect-to "coord:$API_PORT:${AG_IP[K]}:$API_PORT" \
		"${auth[@]}" -X "$1" ${3:+--data-binary "$3"} "https://coord:$API_PORT$2" 2>"$CR_T/curl.err"
	echo " $(cat "$CR_T/api.out" 2>/dev/null)"
}
as_F() { api --cert "$CR_T/pki/F/F.pem" --key "$CR_T/pki/F/F-key.pem" -- "$@"; }
as_admin() { api -H "Authorization: Bearer $(cat "$CR_T/admin.tok")" -- "$@"; }
as_viewer() { api -H "Authorization: Bearer $(cat "$CR_T/viewer.tok")" -- "$@"; }
status_is() { [ "${2%% *}" = "$1" ]; }
# t_status NAME WANT "STATUS BODY"
t_status() { if status_is "$2" "$3"; then t_ok "$1: $2 ${3#* }"; else t_fail "$1: want HTTP $2" "$3"; fi; }

api_start() {
	local db=$1 i
	"$API_BIN" --db "$db" token create --role admin --name test-admin >"$CR_T/admin.tok" 2>>"$CR_T/api.log" &&
		"$API_BIN" --db "$db" token create --role viewer --name test-viewer >"$CR_T/viewer.tok" 2>>"$CR_T/api.log" ||
		return 1
	printf 'listen %s:%s\ncert %s\nkey %s\nca %s\nnode-timeout 4\nheartbeat 1\nadmin-cn ops\n' "${AG_IP[K]}" $API_PORT \
		"$CR_T/pki/coord/coord.pem" "$CR_T/pki/coord/coord-key.pem" "$CA" >"$CR_T/api.conf"
	# nsenter execs zanshin-api: $! is its pid
	nsenter --net="/run/netns/${AG_NS}K" -- "$API_BIN" --config "$CR_T/api.conf" --db "$db" --log "$CR_T/api.log" &
	API_PID=$!
	for ((i = 0; i < 50; i++)); do
		status_is 200 "$(as_viewer GET /v1/nodes)" && return 0
		sleep 0.1
	done
	return 1
}
api_stop() {
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	API_PID=
}

agents_start() {
	local n
	for n in A B; do
		ag_start "$n" -- --coordinator "$URL" --coordinator-name coord || return 1
	done
}
agents_stop() {
	ag_kill A TERM
	ag_kill B TERM
}

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 5; i++)); do "$@" && return 0; sleep 0.2; done
	return 1
}
node_state() { zc nodes -f json | jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .state'; }
node_state_is() { [ "$(node_state "$1")" = "$2" ]; }
move_state_is() { [ "$(zc moves "$1" -f json | jq -r .state)" = "$2" ]; }
remnant_on() { zc remnants "$CR_CID" -f json | jq -e --arg n "$1" '.generations[] | select(.node == $n)' >/dev/null; }
local_done() { zc moves -f json | jq -e --arg s "$1" --arg t "$2" '[.moves[] | select(.reason == "local" and .state == "done" and .source == $s and .target == $t)] | length > 0' >/dev/null; }
both_up() { [ "$(node_state A)" = up ] && [ "$(node_state B)" = up ]; }
container_on() { [ "$(zc containers -f json | jq -r --arg c "$CR_CID" '.containers[] | select(.id == $c) | .node')" = "$1" ]; }
# F's record without what time alone changes: last_seen, and its state (a
# loaded machine can take longer than --node-timeout over the bad inputs)
f_record() { as_admin GET /v1/nodes/F | sed 's/"last_seen":[0-9.]*//; s/"state":"[a-z]*"//'; echo "$(as_admin GET /v1/remnants?container=cf)"; }

HB_OK='{"address":"10.77.0.99:7427","cpu":0.25,"mem_used":1000,"mem_total":4000,"containers":[{"id":"cf","state":"running","memory":100}],"remnants":[{"container":"cf","image_id":"i1","size":4096},{"container":"cf","image_id":"i2","parent_id":"i1","size":100}],"bundles":[{"container":"cf","digest":"0123456789abcdef"}]}'

bad_input() {
	local b=$1 before after out
	t_status "$b: a node's heartbeat" 200 "$(as_F POST /v1/heartbeat "$HB_OK")"
	before=$(f_record)
	t_status "$b: malformed JSON" 400 "$(as_F POST /v1/heartbeat '{"address":')"
	t_status "$b: an unknown field" 400 "$(as_F POST /v1/heartbeat "${HB_OK%\}},\"evil\":1}")"
	t_status "$b: a negative load" 400 "$(as_F POST /v1/heartbeat "${HB_OK/0.25/-0.5}")"
	t_status "$b: more memory used than there is" 400 "$(as_F POST /v1/heartbeat "${HB_OK/\"mem_used\":1000/\"mem_used\":9000}")"
	t_status "$b: an unknown generation (its parent is not reported)" 400 \
		"$(as_F POST /v1/heartbeat "${HB_OK/\"parent_id\":\"i1\"/\"parent_id\":\"nowhere\"}")"
	t_status "$b: a bad container id" 400 "$(as_F POST /v1/heartbeat "${HB_OK/\"id\":\"cf\"/\"id\":\"../etc\"}")"
	t_status "$b: a negative size" 400 "$(as_F POST /v1/heartbeat "${HB_OK/\"size\":100/\"size\":-1}")"
	t_status "$b: not an object" 400 "$(as_F POST /v1/heartbeat '[1,2]')"
	out=$(api --cert "$CR_T/pki/expired.pem" --key "$CR_T/pki/expired-key.pem" -- POST /v1/heartbeat "$HB_OK")
	status_is 403 "$out" && grep -q expired <<<"$out" && t_ok "$b: an expired certificate: $out" ||
		t_fail "$b: an expired certificate is refused (403, says expired)" "$out $(cat "$CR_T/curl.err")"
	out=$(api --cert "$CR_T/pki/rogueF/F.pem" --key "$CR_T/pki/rogueF/F-key.pem" -- POST /v1/heartbeat "$HB_OK")
	case $out in 403*CA* | 000*) t_ok "$b: a certificate from another CA is refused: $out $(head -c 120 "$CR_T/curl.err")" ;;
	*) t_fail "$b: a certificate from another CA is refused" "$out" ;; esac
	after=$(f_record)
	[ "$before" = "$after" ] && t_ok "$b: nothing stored changed" || t_fail "$b: nothing stored changed" "$before" "$after"
	t_status "$b: a node certificate cannot read the API" 403 "$(as_F GET /v1/nodes)"
	t_status "$b: a node cannot report another node's move" 404 "$(as_F POST /v1/moves/mnothing/report '{"state":"done"}')"
	t_status "$b: no credentials" 401 "$(api -- GET /v1/nodes)"
	t_status "$b: an unknown token" 401 "$(api -H 'Authorization: Bearer zst_nope' -- GET /v1/nodes)"
	t_status "$b: a viewer cannot order a move" 403 "$(as_viewer POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"B\"}")"
	t_status "$b: a viewer cannot drain" 403 "$(as_viewer POST /v1/nodes/A/drain)"
	t_status "$b: a token cannot send heartbeats" 403 "$(as_admin POST /v1/heartbeat "$HB_OK")"
	t_status "$b: an unknown resource" 404 "$(as_admin GET /v1/nothing)"
	t_status "$b: a wrong method" 405 "$(as_admin DELETE /v1/nodes)"
	t_status "$b: a bad node name" 400 "$(as_admin GET '/v1/nodes/a%20b')"
	t_status "$b: an unknown node" 404 "$(as_admin GET /v1/nodes/nosuch)"
	t_status "$b: a move: malformed JSON" 400 "$(as_admin POST /v1/moves '{')"
	t_status "$b: a move: an unknown field" 400 "$(as_admin POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"B\",\"x\":1}")"
	t_status "$b: a move: a bad container id" 400 "$(as_admin POST /v1/moves '{"container":"../x","to":"B"}')"
	t_status "$b: a move of an unknown container" 404 "$(as_admin POST /v1/moves '{"container":"nosuch","to":"B"}')"
	t_status "$b: a move to an unknown node" 404 "$(as_admin POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"Z\"}")"
	t_status "$b: a move to where it runs" 400 "$(as_admin POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"A\"}")"
	t_status "$b: an unknown move" 404 "$(as_admin GET /v1/moves/mnothing)"
	[ "$(zc moves -f json | jq '.moves | length')" = "$MOVES0" ] && t_ok "$b: no move was recorded by the refused orders" ||
		t_fail "$b: no move recorded" "$(zc moves)"
	out=$(ZC_TOKEN=$CR_T/viewer.tok zc move "$CR_CID" --to B 2>&1)
	[ $? -ne 0 ] && grep -q viewer <<<"$out" && t_ok "$b: CLI as a viewer: $out" || t_fail "$b: CLI as a viewer fails" "$out"
}

# move_via_coordinator B FROM TO: ordered through `zanshin cluster move`
move_via() {
	local b=$1 from=$2 to=$3 h="$1: move $2→$3" src d out mv
	src=$(wl_dir "$from")
	t_wl_verify "$h: before" "$from" || return 1
	d=$WL_DIGEST
	# where it runs is known from the nodes' heartbeats (the last target's
	# may have been taken before its restore ended)
	wait_for 15 container_on "$from" || { t_fail "$h: the coordinator sees $CR_CID on $from" "$(zc containers)"; return 1; }
	if ! out=$(zc move "$CR_CID" --to "$to" --wait --timeout 120 --reason test -f json 2>&1); then
		t_fail "$h: zanshin cluster move --wait" "$out" "$(tail -n 20 "$CR_T/$from/agent.log")"
		return 1
	fi
	MV=$out
	t_ok "$h: done ($(jq -r '"diff: \(.diff), pages \(.bytes_pages) B, bundle \(.bytes_bundle) B, downtime \(.downtime_s) s"' <<<"$out"))"
	# the done report itself places it: no heartbeat needed, and none
	# taken before the restore ended removes it
	container_on "$to" && t_ok "$h: the coordinator has $CR_CID on $to as soon as the move is done" ||
		t_fail "$h: the coordinator has $CR_CID on $to as soon as the move is done" "$(zc containers)"
	wl_follow "$src" "$to"
	[ "$(cr_status "$to")" = running ] && t_ok "$h: running on $to" || t_fail "$h: running on $to" "$(cr_status "$to")"
	[ -z "$(cr_status "$from")" ] && t_ok "$h: gone from $from" || t_fail "$h: gone from $from" "$(cr_status "$from")"
	t_wl_verify "$h: after" "$to" "$d" || return 1
	mv=$(jq -r .id <<<"$out")
	[ "$(jq -r '.requested_by' <<<"$out")" != "" ] && [ "$(jq -r .reason <<<"$out")" = test ] &&
		[ "$(jq -r .agent_move <<<"$out")" != null ] && t_ok "$h: the record names who, why and the agent's move" ||
		t_fail "$h: the move's record" "$out"
	wait_for 10 container_on "$to" && t_ok "$h: the coordinator sees it on $to" || t_fail "$h: containers shows $to" "$(zc containers)"
}

# run_backend NAME DB: every test on one database; agents and coordinator
# stopped whatever happened
run_backend() {
	run_tests "$@"
	agents_stop
	[ "$(zc nodes -f json | jq -r '.nodes[] | select(.name == "B") | .stopping')" = true ] &&
		t_ok "$1: an agent stopped with SIGTERM told the coordinator (stopping)" || t_fail "$1: stopping" "$(zc nodes)"
	api_stop
	t_ok "$1: coordinator and agents stopped"
}

run_tests() {
	local b=$1 db=$2 out out2 id1 d src
	rm -f "$CR_T/api.log"
	api_start "$db" || { t_fail "$b: zanshin-api starts" "$(tail -n 5 "$CR_T/api.log")"; return 1; }
	t_ok "$b: zanshin-api serves $URL/v1/ (--config, $db)"
	agents_start || { t_fail "$b: agents start" ""; return 1; }
	wait_for 15 both_up && t_ok "$b: agents A and B registered with their node certificates" ||
		{ t_fail "$b: agents registered" "$(zc nodes 2>&1)" "$(tail -n 5 "$CR_T/A/agent.log")"; return 1; }
	out=$(zc nodes -f json)
	jq -e --arg a "${AG_IP[A]}:$AG_PORT" '.nodes[] | select(.name == "A") | .address == $a and .mem_total > 0 and .cpu >= 0' \
		<<<"$out" >/dev/null && t_ok "$b: node A's address and load are recorded" || t_fail "$b: node A's record" "$out"
	t_diag "$(zc nodes)"
	wait_for 10 container_on A && t_ok "$b: the coordinator sees $CR_CID on A" || t_fail "$b: $CR_CID on A" "$(zc containers)"
	MOVES0=$(zc moves -f json | jq '.moves | length')
	bad_input "$b"
	# ---- orders that cannot be, or are never taken ----
	as_F POST /v1/heartbeat "${HB_OK/\"memory\":100/\"memory\":1000000000000000}" >/dev/null
	out=$(as_admin POST /v1/moves '{"container":"cf","to":"A"}')
	status_is 409 "$out" && grep -q 'memory free' <<<"$out" && t_ok "$b: no move to a node without the container's memory free: $out" ||
		t_fail "$b: memory check" "$out"
	as_F POST /v1/heartbeat "$HB_OK" >/dev/null
	out=$(as_admin POST /v1/moves '{"container":"cf","to":"A"}')
	id1=$(jq -r .id <<<"${out#* }")
	if status_is 201 "$out" && wait_for 15 move_state_is "$id1" failed; then
		t_ok "$b: an order its source never took fails when the source goes down ($(zc moves "$id1" -f json | jq -r .error))"
	else
		t_fail "$b: an untaken order fails with its node" "$out" "$(zc moves "$id1")"
	fi
	# ---- real moves, ordered through the coordinator ----
	move_via "$b" A B || return 1
	jq -e '.bytes_pages > 0 and .downtime_s > 0 and .total_s >= .downtime_s' <<<"$MV" >/dev/null &&
		t_ok "$b: A→B metrics recorded" || t_fail "$b: A→B metrics" "$MV"
	[ -s "$CR_T/A/agent/peers.json" ] && jq -e '.peers[] | select(.name == "B")' "$CR_T/A/agent/peers.json" >/dev/null &&
		t_ok "$b: A learnt B's address from the coordinator (no --peer)" || t_fail "$b: peers.json" "$(cat "$CR_T/A/agent/peers.json")"
	wait_for 10 remnant_on A &&
		t_ok "$b: A's remnant of $CR_CID is in the coordinator's records" || t_fail "$b: remnants" "$(zc remnants "$CR_CID")"
	t_diag "$(zc remnants "$CR_CID")"
	t_wl_write "$b: between moves" B $K || return 1
	move_via "$b" B A || return 1
	jq -e --argjson max $((K * PAGE * 12 / 10 + 262144)) '.diff == true and .bytes_pages <= $max and .bytes_bundle == 0' \
		<<<"$MV" >/dev/null && t_ok "$b: B→A was a diff to the remnant holder (only the pages written, no Bundle)" ||
		t_fail "$b: B→A a diff" "$MV"
	t_diag "$(zc moves)"
	# ---- idempotency ----
	t_wl_verify "$b: before the idempotent move" A || return 1
	d=$WL_DIGEST
	src=$(wl_dir A)
	out=$(as_admin POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"B\",\"idempotency_key\":\"k-$b\"}")
	out2=$(as_admin POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"B\",\"idempotency_key\":\"k-$b\"}")
	id1=$(jq -r .id <<<"${out#* }")
	if status_is 201 "$out" && status_is 200 "$out2" && [ "$(jq -r .id <<<"${out2#* }")" = "$id1" ]; then
		t_ok "$b: the same idempotency key orders one move ($id1)"
	else
		t_fail "$b: idempotency key" "$out" "$out2"
	fi
	t_status "$b: the key for another move" 409 "$(as_admin POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"A\",\"idempotency_key\":\"k-$b\"}")"
	t_status "$b: a second move of a moving container" 409 "$(as_admin POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"B\"}")"
	wait_for 60 move_state_is "$id1" done &&
		t_ok "$b: the idempotent move ran once, to B" || t_fail "$b: the idempotent move" "$(zc moves "$id1")"
	wl_follow "$src" B
	t_wl_verify "$b: after the idempotent move" B "$d" || return 1
	[ "$(zc moves -f json | jq --arg k "k-$b" '[.moves[] | select(.idempotency_key == $k)] | length')" = 1 ] &&
		t_ok "$b: one record for the key" || t_fail "$b: one record for the key" "$(zc moves)"
	move_via "$b" B A || return 1
	# ---- a move made on the node's own (zanshin migrate) is reported too ----
	t_wl_verify "$b: before a local migrate" A || return 1
	d=$WL_DIGEST
	src=$(wl_dir A)
	if out=$(zm A migrate "$CR_CID" --to B --print-stats 2>&1); then
		wl_follow "$src" B
		t_wl_verify "$b: zanshin migrate A→B (B's address from the coordinator)" B "$d" || return 1
		if wait_for 15 local_done A B; then
			t_ok "$b: the local move is in the coordinator's records: $(zc moves -f json | jq -c '[.moves[] | select(.reason == "local")] | last | {id, state, diff, downtime_s, bytes_pages}')"
		else
			t_fail "$b: the local move reported" "$(zc moves)" "$(tail -n 5 "$CR_T/A/agent.log")"
		fi
	else
		t_fail "$b: zanshin migrate A→B" "$out"
		return 1
	fi
	# the coordinator learns where it runs from B's next heartbeat: an
	# order before that finds it on no node (a loaded machine once did)
	wait_for 10 container_on B && t_ok "$b: the coordinator sees it on B after the local move" ||
		t_fail "$b: containers shows B after the local move" "$(zc containers)"
	move_via "$b" B A || return 1
	# ---- drain ----
	out=$(zc drain B) && [ "$(zc nodes -f json | jq -r '.nodes[] | select(.name == "B") | .draining')" = true ] &&
		t_ok "$b: zanshin cluster drain B: $out" || t_fail "$b: drain B" "$out"
	t_status "$b: no move to a draining node" 409 "$(as_admin POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"B\"}")"
	out=$(zc undrain B) && [ "$(zc nodes -f json | jq -r '.nodes[] | select(.name == "B") | .draining')" = false ] &&
		t_ok "$b: zanshin cluster undrain B: $out" || t_fail "$b: undrain B" "$out"
	out=$(kn "$ZANSHIN" cluster --coordinator "$URL" --coordinator-name coord --ca "$CA" --cert "$CR_T/pki/ops/ops.pem" \
		--key "$CR_T/pki/ops/ops-key.pem" drain B 2>&1) && out=$(kn "$ZANSHIN" cluster --coordinator "$URL" \
		--coordinator-name coord --ca "$CA" --cert "$CR_T/pki/ops/ops.pem" --key "$CR_T/pki/ops/ops-key.pem" undrain B 2>&1) &&
		t_ok "$b: an admin certificate (--admin-cn ops) drains and undrains" || t_fail "$b: admin certificate" "$out"
	# ---- audit ----
	out=$(zc audit -f json)
	jq -e '[.audit[] | select(.action == "move.create" and (.who | startswith("token:")))] | length >= 3' <<<"$out" >/dev/null &&
		jq -e '[.audit[] | select(.action == "node.drain" and (.who | contains("test-admin")))] | length == 1' <<<"$out" >/dev/null &&
		jq -e '[.audit[] | select(.action == "node.undrain" and .who == "cert:ops")] | length == 1' <<<"$out" >/dev/null &&
		jq -e '[.audit[] | select(.action == "move.report" and .who == "A")] | length >= 2' <<<"$out" >/dev/null &&
		t_ok "$b: every write is in the audit log with who did it" || t_fail "$b: audit" "$(zc audit)"
	# ---- missed heartbeats ----
	ag_kill B KILL
	wait_for 15 node_state_is B down &&
		t_ok "$b: B's agent killed: B is down after missed heartbeats" || t_fail "$b: B down" "$(zc nodes)"
	t_status "$b: no move to a node that is down" 409 "$(as_admin POST /v1/moves "{\"container\":\"$CR_CID\",\"to\":\"B\"}")"
	ag_start B -- --coordinator "$URL" --coordinator-name coord >/dev/null
	wait_for 15 both_up && t_ok "$b: B is up again when its agent returns" || t_fail "$b: B up again" "$(zc nodes)"
}

t_run A
t_wl_verify "start on A" A || { t_done; exit; }

run_backend sqlite "sqlite:$CR_T/coord.db"
[ "$(sqlite3 "$CR_T/coord.db" 'PRAGMA journal_mode' 2>/dev/null || echo wal)" = wal ] && t_ok "sqlite: the database is in WAL mode" ||
	t_fail "sqlite: WAL" "$(sqlite3 "$CR_T/coord.db" 'PRAGMA journal_mode')"

# the container is on A again: the same on PostgreSQL
if [ -x "$PGBIN/initdb" ] && id postgres >/dev/null 2>&1; then
	PG_DIR=$CR_T/pg
	mkdir -p "$PG_DIR" && chown postgres "$PG_DIR"
	if su postgres -s /bin/sh -c "$PGBIN/initdb -D '$PG_DIR/data' -A trust -U zs >'$PG_DIR/initdb.log' 2>&1 &&
		$PGBIN/pg_ctl -D '$PG_DIR/data' -o \"-k $PG_DIR -c listen_addresses= -c fsync=off\" -l '$PG_DIR/pg.log' -w start >/dev/null &&
		$PGBIN/createdb -h '$PG_DIR' -U zs zanshin"; then
		t_ok "postgresql: a throwaway cluster in $PG_DIR"
		run_backend postgresql "postgresql://zs@/zanshin?host=$PG_DIR"
		[ "$("$API_BIN" --db "postgresql://zs@/zanshin?host=$PG_DIR" token list 2>&1 | grep -c test-)" = 2 ] &&
			t_ok "postgresql: the tokens are in the PostgreSQL database" || t_fail "postgresql: tokens" ""
	else
		t_fail "postgresql: a throwaway cluster" "$(tail -n 5 "$PG_DIR"/*.log)"
	fi
else
	t_skip "postgresql" "$PGBIN/initdb or the postgres user missing (scripts/deps.sh installs postgresql)"
fi
t_done
