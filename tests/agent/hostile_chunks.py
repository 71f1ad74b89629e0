#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# A hostile (but authenticated) peer for tests/agent/compress.sh: sends an
# image whose file data comes in chunks (agent/wire.h) that lie or are
# corrupted. Prints every frame the agent answers with, one JSON per line,
# then "EOF".
# Usage: hostile_chunks.py HOST PORT NAME CA CERT KEY SCENARIO CONTAINER TMPDIR
#        [GEN_DIR GEN_IMAGE_ID]
# The delta-* scenarios offer a diff against GEN_DIR (a full generation of
# CONTAINER the target holds, image id GEN_IMAGE_ID): its pagemap-1.img
# and a pages-1.img whose pages travel as deltas against the target's own
# pages; delta-good sends a right delta, delta-corrupt a wrong one. Neither
# commits.
import hashlib
import json
import os
import socket
import ssl
import struct
import subprocess
import sys

host, port, name, ca, cert, key, scenario, cid, tmp = sys.argv[1:10]
gen_dir, gen_id = (sys.argv[10], sys.argv[11]) if len(sys.argv) > 11 else (None, None)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=20), server_hostname=name)


def frame(obj):
    b = json.dumps(obj).encode()
    s.sendall(struct.pack(">I", len(b)) + b)


def sha256_4k(data):
    """zanshin's sha256-4k (include/zanshin/digest.h): SHA-256 of the
    SHA-256 digests of every 4096-byte block."""
    outer = hashlib.sha256()
    for i in range(0, len(data), 4096):
        outer.update(hashlib.sha256(data[i:i + 4096]).digest())
    return outer.hexdigest()


def zstd(data):
    """A zstd frame with its content size (the CLI writes it for a file)."""
    path = os.path.join(tmp, "chunk.bin")
    with open(path, "wb") as f:
        f.write(data)
    return subprocess.run(["zstd", "-q", "-c", "-1", path], check=True, stdout=subprocess.PIPE).stdout


def chunk(kind, raw_len, payload):
    return struct.pack(">BBHII", kind, 1, 0, raw_len, len(payload)) + payload


RAW, ZSTD, DELTA = 1, 2, 3
data = (b"zanshin " * 1024)  # 8192 bytes, compressible
move = "mhostile-" + scenario + "-" + os.path.basename(cert).split(".")[0]
frame({"type": "offer", "move": move, "container": cid, "mode": "stop-copy",
       "bundle_digest": "0" * 64, "rootfs_digest": "1" * 64, "encodings": ["chunks", "delta"]})


def read(path):
    with open(path, "rb") as f:
        return f.read()


if scenario == "digests":
    frame({"type": "digests", "image_id": gen_id})
elif scenario.startswith("delta-") and scenario != "delta-nobase":
    pagemap = read(os.path.join(gen_dir, "pagemap-1.img"))
    pages = read(os.path.join(gen_dir, "pages-1.img"))
    frame({"type": "image", "image_id": "0123456789abcdef0123456789abcdef", "parent_image_id": gen_id,
           "files": [{"name": "pagemap-1.img", "size": len(pagemap), "digest": sha256_4k(pagemap)},
                     {"name": "pages-1.img", "size": len(pages), "digest": sha256_4k(pages)}]})
    frame({"type": "file", "name": "pagemap-1.img", "size": len(pagemap)})
    s.sendall(pagemap)
    frame({"type": "file", "name": "pages-1.img", "size": len(pages), "encoding": "chunks"})
    # the same pages as the parent's: a right delta is all zeros; a wrong
    # one flips a byte in every page
    xor = bytearray(len(pages))
    if scenario == "delta-corrupt":
        for i in range(100, len(xor), 4096):
            xor[i] = 0x5A
    s.sendall(chunk(DELTA, len(pages), zstd(bytes(xor))))
elif scenario == "store-full":
    # a generation to store ahead of an image must be a diff
    frame({"type": "image", "image_id": "0123456789abcdef0123456789abcdef", "store": True,
           "files": [{"name": "pages-1.img", "size": len(data), "digest": sha256_4k(data)}]})
else:
    frame({"type": "image", "image_id": "0123456789abcdef0123456789abcdef",
           "files": [{"name": "pages-1.img", "size": len(data), "digest": sha256_4k(data)}]})
hdr = {"type": "file", "name": "pages-1.img", "size": len(data), "encoding": "chunks"}
if scenario in ("delta-good", "delta-corrupt", "store-full", "digests"):
    pass  # sent above; no commit: the target aborts when the peer leaves
elif scenario == "corrupt":
    # a zstd frame with bytes flipped in its middle
    z = bytearray(zstd(data))
    for i in range(len(z) // 2, len(z) - 4):
        z[i] ^= 0xA5
    frame(hdr)
    s.sendall(chunk(ZSTD, len(data), bytes(z)))
elif scenario == "other-bytes":
    # a valid frame of other bytes: decodes, the digest refuses it
    frame(hdr)
    s.sendall(chunk(ZSTD, len(data), zstd(b"Zanshin " * 1024)))
elif scenario == "longer":
    # a chunk longer than the file
    frame(hdr)
    s.sendall(chunk(RAW, len(data) + 4096, data + bytes(4096)))
elif scenario == "size-lie":
    # the frame's content size is not the chunk's raw length
    frame(hdr)
    s.sendall(chunk(ZSTD, 4096, zstd(data)))
elif scenario == "delta-nobase":
    # a delta in a full image: the target holds no parent page
    frame(hdr)
    s.sendall(chunk(DELTA, len(data), zstd(bytes(len(data)))))
elif scenario == "encoding":
    hdr["encoding"] = "lz4"
    frame(hdr)
    s.sendall(data)
else:
    sys.exit("unknown scenario " + scenario)

buf = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
except (OSError, ssl.SSLError):
    pass
while len(buf) >= 4:
    (n,) = struct.unpack(">I", buf[:4])
    print(buf[4:4 + n].decode(errors="replace"))
    buf = buf[4 + n:]
print("EOF")
