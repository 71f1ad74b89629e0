#!/usr/bin/python3
"""Placement through zanshin-api's real API (bench/placement-api.sh).

simulate: NODES simulated agents (one node certificate each) send the
heartbeats real agents send: load, their containers (CONTAINERS in all), and
their remnant inventory (each container's 1-8 generations spread over 1-3
nodes, its Bundle on the first).  Then, over one keep-alive HTTPS connection
with an admin token, GET /v1/place/ID for SAMPLES random containers, with and
without ?explain=1, ROUNDS times (default 1); prints JSON with p50/p99/max
in milliseconds over every sample and per round, and the median of the
rounds' p50 and p99.
"""
import http.client
import json
import os
import random
import ssl
import sys
import time

def ctx(ca, cert=None, key=None):
    c = ssl.create_default_context(cafile=ca)
    c.check_hostname = False  # the coordinator's name is checked by the CA only here
    if cert:
        c.load_cert_chain(cert, key)
    return c

def conn(host, port, c):
    return http.client.HTTPSConnection(host, port, context=c, timeout=60)

def plan(nodes, containers, seed=7):
    rnd = random.Random(seed)
    held = {n: {"remnants": [], "bundles": []} for n in range(nodes)}
    runs = {n: [] for n in range(nodes)}
    for i in range(containers):
        cid = f"c{i:05d}"
        home = i % nodes
        runs[home].append({"id": cid, "state": "running", "memory": rnd.randint(64, 2048) << 20})
        gens = rnd.randint(1, 8)
        holders = rnd.sample(range(nodes), rnd.randint(1, 3))
        for k, n in enumerate(holders):
            have = rnd.randint(1, gens)
            parent = None
            for g in range(have):
                img = f"{cid}-g{g}"
                r = {"container": cid, "image_id": img, "size": 4096 * (g + 1)}
                if parent:
                    r["parent_id"] = parent
                held[n]["remnants"].append(r)
                parent = img
            if k == 0:
                held[n]["bundles"].append({"container": cid, "digest": f"{i:016x}"})
    return rnd, held, runs

def simulate(host, port, ca, pki, nodes, containers):
    rnd, held, runs = plan(nodes, containers)
    t0 = time.time()
    for n in range(nodes):
        name = f"sim{n:04d}"
        c = conn(host, port, ctx(ca, f"{pki}/{name}.pem", f"{pki}/key.pem"))
        used = rnd.randint(1, 15) << 30
        body = {"address": f"10.99.{n // 250}.{n % 250 + 1}:7427", "cpu": round(rnd.random(), 3),
                "mem_used": used, "mem_total": 16 << 30, "containers": runs[n],
                "remnants": held[n]["remnants"], "bundles": held[n]["bundles"]}
        c.request("POST", "/v1/heartbeat", json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        out = r.read()
        if r.status != 200:
            sys.exit(f"heartbeat of {name}: {r.status} {out[:300]!r}")
        c.close()
    return time.time() - t0

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]

def place(host, port, ca, token, containers, samples, explain, seed=11):
    rnd = random.Random(seed)
    c = conn(host, port, ctx(ca))
    lat, placed = [], 0
    for _ in range(samples):
        cid = f"c{rnd.randrange(containers):05d}"
        t = time.perf_counter()
        c.request("GET", f"/v1/place/{cid}?explain={1 if explain else 0}", headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        body = r.read()
        lat.append((time.perf_counter() - t) * 1000)
        if r.status != 200:
            sys.exit(f"place {cid}: {r.status} {body[:300]!r}")
        placed += json.loads(body)["target"] is not None
    return {"p50_ms": round(pct(lat, 0.5), 3), "p99_ms": round(pct(lat, 0.99), 3), "max_ms": round(max(lat), 3),
            "samples": samples, "placed": placed, "lat": lat}

def cpu_s(pid):
    """utime + stime of process PID in seconds (None: not known)"""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None

def one_round(host, port, ca, token, containers, samples, explain, seed, pid):
    c0 = cpu_s(pid)
    r = place(host, port, ca, token, containers, samples, explain, seed)
    c1 = cpu_s(pid)
    # the coordinator's CPU per request: its own cost, whatever the machine's load
    r["coordinator_cpu_ms_per_request"] = round((c1 - c0) * 1000 / samples, 3) if c0 is not None and c1 is not None else None
    return r

def rounds(host, port, ca, token, containers, samples, explain, n, pid):
    """n rounds of samples: every sample's p50/p99/max, each round's, the rounds' medians"""
    runs = [one_round(host, port, ca, token, containers, samples, explain, 11 + k, pid) for k in range(n)]
    lat = [x for r in runs for x in r.pop("lat")]
    med = lambda key: round(sorted(r[key] for r in runs)[len(runs) // 2], 3)  # noqa: E731
    return {"p50_ms": round(pct(lat, 0.5), 3), "p99_ms": round(pct(lat, 0.99), 3), "max_ms": round(max(lat), 3),
            "samples": len(lat), "placed": sum(r["placed"] for r in runs), "rounds": runs,
            "p50_ms_median_of_rounds": med("p50_ms"), "p99_ms_median_of_rounds": med("p99_ms"),
            "p99_ms_worst_round": max(r["p99_ms"] for r in runs),
            "coordinator_cpu_ms_per_request": med("coordinator_cpu_ms_per_request") if pid else None,
            "loadavg_end": [round(x, 2) for x in os.getloadavg()]}

def main():
    host, port, ca, pki, token_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    nodes, containers, samples = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
    n = int(sys.argv[9]) if len(sys.argv) > 9 else 1
    pid = int(sys.argv[10]) if len(sys.argv) > 10 else 0
    token = open(token_file).readline().strip()
    hb = simulate(host, port, ca, pki, nodes, containers)
    res = {"nodes": nodes, "containers": containers, "heartbeats_s": round(hb, 1),
           "place": rounds(host, port, ca, token, containers, samples, False, n, pid),
           "explain": rounds(host, port, ca, token, containers, max(samples // 4, 1), True, n, pid)}
    print(json.dumps(res))

if __name__ == "__main__":
    main()
