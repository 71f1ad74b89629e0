#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Agent simulator for bench/coordinator-heartbeats.sh: NODES simulated
nodes, each with its own node certificate (CERTDIR/nI.pem, nI-key.pem) and
one keep-alive HTTPS connection, POST the real /v1/heartbeat of zanshin-api
every INTERVAL seconds (staggered) for DURATION seconds: CONTAINERS
containers each, two generations (full + diff) and a Bundle per container;
with probability CHANGE a heartbeat reports one more generation (an
inventory that changed).  Prints one JSON object: heartbeats sent, errors,
latency p50/p99 (ms), the time the measured window began and ended, and
the heartbeats answered in each of WINDOWS equal parts of it (default 1).

usage: hbsim.py HOST PORT CA CERTDIR NODES INTERVAL DURATION CONTAINERS CHANGE [WINDOWS]
"""
import http.client
import json
import random
import ssl
import sys
import threading
import time

host, port, ca, certdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
nodes, interval, duration = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
containers, change = int(sys.argv[8]), float(sys.argv[9])
windows = int(sys.argv[10]) if len(sys.argv) > 10 else 1

lock = threading.Lock()
lat, errors = [], []
start_at = time.time() + 2.0 + nodes * 0.004  # every node connected first
end_at = start_at + duration


def inventory(i, extra):
    cs, gens, bundles = [], [], []
    for k in range(containers):
        cid = "c%d-%d" % (i, k)
        cs.append({"id": cid, "state": "running", "memory": 64 << 20, "bundle_digest": "%064x" % (i * 1000 + k)})
        gens.append({"container": cid, "image_id": "f%d" % k, "size": 64 << 20})
        gens.append({"container": cid, "image_id": "d%d" % k, "parent_id": "f%d" % k, "size": 1 << 20})
        bundles.append({"container": cid, "digest": "%064x" % (i * 1000 + k)})
    for e in range(extra):
        gens.append({"container": "c%d-0" % i, "image_id": "x%d" % e, "parent_id": "f0", "size": 4096})
    return cs, gens, bundles


def node(i):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # the chain is checked; the bench connects by address
    ctx.load_cert_chain("%s/n%d.pem" % (certdir, i), "%s/n%d-key.pem" % (certdir, i))
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
    extra = 0
    peers_version = 0  # as an agent: the peer list comes again only when it changed
    inv = inventory(i, extra)
    t = start_at + random.random() * interval
    first = True
    while True:
        now = time.time()
        if not first and now >= end_at:
            break
        if not first and t > now:
            time.sleep(t - now)
        if not first and random.random() < change:
            extra += 1
            inv = inventory(i, extra)
        body = json.dumps({"address": "10.1.%d.%d:7427" % (i // 250, i % 250), "cpu": random.random(),
                           "mem_used": random.randint(1 << 30, 8 << 30), "mem_total": 16 << 30,
                           "peers_version": peers_version,
                           "containers": inv[0], "remnants": inv[1], "bundles": inv[2]})
        t0 = time.time()
        try:
            conn.request("POST", "/v1/heartbeat", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            ans = r.read()
            ok = r.status == 200
            if ok:
                peers_version = json.loads(ans).get("peers_version", 0)
        except Exception as e:  # noqa: BLE001 (counted, reported)
            ok = False
            conn.close()
            conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
        t1 = time.time()
        if not first and start_at <= t0 < end_at:
            with lock:
                (lat if ok else errors).append(((t1 - t0) * 1000, t0))
        if not first:
            t += interval
        first = False


threads = [threading.Thread(target=node, args=(i,), daemon=True) for i in range(nodes)]
for th in threads:
    th.start()
for th in threads:
    th.join()
per_window = [0] * windows
for _, t0 in lat:
    per_window[min(windows - 1, int((t0 - start_at) * windows / duration))] += 1
lat = sorted(x for x, _ in lat)
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None  # noqa: E731
print(json.dumps({"nodes": nodes, "interval_s": interval, "duration_s": duration, "containers_per_node": containers,
                  "change_probability": change, "heartbeats": len(lat), "errors": len(errors),
                  "rate_per_s": len(lat) / duration, "latency_ms_p50": q(0.5), "latency_ms_p99": q(0.99),
                  "window_start": start_at, "window_end": end_at, "per_window": per_window}))
