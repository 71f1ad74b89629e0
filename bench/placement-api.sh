#!/bin/bash
# Placement through the real zanshin-api (issue 14 "Performance"): NODES
# simulated agents (each with its node certificate) register by heartbeat
# with their load, CONTAINERS containers and their remnant inventory; then
# GET /v1/place/ID over one keep-alive HTTPS connection, p50/p99 in ms, on
# SQLite and on a throwaway PostgreSQL cluster.  Goal: p99 <= 10 ms.
# The policy loop runs meanwhile (its default interval, 5 s).
# Writes bench/results/placement-api.json and placement-api.md.
#   NODES=1000 CONTAINERS=10000 SAMPLES=2000 bench/placement-api.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
api=$top/build/bin/zanshin-api
out=$here/results
nodes=${NODES:-1000}
containers=${CONTAINERS:-10000}
samples=${SAMPLES:-2000}
if [ "${BENCH_QUICK:-0}" = 1 ]; then nodes=200 containers=2000 samples=500; fi
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$api" ] || make -C "$top" -s all >/dev/null
T=$(mktemp -d /tmp/zs-bench-placeapi.XXXXXX)
chmod 0755 "$T"
API_PID=
PG_DIR=
cleanup() {
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
		su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$PG_DIR/data' -m immediate stop" >/dev/null 2>&1
	fi
	rm -rf "$T"
}
trap cleanup EXIT

# certificates: the CA, the coordinator's, NODES node certificates sharing one key (speed)
"$top/scripts/zanshin-cert.sh" ca --out "$T/ca" >/dev/null
"$top/scripts/zanshin-cert.sh" node coord --ca "$T/ca" --out "$T/coord" >/dev/null
mkdir -p "$T/pki"
certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$T/pki/key.pem" 2>/dev/null
for ((i = 0; i < nodes; i++)); do
	n=$(printf 'sim%04d' $i)
	printf 'cn = "%s"\ndns_name = "%s"\ntls_www_client\nsigning_key\nexpiration_days = 2\n' $n $n >"$T/tmpl"
	certtool --generate-certificate --load-privkey "$T/pki/key.pem" --load-ca-certificate "$T/ca/ca.pem" \
		--load-ca-privkey "$T/ca/ca-key.pem" --template "$T/tmpl" --outfile "$T/pki/$n.pem" 2>/dev/null
done

port() {
	local p
	for p in $(shuf -i 30000-39999 -n 20); do
		ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}

run() { # BACKEND DB-URL
	local p
	"$api" --db "$2" token create --role admin --name bench >"$T/tok" 2>/dev/null
	p=$(port)
	"$api" --listen 127.0.0.1:$p --cert "$T/coord/coord.pem" --key "$T/coord/coord-key.pem" --ca "$T/ca/ca.pem" \
		--db "$2" --log "$T/api-$1.log" --node-timeout 86400 &
	API_PID=$!
	sleep 1
	/usr/bin/python3 "$here/lib/placement_api.py" 127.0.0.1 $p "$T/ca/ca.pem" "$T/pki" "$T/tok" \
		"$nodes" "$containers" "$samples" >"$T/$1.json"
	kill "$API_PID" && wait "$API_PID" || true
	API_PID=
}

run sqlite "sqlite:$T/bench.db"
if [ -x "$PGBIN/initdb" ] && id postgres >/dev/null 2>&1; then
	PG_DIR=$T/pg
	mkdir -p "$PG_DIR" && chown postgres "$PG_DIR"
	su postgres -s /bin/sh -c "$PGBIN/initdb -D '$PG_DIR/data' -A trust -U zs >'$PG_DIR/initdb.log' 2>&1 &&
		$PGBIN/pg_ctl -D '$PG_DIR/data' -o \"-k $PG_DIR -c listen_addresses=\" -l '$PG_DIR/pg.log' -w start >/dev/null &&
		$PGBIN/createdb -h '$PG_DIR' -U zs zanshin"
	run postgresql "postgresql://zs@/zanshin?host=$PG_DIR"
fi
mkdir -p "$out"
python3 - "$T" "$out" <<'PY'
import json, os, sys, datetime
T, out = sys.argv[1], sys.argv[2]
res = {"bench": "placement-api", "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
       "goal_p99_ms": 10, "load": os.getloadavg(), "cpus": os.cpu_count(), "backends": {}}
for b in ("sqlite", "postgresql"):
    if os.path.exists(f"{T}/{b}.json"):
        res["backends"][b] = json.load(open(f"{T}/{b}.json"))
json.dump(res, open(f"{out}/placement-api.json", "w"), indent=1)
with open(f"{out}/placement-api.md", "w") as f:
    any_ = next(iter(res["backends"].values()))
    f.write(f"# Placement through zanshin-api ({any_['nodes']} simulated nodes, {any_['containers']} containers)\n\n")
    f.write("bench/placement-api.sh: GET /v1/place/ID over one keep-alive HTTPS connection, the policy loop running; "
            "load average %.1f on %d CPUs (shared machine).\n\n" % (res["load"][0], res["cpus"]))
    f.write("| database | mode | p50 | p99 | max | samples | registration (heartbeats) |\n|---|---|---|---|---|---|---|\n")
    ok = True
    for b, r in res["backends"].items():
        for m in ("place", "explain"):
            x = r[m]
            ok &= x["p99_ms"] <= 10
            f.write(f"| {b} | {m} | {x['p50_ms']} ms | {x['p99_ms']} ms | {x['max_ms']} ms | {x['samples']} | {r['heartbeats_s']} s |\n")
    f.write(f"\nGoal p99 <= 10 ms: {'met' if ok else 'NOT met'}.\n")
print(open(f"{out}/placement-api.md").read())
PY
