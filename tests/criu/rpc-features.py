#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Ask CRIU over RPC (criu swrk) which features it has; prints one
"name=true|false" line per feature of criu_features. Usage: rpc-features.py CRIU"""
import os
import socket
import subprocess
import sys

from pycriu import rpc_pb2 as rpc


def main():
    criu = sys.argv[1]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen([criu, "swrk", str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    req = rpc.criu_req()
    req.type = rpc.FEATURE_CHECK
    req.features.mem_track = True
    req.features.lazy_pages = True
    ours.send(req.SerializeToString())
    resp = rpc.criu_resp()
    resp.ParseFromString(ours.recv(1 << 20))
    ours.close()
    proc.wait()
    if resp.type != rpc.FEATURE_CHECK:
        print("unexpected response type %d" % resp.type)
        return 1
    for name in ("mem_track", "lazy_pages"):
        has = resp.features.HasField(name) and getattr(resp.features, name)
        print("%s=%s" % (name, "true" if has else "false"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
