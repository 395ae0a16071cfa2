"""Joining a broadcast, and how many redirects a master answers.

1. Join latency: a new viewer connects through HAProxy, asks a master, is redirected, joins
   the slave and receives its first frame; p50/p99 over ``--joins`` joins, each on a fresh
   connection.
2. Redirect rate: ``--clients`` connections straight to one master, each asking for a viewer
   redirect again as soon as it has its answer, for ``--seconds``; prints redirects per
   second and that master's CPU, so redirects per second per core.

    python bench/join.py [--joins 200] [--clients 32] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import psutil
from cluster_load import LoadedCluster, percentile

from client.masters import Masters
from client.session import join_slave
from common.messages.accounts import ViewRequest
from common.messages.streaming import ViewStart
from common.protocol import Decoder, MessageType as T


def join_latency(load: LoadedCluster, joins: int) -> list[float]:
    token = load.tokens["fan0x0"]
    latencies = []
    for _ in range(joins):
        start = time.perf_counter()
        masters = Masters(load.cluster.server)
        session = join_slave(masters.view_redirect(token, "star0"), ViewStart)
        while (message := session.conn.recv(5)) is not None and message.TYPE != T.FRAME:
            pass
        latencies.append(time.perf_counter() - start)
        session.conn.close()
        masters.close()
    return latencies


async def redirect_rate(port: int, token: str, clients: int, seconds: float) -> int:
    request = ViewRequest(token, "star0").encode()
    answered = 0
    end = time.monotonic() + seconds

    async def client() -> None:
        nonlocal answered
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        decoder = Decoder()
        while time.monotonic() < end:
            writer.write(request)
            while not any(m.type in (T.REDIRECT, T.ERROR) for m in decoder.feed(await reader.read(65536))):
                pass
            answered += 1
        writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return answered


def main(args) -> None:
    load = LoadedCluster(broadcasts=1, viewers=1, slaves=1).start()
    try:
        latencies = join_latency(load, args.joins)
        print(
            f"join through HAProxy to first frame ({args.joins} joins): p50 {1000 * percentile(latencies, 50):.1f} ms, "
            f"p99 {1000 * percentile(latencies, 99):.1f} ms"
        )
        master = load.cluster.node("master-1")
        process = psutil.Process(master.process.pid)
        cpu_before = sum(process.cpu_times()[:2])
        started = time.monotonic()
        answered = asyncio.run(redirect_rate(master.ports["client"], load.tokens["fan0x0"], args.clients, args.seconds))
        elapsed = time.monotonic() - started
        cpu = (sum(process.cpu_times()[:2]) - cpu_before) / elapsed
        print(
            f"redirects: {answered / elapsed:.0f}/s from one master at {100 * cpu:.0f} % CPU "
            f"= {answered / elapsed / max(cpu, 1e-9):.0f} per core-second ({args.clients} clients)"
        )
    finally:
        load.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    main(parser.parse_args())
