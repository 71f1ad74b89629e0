#!/bin/bash
# A campus day simulated with the coordinator's own timetable, policy and
# scheduler code (bench/campus-day.c: 40 PCs in 4 rooms, 100 containers,
# 14 hours): bytes moved by zanshin's remnant-aware scheduler vs. the same
# policies with l = 0 vs. runc + CRIU full moves.  Bytes per move come from
# a stated model (see bench/campus-day.c), not from real moves.
# Writes bench/results/campus-day.json and campus-day.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
bin=$top/build/bench/campus-day
[ -x "$bin" ] || make -C "$top" -s "$bin" >/dev/null
mkdir -p "$here/results"
"$bin" >"$here/results/campus-day.json"
python3 - "$here/results" <<'PY'
import json, sys
out = sys.argv[1]
r = json.load(open(f"{out}/campus-day.json"))
GiB = 1 << 30
with open(f"{out}/campus-day.md", "w") as f:
    f.write(f"# A simulated campus day ({r['pcs']} PCs in {r['rooms']} rooms, {r['containers']} containers, {r['hours']} h)\n\n")
    f.write("bench/campus-day.sh: the coordinator's timetable, policy (evacuate 15 min before a class) and scheduler code, "
            "minute by minute; bytes per move from the model in bench/campus-day.c (full = memory + 64 MiB Bundle when the "
            "target has none; diff = pages written since the container arrived, when it goes back to the node holding its "
            "baseline).\n\n| scheduler | moves | diff moves | bytes moved | vs runc |\n|---|---|---|---|---|\n")
    base = r["runs"]["runc_criu"]["bytes"]
    for k, name in (("zanshin", "zanshin (k = l = m = 1)"), ("zanshin_l0", "zanshin policies, l = 0"), ("runc_criu", "runc + CRIU (full moves)")):
        x = r["runs"][k]
        f.write(f"| {name} | {x['moves']} | {x.get('diff_moves', 0)} | {x['bytes'] / GiB:.1f} GiB | {100 * x['bytes'] / base:.1f} % |\n")
print(open(f"{out}/campus-day.md").read())
PY
