#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Regenerate bench/results/README.md and bench/results/plots/*.svg from
every bench/results/*.json written by bench/lib/record.py.

For each group of samples (same group, configuration and metric): the number
of samples, median, 10th and 90th percentiles, and the ratio of its median to
the anchor configuration's median in the same group and metric (the anchor
is named in the JSON; for the paper's tables it is runc + stock CRIU, or
stock CRIU at the CRIU level). Goals are evaluated from the same medians.
Plots are drawn with gnuplot (SVG) when it is installed.

usage: report.py RESULTS_DIR
"""
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys

SCHEMA = "zanshin-bench/1"


def pct(xs, p):
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def fmt(metric, v):
    if v is None:
        return "—"
    if "bytes" in metric:
        return "%.2f MB" % (v / 1e6) if v >= 1e5 else "%d B" % v
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 0.1:
        return "%.3f" % v
    return "%.4g" % v


def ordered(items):
    seen = []
    for i in items:
        if i not in seen:
            seen.append(i)
    return seen


class Result:
    def __init__(self, path):
        self.path = path
        self.j = json.load(open(path))
        self.stats = {}
        by = {}
        for s in self.j["samples"]:
            by.setdefault((s["group"], s["config"], s["metric"]), []).append(s["value"])
        for k, xs in by.items():
            self.stats[k] = {"n": len(xs), "median": statistics.median(xs), "p10": pct(xs, 0.1), "p90": pct(xs, 0.9)}
        keys = ordered((s["group"], s["config"], s["metric"]) for s in self.j["samples"])
        groups = ordered(k[0] for k in keys)
        anchor = self.j.get("anchor")
        self.keys = sorted(keys, key=lambda k: (groups.index(k[0]), k[1] != anchor))

    def median(self, group, config, metric):
        st = self.stats.get((group, config, metric))
        return st["median"] if st else None

    def ratio(self, group, config, metric):
        a = self.j.get("anchor")
        if not a or config == a:
            return None
        m, am = self.median(group, config, metric), self.median(group, a, metric)
        if m is None or not am:
            return None
        return m / am

    def goals(self):
        out = []
        for g in self.j.get("goals", []):
            m = self.median(g["group"], g["config"], g["metric"])
            if g["kind"] == "ratio":
                vs = self.median(g["vs_group"], g["vs_config"], g["metric"])
                val = m / vs if m is not None and vs else None
                target = g["max_ratio"]
                shown = "—" if val is None else ("%.3f× (%+.2f%%)" % (val, 100 * (val - 1)))
                tshown = "≤ %.3f×" % target
            else:
                val, target = m, g["max"]
                unit = "" if "bytes" in g["metric"] else " " + g["metric"]
                shown, tshown = fmt(g["metric"], val) + unit, "≤ %s%s" % (fmt(g["metric"], target), unit)
            met = None if val is None else val <= target
            out.append((g, shown, tshown, met))
        return out


def overlap(r, group, a, b, metric):
    """True when the p10-p90 ranges of configurations A and B overlap."""
    x, y = r.stats.get((group, a, metric)), r.stats.get((group, b, metric))
    return bool(x and y and x["p10"] <= y["p90"] and y["p10"] <= x["p90"])


def why(r, g, by_name):
    """What the results show about a missed goal, from the samples and the
    profiles the benchmarks record (None: nothing to add)."""
    name = r.j["name"]
    if g["kind"] == "ratio" and name in ("container-tables", "criu-tables") and \
            overlap(r, g["group"], g["config"], g["vs_config"], g["metric"]):
        return ("the difference of the medians is smaller than the run-to-run spread: the two configurations' "
                "p10–p90 ranges overlap (see the table), so this run cannot tell it from this shared machine's noise")
    if name == "merge":
        m = r.median(g["group"], "zanshin", "throughput (GB/s)")
        c = r.median(g["group"], "zanshin, memory cold", "throughput (GB/s)")
        v = r.median(g["group"], "zanshin remnant verify (reference)", "throughput (GB/s)")
        prof = [n for n in r.j["notes"] if n.startswith("perf profile")]
        t = ("a merge hashes the chain once (sha256-4k page digests, which also make the new generation's "
             "digest) and writes the whole image into new memory")
        if m and v:
            t += ("; one digest pass alone (`zanshin remnant verify` of the merged generation, same run) runs at "
                  "%.2f GB/s, the merge at %.2f GB/s" % (v, m))
        if c:
            t += " (%.2f GB/s when the VM must fault every new page in from the host)" % c
        if prof:
            t += ". " + prof[0][0].upper() + prof[0][1:]
        return t
    if name in ("migrate", "ckpt-phases") and "checkpoint time" in g["text"]:
        cp = by_name.get("ckpt-phases")
        if not cp:
            return None
        grp = ordered(k[0] for k in cp.keys)[0]
        z, a = "zanshin (diff)", "runc + stock CRIU"
        rows = []
        for gg, c, met in cp.keys:
            if c == z and met.endswith(" (s)") and met not in ("checkpoint, wall (s)", "CRIU in all (s)"):
                mz, ma = cp.median(gg, z, met), cp.median(gg, a, met)
                if mz is not None and ma is not None:
                    rows.append((met[:-4], mz, ma))
        wz, wa = cp.median(grp, z, "checkpoint, wall (s)"), cp.median(grp, a, "checkpoint, wall (s)")
        if not rows or not wz or not wa:
            return None
        mem = [x for x in rows if x[0].startswith("tasks")]
        rest = [x for x in rows if not x[0].startswith("tasks")]
        ns = [x for x in rows if x[0].startswith("namespaces")]
        t = ("phase by phase (`ckpt-phases`, %s; medians, zanshin's diff / runc's full): " % grp +
             "; ".join("%s %.3f / %.3f s" % x for x in rows) +
             ". Only the tasks phase depends on the memory written")
        if mem:
            t += (" (%.3f s against %.3f s; it also reads the tasks' cgroups, which zanshin's CRIU does through "
                  "the host's cgroup mounts instead of mounting cgroup2 anew, about 0.01 s, criu-patches 0017)"
                  % (mem[0][1], mem[0][2]))
        t += (". The other phases are work done whatever was written — the container's mount tree, its "
              "namespaces, killing the dumped tasks and waiting for their exit, the runtime around CRIU: "
              "%.3f s for zanshin, %.3f s for runc" % (sum(x[1] for x in rest), sum(x[2] for x in rest)))
        if ns and ns[0][2] > ns[0][1]:
            t += ("; in the namespaces phase stock CRIU walks the host's whole conntrack table twice (%.3f s), "
                  "which zanshin's CRIU skips for a network namespace without conntrack entries "
                  "(%.3f s, criu-patches 0016)" % (ns[0][2], ns[0][1]))
        setup = [x for x in rows if x[0].startswith("setup")]
        if setup and setup[0][2] > setup[0][1]:
            t += (". Setup includes CRIU's kernel feature probe: stock CRIU repeats it on every run where /run is "
                  "not tmpfs (this machine), zanshin's CRIU keeps its cache (criu-patches 0014); where /run is "
                  "tmpfs, as on a default Debian, runc's checkpoint would be about %.3f s shorter"
                  % (setup[0][2] - setup[0][1]))
        return t
    if name == "migrate" and "restore" in g["text"]:
        def by_hop(cfg, lo, hi):
            xs = [x["value"] for x in r.j["samples"] if x["group"] == g["group"] and x["config"] == cfg and
                  x["metric"] == g["metric"] and lo <= x.get("hop", 0) <= hi]
            return statistics.median(xs) if xs else None
        z1, a1 = by_hop(g["config"], 1, 4), by_hop(g["vs_config"], 1, 4)
        z2, a2 = by_hop(g["config"], 5, 10 ** 6), by_hop(g["vs_config"], 5, 10 ** 6)
        if None in (z1, a1, z2, a2):
            return None
        if any(n.startswith("separate machines emulated") for n in r.j["notes"]):
            t = ("hops 1–4, before any store merge is due: zanshin %.3f s, runc %.3f s (%.2f×); from hop 5 on, "
                 "when each node's chain passes max_chain and the sender merges it (waited for before the "
                 "restore, SEPARATE=1): zanshin %.3f s, runc %.3f s (%.2f×); the per-hop samples show which hops "
                 "were slow" % (z1, a1, z1 / a1, z2, a2, z2 / a2))
            cd = by_name.get("chain-depth")
            if cd:
                deep = ordered(k[0] for k in cd.keys)[-1]
                x = cd.ratio(deep, "diff chain", "restore (s)")
                if x:
                    t += (". The receiver restores hop N's diff through its image directory's chain, N images "
                          "deep; `chain-depth` measured such a restore at %s at %.2f× the same memory in one "
                          "image" % (deep, x))
        else:
            t = ("hops 1–4, before any store merge is due: zanshin %.3f s, runc %.3f s (%.2f×); from hop 5 on, "
                 "when each node's chain passes max_chain and the node merges it in the background (a new full "
                 "generation written into fresh memory) while the other node restores: zanshin %.3f s, runc "
                 "%.3f s (%.2f×). Both nodes share this machine's two cores and its memory (see below): on two "
                 "machines one node's merge would not touch the other's restore; the per-hop samples show the "
                 "slow restores at the hops where the other node merged" % (z1, a1, z1 / a1, z2, a2, z2 / a2))
        ct = by_name.get("container-tables")
        if ct:
            rs = [(gg["text"], met) for gg, _s, _t, met in ct.goals() if "runc's restore" in gg["text"]]
            if rs:
                t += "; on one node (`container-tables`): " + ", ".join(
                    "%s — %s" % (txt, "met" if met else "not met") for txt, met in rs)
        return t
    if name == "track-cost":
        prof = [n for n in r.j["notes"] if n.startswith("perf profile")]
        if prof:
            return prof[0]
    return None


def gnuplot(script):
    if not shutil.which("gnuplot"):
        return False
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        sys.stderr.write("report: gnuplot failed: %s\n" % r.stderr[-2000:])
        return False
    return True


def q(s):
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("_", "\\\\_").replace("@", "\\\\@")


TERM = os.environ.get("ZS_TERM", "set terminal svg size 900,480 dynamic enhanced font 'Helvetica,12' background rgb 'white'") + "\n"


def plot_bars(res, p, out, data):
    import re
    rx = re.compile(p["groups"]) if p["groups"] else None
    groups = ordered(g for g, c, m in res.keys if m == p["metric"] and (not rx or rx.search(g)))
    configs = ordered(c for g, c, m in res.keys if m == p["metric"] and g in groups)
    if not groups:
        return False
    scale, ylabel = (1e6, "MB") if "bytes" in p["metric"] else (1, p["metric"])
    with open(data, "w") as f:
        for g in groups:
            row = ['"%s"' % g.replace('"', "'")]
            for c in configs:
                st = res.stats.get((g, c, p["metric"]))
                row += ["%g %g %g" % (st["median"] / scale, st["p10"] / scale, st["p90"] / scale) if st else "? ? ?"]
            f.write(" ".join(row) + "\n")
    s = TERM + 'set output "%s"\n' % out
    s += 'set title "%s"\nset ylabel "%s (median, bars p10–p90)"\n' % (q(p["title"]), q(ylabel))
    s += "set datafile missing '?'\nset style data histogram\nset style histogram errorbars gap 2 lw 1\n"
    s += "set style fill solid 0.7 border -1\nset key top left\nset yrange [0:*]\nset grid ytics\n"
    s += "set xtics noenhanced rotate by -20\n"
    parts = []
    for i, c in enumerate(configs):
        b = 2 + 3 * i
        parts.append("'%s' using %d:%d:%d%s title \"%s\"" % (data, b, b + 1, b + 2, ":xtic(1)" if i == 0 else "", q(c)))
    s += "plot " + ", ".join(parts) + "\n"
    return gnuplot(s)


def plot_hops(res, p, out, data):
    import re
    rx = re.compile(p["groups"]) if p["groups"] else None
    series = {}
    for s in res.j["samples"]:
        if s["metric"] != p["metric"] or "hop" not in s or (rx and not rx.search(s["group"])):
            continue
        # "depth": x is the chain depth (kept in "hop"), one series per configuration
        key = ("", s["config"]) if p["kind"] == "depth" else (s["group"], s["config"])
        series.setdefault(key, {}).setdefault(s["hop"], []).append(s["value"])
    if not series:
        return False
    scale, ylabel = (1e6, "MB") if "bytes" in p["metric"] else (1, p["metric"])
    names = list(series)
    with open(data, "w") as f:
        for k in names:
            for hop in sorted(series[k]):
                f.write("%d %g\n" % (hop, statistics.median(series[k][hop]) / scale))
            f.write("\n\n")
    s = TERM + 'set output "%s"\n' % out
    if p["kind"] == "depth":
        s += 'set title "%s"\nset xlabel "chain depth"\nset ylabel "%s (median)"\n' % (q(p["title"]), q(ylabel))
    else:
        s += 'set title "%s"\nset xlabel "hop"\nset ylabel "%s per hop (median)"\n' % (q(p["title"]), q(ylabel))
    s += "set key below\nset grid\nset xtics 1\n"
    if p.get("log", True) and "bytes" in p["metric"]:
        s += "set logscale y\n"
    parts = ["'%s' index %d using 1:2 with linespoints title \"%s\"" % (data, i, q(", ".join(x for x in (k[1], k[0]) if x)))
             for i, k in enumerate(names)]
    s += "plot " + ", ".join(parts) + "\n"
    return gnuplot(s)


def main():
    outdir = sys.argv[1]
    plotdir = os.path.join(outdir, "plots")
    os.makedirs(plotdir, exist_ok=True)
    results, legacy = [], []
    for path in sorted(glob.glob(os.path.join(outdir, "*.json"))):
        try:
            j = json.load(open(path))
        except ValueError:
            continue
        if j.get("schema") == SCHEMA:
            results.append(Result(path))
        elif os.path.exists(path[:-5] + ".md"):
            legacy.append(os.path.basename(path[:-5] + ".md"))
    md = ["# Benchmark results", "",
          "Generated by `bench/lib/report.py` from `bench/results/*.json` (every sample is there);"
          " do not edit by hand. Regenerate with `make bench` (full) or `make bench-quick`.",
          "Medians with the 10th–90th percentile range; *× anchor* is the ratio of the median to the"
          " anchor configuration's median in the same row group (runc 1.1.5 + stock CRIU 4.2.1 for"
          " containers, stock CRIU 4.2.1 at the CRIU level).", ""]
    md += ["## Goals", "", "| benchmark | goal | measured | target | met |", "|---|---|---:|---:|:---:|"]
    for r in results:
        for g, shown, tshown, met in r.goals():
            md.append("| [%s](#%s) | %s | %s | %s | %s |" % (r.j["name"], r.j["name"], g["text"], shown, tshown,
                                                          "—" if met is None else ("yes" if met else "**no**")))
    by_name = {r.j["name"]: r for r in results}
    misses = [(r, g) for r in results for g, _, _, met in r.goals() if met is False]
    notes = [(r, g, why(r, g, by_name)) for r, g in misses]
    notes = [x for x in notes if x[2]]
    if notes:
        md += ["", "### Goals not met: what the results show", ""]
        md += ["- **%s**, %s: %s." % (r.j["name"], g["text"], t.rstrip(".")) for r, g, t in notes]
    facts = []
    vm = [r for r in results if r.j["machine"].get("page_reporting_order") is not None]
    if vm:
        order = vm[0].j["machine"]["page_reporting_order"]
        facts.append(
            "This machine is a VM with free page reporting (virtio-balloon, `page_reporting_order=%d`: free "
            "blocks of %d MiB go back to the host). Memory freed and allocated again costs a host fault per page "
            "the first time it is touched, several times the cost of touching memory in use. Benchmarks that "
            "free and allocate gigabytes (images on tmpfs; zanshin's store merging a chain into a new full "
            "generation and retiring the old one, in the background) see checkpoint and restore times swing by "
            "several times from one hop to the next (p90 columns); `migrate` deletes runc's images once used "
            "so that its footprint stays flat (recorded in: %s)"
            % (order, (4096 << order) >> 20, ", ".join(r.j["name"] for r in vm)))
    mg = by_name.get("migrate")
    if mg:
        work = ("What zanshin leaves to a detached, nice'd process after a checkpoint or restore — keeping the "
                "generation in the node's store (the digest of every file) and, once a chain is longer than "
                "`max_chain` (4), merging it into a new full generation (the whole image hashed and written "
                "again, see `merge`)")
        if any(n.startswith("separate machines emulated") for n in mg.j["notes"]):
            facts.append(
                "`migrate` runs both nodes on this one machine. %s — would run beside the other node's restore "
                "on the same two cores and memory; on two machines it runs on the sender only. The run waits for "
                "the sender's store to settle before each restore (SEPARATE=1, the wait is its own metric and "
                "not part of the downtime); `SEPARATE=0 bench/migrate.sh` measures the co-located overlap "
                "instead" % work)
        else:
            facts.append(
                "`migrate` runs both nodes on this one machine. %s — runs on the same two cores while the "
                "other node restores, and every second to fourth hop a merge is due. On two machines that work "
                "would not share the receiver's cores; here it shows in zanshin's restore times (p90, and the "
                "larger image most)" % work)
    cp = by_name.get("ckpt-phases")
    if cp:
        grp = ordered(k[0] for k in cp.keys)[0]
        key = [m for _, c, m in cp.keys if m.startswith("setup")]
        sz = cp.median(grp, "zanshin (diff)", key[0]) if key else None
        sa = cp.median(grp, "runc + stock CRIU", key[0]) if key else None
        if sz is not None and sa is not None and sa > sz:
            facts.append("`/run` is not tmpfs here. Stock CRIU keeps its kernel feature cache (kerndat) only on tmpfs, "
                   "so under runc every CRIU run probes the kernel again; zanshin's CRIU keeps the cache anywhere, "
                   "valid for one boot id and one binary (criu-patches 0014). Measured in `ckpt-phases` (CRIU's "
                   "setup phase, medians): %.3f s for stock CRIU, %.3f s for zanshin's. Every runc checkpoint and "
                   "restore above carries that %.3f s; where /run is tmpfs (a default Debian) both CRIUs use a "
                   "cache and runc's times would be that much shorter" % (sa, sz, sa - sz))
    if facts:
        md += ["", "### Reading these numbers on this machine", ""] + ["- %s." % f for f in facts]
    md.append("")
    used_plots = set()
    for r in results:
        j = r.j
        m, v = j["machine"], j["versions"]
        md += ['<a id="%s"></a>' % j["name"], "## %s (`%s`)" % (j["title"], j["name"]), ""]
        md.append("- command: `%s` (%s mode), %s, %d s" % (j["command"], j["mode"], j["date"], j["wall_seconds"]))
        md.append("- machine: %s, %s cores, %s, Linux %s, Debian %s; load average %s at start, %s at end" % (
            m["cpu"], m["cores"], m["memory"], m["kernel"], m["debian"], j["loadavg"]["start"], j["loadavg"]["end"]))
        md.append("- versions: zanshin %s (%s); CRIU %s; stock %s; %s" % (
            v["zanshin"], v["git"], v["criu"], v["stock_criu"], v["runc"]))
        for n in j["notes"]:
            md.append("- " + n)
        md.append("")
        for p in j.get("plots", []):
            out = os.path.join(plotdir, p["file"])
            data = os.path.join(plotdir, "." + p["file"] + ".dat")
            ok = plot_bars(r, p, out, data) if p["kind"] == "bars" else plot_hops(r, p, out, data)
            if os.path.exists(data):
                os.unlink(data)
            if ok:
                used_plots.add(p["file"])
                md += ["![%s](plots/%s)" % (p["title"], p["file"]), ""]
        md += ["| group | configuration | metric | n | median | p10 | p90 | × anchor |",
               "|---|---|---|---:|---:|---:|---:|---:|"]
        last = None
        for g, c, met in r.keys:
            st = r.stats[(g, c, met)]
            ra = r.ratio(g, c, met)
            md.append("| %s | %s | %s | %d | %s | %s | %s | %s |" % (
                g if g != last else "", c + (" (anchor)" if c == j.get("anchor") else ""), met, st["n"],
                fmt(met, st["median"]), fmt(met, st["p10"]), fmt(met, st["p90"]),
                "—" if ra is None else "%.3f" % ra))
            last = g
        md.append("")
    if legacy:
        md += ["## Earlier benchmarks (own format)", ""] + ["- [%s](%s)" % (l, l) for l in legacy] + [""]
    for f in glob.glob(os.path.join(plotdir, "*.svg")):
        if os.path.basename(f) not in used_plots:
            os.unlink(f)
    with open(os.path.join(outdir, "README.md.tmp"), "w") as f:
        f.write("\n".join(md))
    os.replace(os.path.join(outdir, "README.md.tmp"), os.path.join(outdir, "README.md"))


if __name__ == "__main__":
    main()
