#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Turn a benchmark's scratch recording (bench/lib/bench.sh) into
bench/results/NAME.json: every sample, the machine, the versions of the
tools, the command line and the date.

usage: record.py SCRATCH_DIR OUT.json
"""
import json
import os
import platform
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = "zanshin-bench/1"


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else "?"
    except (OSError, subprocess.SubprocessError):
        return "not installed"


def read(path, default="?"):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def machine():
    cpu = "?"
    for line in read("/proc/cpuinfo", "").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in read("/proc/meminfo", "").splitlines():
        if line.startswith("MemTotal:"):
            mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    m = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "debian": read("/etc/debian_version"),
    }
    # facts that move the numbers: free page reporting (a VM hands freed
    # memory back to its host: touching it again costs a host fault per
    # page) and whether /run is tmpfs (where stock CRIU keeps its kerndat
    # cache)
    for word in read("/proc/cmdline", "").split():
        if word.startswith("page_reporting.page_reporting_order="):
            m["page_reporting_order"] = int(word.split("=", 1)[1])
    if os.path.isdir("/sys/bus/virtio/drivers/virtio_balloon"):
        m["virtio_balloon"] = True
    try:
        m["run_fs"] = subprocess.run(["stat", "-f", "-c", "%T", "/run"], capture_output=True,
                                     text=True).stdout.strip() or "?"
    except OSError:
        pass
    return m


def versions():
    b = os.path.join(TOP, "build")
    rev = first_line(["git", "-C", TOP, "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", TOP, "diff", "--quiet", "HEAD", "--", "criu-patches", "runtime", "lib"],
                           capture_output=True).returncode
    return {
        "zanshin": first_line([os.path.join(b, "bin/zanshin"), "--version"]),
        "criu": first_line([os.path.join(b, "bin/criu"), "--version"]) + " + criu-patches",
        "stock_criu": first_line([os.path.join(b, "stock/bin/criu"), "--version"]),
        "runc": first_line(["/usr/sbin/runc", "--version"]),
        "git": rev + ("+dirty" if dirty else ""),
    }


def main():
    scratch, out = sys.argv[1:3]
    meta = {"notes": [], "anchor": None}
    for line in open(os.path.join(scratch, "meta.tsv")):
        k, _, v = line.rstrip("\n").partition("\t")
        if k == "note":
            meta["notes"].append(v)
        else:
            meta[k] = v
    samples = []
    for line in open(os.path.join(scratch, "samples.tsv")):
        if not line.strip():
            continue
        group, config, metric, value, run, hop = line.rstrip("\n").split("\t")
        s = {"group": group, "config": config, "metric": metric, "value": float(value), "run": int(run)}
        if hop != "":
            s["hop"] = int(hop)
        samples.append(s)
    goals = []
    for line in open(os.path.join(scratch, "goals.tsv")):
        f = line.rstrip("\n").split("\t")
        g = {"kind": f[0], "text": f[1], "group": f[2], "metric": f[3], "config": f[4]}
        if f[0] == "ratio":
            g.update({"vs_group": f[5], "vs_config": f[6], "max_ratio": float(f[7])})
        else:
            g["max"] = float(f[7])
        goals.append(g)
    plots = []
    for line in open(os.path.join(scratch, "plots.tsv")):
        f = line.rstrip("\n").split("\t")
        plots.append({"file": f[0], "kind": f[1], "metric": f[2], "title": f[3], "groups": f[4]})
    res = {
        "schema": SCHEMA,
        "name": meta.get("name"),
        "title": meta.get("title"),
        "command": meta.get("command"),
        "mode": meta.get("mode"),
        "date": meta.get("date"),
        "wall_seconds": int(meta.get("wall_seconds", "0")),
        "loadavg": {"start": meta.get("load_start"), "end": meta.get("load_end")},
        "machine": machine(),
        "versions": versions(),
        "anchor": meta.get("anchor"),
        "notes": meta["notes"],
        "goals": goals,
        "plots": plots,
        "samples": samples,
    }
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
