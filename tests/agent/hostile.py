#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# A hostile (but authenticated) peer for tests/agent/move.sh: connects to an
# agent with a valid node certificate and sends one malformed or lying
# request. Prints every frame the agent answers with, one JSON per line,
# then "EOF". Usage: hostile.py HOST PORT NAME CA CERT KEY SCENARIO CONTAINER
import json
import socket
import ssl
import struct
import sys

host, port, name, ca, cert, key, scenario, cid = sys.argv[1:9]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=20), server_hostname=name)


def frame(obj):
    b = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    s.sendall(struct.pack(">I", len(b)) + b)


def offer(move, container=cid, mode="stop-copy"):
    frame({"type": "offer", "move": move, "container": container, "mode": mode,
           "bundle_digest": "0" * 64, "rootfs_digest": "1" * 64})


BAD = "f" * 64
if scenario == "badjson":
    frame(b"{nope")
elif scenario == "oversize":
    s.sendall(struct.pack(">I", 0x7FFFFFFF) + b"{}")
elif scenario == "badid":
    offer("mhostile-id", "../../etc")
elif scenario == "traversal":
    offer("mhostile-traversal")
    frame({"type": "image", "image_id": "0123456789abcdef0123456789abcdef",
           "files": [{"name": "../../../../tmp/zs-hostile", "size": 4, "digest": BAD}]})
elif scenario == "lie":
    offer("mhostile-lie")
    frame({"type": "image", "image_id": "0123456789abcdef0123456789abcdef",
           "files": [{"name": "inventory.img", "size": 4, "digest": BAD}]})
    frame({"type": "file", "name": "inventory.img", "size": 4})
    s.sendall(b"abcd")
elif scenario == "huge":
    offer("mhostile-huge")
    frame({"type": "image", "image_id": "0123456789abcdef0123456789abcdef",
           "files": [{"name": "pages-1.img", "size": 1 << 50, "digest": BAD}]})
elif scenario == "commit":
    offer("mhostile-commit")
    frame({"type": "commit"})
elif scenario == "badmode":
    offer("mhostile-badmode", mode="evil")
elif scenario == "psearly":
    # post-copy: page-server bytes before any commit (no daemon to take them)
    offer("mhostile-psearly", mode="post-copy")
    frame({"type": "ps", "size": 24})
    s.sendall(b"\0" * 24)
elif scenario == "pscommit":
    offer("mhostile-pscommit", mode="post-copy")
    frame({"type": "commit"})
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
