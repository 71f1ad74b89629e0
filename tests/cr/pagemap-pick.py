#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Pick a page of a CRIU image for a test to corrupt (tests/cr/lazy-verify.sh).

  pagemap-pick.py eager DIR          a page CRIU restores before the tasks
                                     resume: the first present page of an
                                     entry without PE_LAZY
  pagemap-pick.py lazy DIR CHILD     a page of DIR (a parent level) that a
                                     lazy restore of CHILD serves from DIR:
                                     present and PE_LAZY in DIR, a parent hole
                                     in CHILD (the middle one of them)
  pagemap-pick.py lazy-first DIR CHILD   the same, the first one (the
                                     prefetch serves it at once)

Both look at the task with the most pages (the workload) and print
"pages-N.img BLOCK VADDR": the pages image, the 4 KiB block in it, the
page's address.
"""
import os
import struct
import sys

PE_PARENT, PE_LAZY, PE_PRESENT = 1, 2, 4
PAGE = 4096


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(msg):
    i, out = 0, {}
    while i < len(msg):
        key, i = varint(msg, i)
        num, wire = key >> 3, key & 7
        if wire != 0:
            raise SystemExit("unexpected wire type %d" % wire)
        out[num], i = varint(msg, i)
    return out


def pagemap(path):
    b = open(path, "rb").read()
    i, msgs = 8, []
    while i < len(b):
        (n,) = struct.unpack_from("<I", b, i)
        msgs.append(fields(b[i + 4:i + 4 + n]))
        i += 4 + n
    pages_id = msgs[0][1]
    entries, off = [], 0
    for m in msgs[1:]:
        nr = m.get(5, m.get(2, 0))
        flags = m.get(4, PE_PARENT if m.get(3) else PE_PRESENT)
        entries.append((m[1], nr, flags, off))
        if flags & PE_PRESENT:
            off += nr
    return pages_id, entries


def workload(d):
    best = None
    for name in os.listdir(d):
        if name.startswith("pagemap-") and name[8:-4].isdigit() and name.endswith(".img"):
            pid, e = pagemap(os.path.join(d, name))
            n = sum(x[1] for x in e if x[2] & PE_PRESENT)
            if best is None or n > best[0]:
                best = (n, name, pid, e)
    return best[1], best[2], best[3]


def main():
    mode, d = sys.argv[1], sys.argv[2]
    name, pid, ents = workload(d)
    if mode == "eager":
        for va, nr, fl, off in ents:
            if fl & PE_PRESENT and not fl & PE_LAZY:
                print("pages-%d.img %d %#x" % (pid, off, va))
                return
        raise SystemExit("%s/%s: no present page without PE_LAZY" % (d, name))
    _, child = pagemap(os.path.join(sys.argv[3], name))
    holes = [(va, nr) for va, nr, fl, _ in child if fl & PE_PARENT]
    picks = []
    for va, nr, fl, off in ents:
        if not (fl & PE_PRESENT and fl & PE_LAZY):
            continue
        for k in range(nr):
            a = va + k * PAGE
            if any(h <= a < h + n * PAGE for h, n in holes):
                picks.append((off + k, a))
        if len(picks) > 4096:
            break
    if not picks:
        raise SystemExit("%s/%s: no lazy page left in the parent by %s" % (d, name, sys.argv[3]))
    blk, a = picks[0] if mode == "lazy-first" else picks[len(picks) // 2]
    print("pages-%d.img %d %#x" % (pid, blk, a))


main()
