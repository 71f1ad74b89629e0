#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Heartbeats of NODES nodes every INTERVAL seconds (issue 14, "Performance":
# 1,000 nodes every 5 s use <= 25 % of one core on the coordinator), on
# SQLite and on PostgreSQL.  bench/lib/hbsim.py simulates the agents: each
# node has its own node certificate (signed by the bench's CA) and a
# keep-alive HTTPS connection, and POSTs the real /v1/heartbeat with
# CONTAINERS containers (two generations and a Bundle each; 10,000
# containers in all with the defaults); 2 % of the heartbeats report a new
# generation.  The coordinator's CPU time (utime + stime of zanshin-api,
# /proc/PID/stat) is sampled every second; the result is its CPU over the
# DURATION-second window after every node has registered, as % of one
# core, for each of RUNS consecutive windows of DURATION seconds, with the
# heartbeats answered in it.  When the machine is so loaded that the
# simulator cannot send all NODES/INTERVAL heartbeats a second, that CPU
# is for fewer heartbeats: the goal is therefore judged on the
# coordinator's CPU per heartbeat answered times NODES/INTERVAL
# (cpu_pct_at_full_rate; the same number when the rate is met, an upper
# bound otherwise: fixed costs are spread over fewer heartbeats), median of
# the windows.  Coordinator, simulator and PostgreSQL share the 2 vCPUs.
# Environment: NODES (1000; quick 200), INTERVAL (5), DURATION (60; quick
# 20), RUNS (3; quick 1), CONTAINERS (10), BACKENDS ("sqlite postgresql").
set -u
. "$(dirname "$0")/lib/bench.sh"
if [ "$BENCH_MODE" = quick ]; then
	NODES=${NODES:-200} DURATION=${DURATION:-20}
fi
NODES=${NODES:-1000} INTERVAL=${INTERVAL:-5} DURATION=${DURATION:-60} CONTAINERS=${CONTAINERS:-10}
BACKENDS=${BACKENDS:-sqlite postgresql}
WINDOWS=$(bench_runs 3 1)
API=$BENCH_TOP/build/bin/zanshin-api
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$API" ] || bench_die "$API missing: run make"
bench_begin coordinator-heartbeats "Coordinator: heartbeats of $NODES nodes every ${INTERVAL} s"
NS=zshb$$
API_PID= SAMPLER=
cleanup() {
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	[ -f "$BENCH_W/pg/data/postmaster.pid" ] &&
		su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$BENCH_W/pg/data' -m immediate stop" >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	rm -rf "$BENCH_W"
}
trap cleanup EXIT
ip netns add "$NS" && ip -n "$NS" link set lo up || bench_die "cannot make a network namespace"
W=$BENCH_W
CERT=$BENCH_TOP/scripts/zanshin-cert.sh
"$CERT" ca --out "$W/ca" >/dev/null && "$CERT" node coord --ca "$W/ca" --out "$W/coord" >/dev/null || bench_die "CA"
# one key for every simulated node (a certificate each: its CN is its name)
mkdir -p "$W/nodes"
certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$W/nodes/key.pem" 2>/dev/null || bench_die "key"
bench_log "making $NODES node certificates"
for ((i = 0; i < NODES; i++)); do
	printf 'cn = "n%d"\ntls_www_client\nsigning_key\nexpiration_days = 2\n' "$i" >"$W/nodes/t"
	certtool --generate-certificate --load-privkey "$W/nodes/key.pem" --load-ca-certificate "$W/ca/ca.pem" \
		--load-ca-privkey "$W/ca/ca-key.pem" --template "$W/nodes/t" --outfile "$W/nodes/n$i.pem" 2>/dev/null ||
		bench_die "certificate n$i"
	ln -s key.pem "$W/nodes/n$i-key.pem"
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# the coordinator's CPU (% of one core) from START to END in the samples file
cpu_between() {
	awk -v s="$1" -v e="$2" -v hz="$(getconf CLK_TCK)" '$1 >= s && !t0 {t0 = $1; c0 = $2} $1 <= e {t1 = $1; c1 = $2}
		END { if (t1 > t0) printf "%.2f", 100 * (c1 - c0) / hz / (t1 - t0); else print "nan" }' "$3"
}

# the mean 1-minute load average from START to END
load_between() {
	awk -v s="$1" -v e="$2" '$1 >= s && $1 <= e {t += $3; n++} END { if (n) printf "%.1f", t / n; else print "nan" }' "$3"
}

