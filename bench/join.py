"""Joining a broadcast, and how many redirects a master answers.

1. Join latency: a new viewer connects through HAProxy, asks a master, is redirected, joins
   the slave and receives its first frame; p50/p99 over ``--joins`` joins, each on a fresh
   connection.
2. Redirect rate: ``--clients`` connections straight to one master, each asking for a viewer
   redirect again as soon as it has its answer, for ``--seconds``; prints redirects per
   second and that master's CPU, so redirects per second per core.

Each user may ask to watch 30 times at once and 2 times a second after that (``master/services/floods.py``,
shared by every master), so the joins and the redirect requests go round ``--users`` users, made
straight in PostgreSQL with login tokens signed with the cluster secret as a master signs them
at login (as ``messages.py`` does: registering and logging in thousands of users would meet the
per-address limits on those, and Argon2). Only redirects count; refusals are counted apart, and
the script says if there were any.

    python bench/join.py [--joins 200] [--clients 32] [--seconds 10] [--users 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import Counter

import psutil
import psycopg2
from cluster_load import LoadedCluster, percentile

from client.masters import Masters
from client.session import join_slave
from common.messages import parse
from common.messages.accounts import ViewRequest
from common.messages.streaming import ViewStart
from common.protocol import Decoder, MessageType as T
from common.tokens import LoginClaims, NodeKeys


def make_users(load: LoadedCluster, count: int) -> list[str]:
    """``count`` users in the cluster's database; their login tokens."""
    names = [f"joiner{i:05d}" for i in range(count)]
    with psycopg2.connect(load.cluster.database) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO users (name, password_hash) VALUES (%s, 'none')", [(n,) for n in names])
    conn.close()
    keys = NodeKeys.for_master(load.cluster.secret)
    return [keys.sign(LoginClaims(name)) for name in names]


def join_latency(load: LoadedCluster, tokens: list[str], joins: int) -> list[float]:
    latencies = []
    for token in itertools.islice(itertools.cycle(tokens), joins):
        start = time.perf_counter()
        masters = Masters(load.cluster.server)
        session = join_slave(masters.view_redirect(token, "star0"), ViewStart)
        frames = session.data.conn if session.data is not None else session.conn  # sealed over TLS
        while (message := frames.recv(5)) is not None and message.TYPE not in (T.FRAME, T.SEALED_FRAME):
            pass
        latencies.append(time.perf_counter() - start)
        session.close()
        masters.close()
    return latencies


async def redirect_rate(port: int, tokens: list[str], clients: int, seconds: float) -> tuple[int, Counter]:
    """Redirects answered, and the refusals by their message; each request names the next
    user of ``tokens`` in turn."""
    requests = itertools.cycle([ViewRequest(token, "star0").encode() for token in tokens])
    redirects = 0
    refusals: Counter = Counter()
    end = time.monotonic() + seconds

    async def client() -> None:
        nonlocal redirects
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        decoder = Decoder()
        while time.monotonic() < end:
            writer.write(next(requests))
            answer = None
            while answer is None:
                data = await reader.read(65536)
                if not data:
                    raise RuntimeError("the master closed a client's connection")
                # every message fed, not up to the first answer: the decoder drops only what
                # its generator has passed over, so a message left mid-iteration comes back
                answer = next((m for m in list(decoder.feed(data)) if m.type in (T.REDIRECT, T.ERROR)), None)
            if answer.type == T.REDIRECT:
                redirects += 1
            else:
                refusals[parse(answer).message] += 1
        writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return redirects, refusals


def main(args) -> None:
    load = LoadedCluster(broadcasts=1, viewers=1, slaves=1).start()
    try:
        tokens = make_users(load, args.users)
        latencies = join_latency(load, tokens, args.joins)
        print(
            f"join through HAProxy to first frame ({args.joins} joins): p50 {1000 * percentile(latencies, 50):.1f} ms, "
            f"p99 {1000 * percentile(latencies, 99):.1f} ms"
        )
        master = load.cluster.node("master-1")
        process = psutil.Process(master.process.pid)
        cpu_before = sum(process.cpu_times()[:2])
        started = time.monotonic()
        # the next requests come from the users after the joins' (their flood budgets unspent)
        rest = tokens[args.joins % len(tokens) :] + tokens[: args.joins % len(tokens)]
        answered, refusals = asyncio.run(redirect_rate(master.ports["client"], rest, args.clients, args.seconds))
        elapsed = time.monotonic() - started
        cpu = (sum(process.cpu_times()[:2]) - cpu_before) / elapsed
        print(
            f"redirects: {answered / elapsed:.0f}/s from one master at {100 * cpu:.0f} % CPU "
            f"= {answered / elapsed / max(cpu, 1e-9):.0f} per core-second ({args.clients} clients, "
            f"{args.users} users)"
        )
        if refusals:
            print(
                f"  and {sum(refusals.values())} refusals, not counted above (more --users?): "
                + "; ".join(f"{count} x {message!r}" for message, count in refusals.most_common())
            )
    finally:
        load.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=2000, help="users the joins and the requests go round")
    main(parser.parse_args())
