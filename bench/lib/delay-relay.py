#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A TCP relay that delays every byte by DELAY_MS in each direction.

    delay-relay.py LISTEN_ADDR:PORT TARGET_ADDR:PORT DELAY_MS

This machine's kernel has no sch_netem (docs: /work/shared/MACHINE.md), so a
link's latency comes from user space: bench/cluster-move.sh runs one relay
in the sending node's network namespace, in front of the peer it dials.
Each chunk read from one side is written to the other DELAY_MS after it
arrived (a queue per direction, at most 16 MiB in flight, so the relay
never holds back a link's bandwidth-delay product: 100 Mbit/s x 10 ms is
125 KB). The rate itself is the veth's tbf. A request/answer exchange thus
costs 2 x DELAY_MS more than on the bare link, as on a link with that
round-trip time; TCP's own window growth sees the short legs, not the
delay (the relay terminates TCP on both sides)."""
import asyncio
import sys
import time

CHUNK = 64 * 1024
QUEUED = 256  # chunks per direction (16 MiB)


def split(hp):
    host, _, port = hp.rpartition(":")
    return host.strip("[]"), int(port)


async def pump(reader, writer, delay):
    q = asyncio.Queue(QUEUED)

    async def rx():
        while True:
            data = await reader.read(CHUNK)
            await q.put((time.monotonic() + delay, data))
            if not data:
                return

    async def tx():
        while True:
            due, data = await q.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(rx(), tx())


async def handle(cr, cw, target, delay):
    try:
        tr, tw = await asyncio.open_connection(*target)
    except OSError as e:
        print(f"delay-relay: connect to {target}: {e}", file=sys.stderr)
        cw.close()
        return
    try:
        await asyncio.gather(pump(cr, tw, delay), pump(tr, cw, delay))
    except (ConnectionError, OSError):
        pass
    finally:
        tw.close()
        cw.close()


async def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    listen, target, delay = split(sys.argv[1]), split(sys.argv[2]), float(sys.argv[3]) / 1000.0
    server = await asyncio.start_server(lambda r, w: handle(r, w, target, delay), *listen, reuse_address=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