run_backend() {
	local b=$1 db=$2 out start end cpu k
	nsenter --net="/run/netns/$NS" -- "$API" --listen 127.0.0.1:7430 --cert "$W/coord/coord.pem" \
		--key "$W/coord/coord-key.pem" --ca "$W/ca/ca.pem" --db "$db" --heartbeat "$INTERVAL" \
		--node-timeout $((INTERVAL * 4)) --log "$W/api-$b.log" &
	API_PID=$!
	sleep 1
	kill -0 "$API_PID" 2>/dev/null || bench_die "$b: zanshin-api did not start: $(tail -n 3 "$W/api-$b.log")"
	(while sleep 1; do echo "$(date +%s.%N) $(ticks "$API_PID") $(cut -d' ' -f1 /proc/loadavg)"; done) >"$W/cpu-$b.txt" 2>/dev/null &
	SAMPLER=$!
	out=$(nsenter --net="/run/netns/$NS" -- "$BENCH_PY" "$BENCH_TOP/bench/lib/hbsim.py" 127.0.0.1 7430 "$W/ca/ca.pem" \
		"$W/nodes" "$NODES" "$INTERVAL" "$((DURATION * WINDOWS))" "$CONTAINERS" 0.02 "$WINDOWS") ||
		bench_die "$b: the simulator failed"
	kill "$SAMPLER"
	SAMPLER=
	kill "$API_PID" && wait "$API_PID"
	API_PID=
	start=$(jq -r .window_start <<<"$out")
	end=$(jq -r .window_end <<<"$out")
	local cfg="$NODES nodes / ${INTERVAL} s"
	local ws we load n rate per full
	for ((k = 0; k < WINDOWS; k++)); do
		ws=$(awk -v s="$start" -v k=$k -v d="$DURATION" 'BEGIN {printf "%.3f", s + k * d}')
		we=$(awk -v s="$start" -v k=$k -v d="$DURATION" 'BEGIN {printf "%.3f", s + (k + 1) * d}')
		cpu=$(cpu_between "$ws" "$we" "$W/cpu-$b.txt")
		load=$(load_between "$ws" "$we" "$W/cpu-$b.txt")
		n=$(jq -r ".per_window[$k]" <<<"$out")
		rate=$(awk -v n="$n" -v d="$DURATION" 'BEGIN {printf "%.1f", n / d}')
		per=$(awk -v c="$cpu" -v r="$rate" 'BEGIN {if (r > 0) printf "%.4f", c * 10 / r; else print "nan"}')
		full=$(awk -v p="$per" -v t="$NODES" -v i="$INTERVAL" 'BEGIN {printf "%.2f", p * t / i / 10}')
		bench_log "$b: window $((k + 1))/$WINDOWS: $rate heartbeats/s, coordinator CPU $cpu % of one core ($per ms per heartbeat: $full % at $((NODES / INTERVAL))/s), load average $load"
		bench_sample "$b" "$cfg" coordinator_cpu_pct "$cpu" "$k"
		bench_sample "$b" "$cfg" heartbeats_per_s_window "$rate" "$k"
		bench_sample "$b" "$cfg" cpu_ms_per_heartbeat "$per" "$k"
		bench_sample "$b" "$cfg" cpu_pct_at_full_rate "$full" "$k"
		bench_sample "$b" "$cfg" loadavg_1min "$load" "$k"
	done
	bench_log "$b: $out; coordinator CPU $(cpu_between "$start" "$end" "$W/cpu-$b.txt") % of one core over all windows"
	bench_sample "$b" "$cfg" heartbeats_per_s "$(jq -r .rate_per_s <<<"$out")"
	bench_sample "$b" "$cfg" latency_ms_p50 "$(jq -r .latency_ms_p50 <<<"$out")"
	bench_sample "$b" "$cfg" latency_ms_p99 "$(jq -r .latency_ms_p99 <<<"$out")"
	bench_sample "$b" "$cfg" errors "$(jq -r .errors <<<"$out")"
	bench_goal_abs "$b: heartbeats of $NODES nodes every ${INTERVAL} s use <= 25 % of one core" "$b" cpu_pct_at_full_rate "$cfg" 25
}

bench_note "Each simulated node: its own certificate, one keep-alive HTTPS connection, a heartbeat every ${INTERVAL} s (staggered) with $CONTAINERS containers, 2 generations and a Bundle each; 2 % of heartbeats add a generation."
bench_note "Coordinator CPU = utime + stime of zanshin-api over each of $WINDOWS consecutive ${DURATION} s windows after every node registered, % of one core (the goal: their median); the simulator (Python) and PostgreSQL run on the same 2 vCPUs, shared with other engineers' test runs (loadavg_1min: the mean 1-minute load average in each window)."
for b in $BACKENDS; do
	case $b in
	sqlite) run_backend sqlite "sqlite:$W/hb.db" ;;
	postgresql)
		if [ ! -x "$PGBIN/initdb" ]; then
			bench_log "postgresql: $PGBIN/initdb missing, skipped"
			continue
		fi
		mkdir -p "$W/pg" && chown postgres "$W/pg" && chmod 0755 "$W"
		su postgres -s /bin/sh -c "$PGBIN/initdb -D '$W/pg/data' -A trust -U zs >/dev/null 2>&1 &&
			$PGBIN/pg_ctl -D '$W/pg/data' -o \"-k $W/pg -c listen_addresses= -c fsync=off\" -l '$W/pg/pg.log' -w start >/dev/null &&
			$PGBIN/createdb -h '$W/pg' -U zs zanshin" || bench_die "postgresql cluster"
		run_backend postgresql "postgresql://zs@/zanshin?host=$W/pg"
		;;
	esac
done
bench_plot coordinator-heartbeats-cpu.png bars cpu_pct_at_full_rate "zanshin-api CPU (% of one core) at $((NODES / INTERVAL)) heartbeats/s ($NODES nodes every ${INTERVAL} s)"
bench_end
