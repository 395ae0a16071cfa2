"""Messages through one master: how many a second, and how long each takes to arrive.

Starts a real local cluster with one master (the machine's Redis and PostgreSQL, a key
prefix and database of its own), makes ``--users`` users (straight in PostgreSQL, so no
Argon2 hashing slows the set-up) and attaches one session for each, as a running chat
would. Then ``--senders`` of them send messages to random others as fast as the master
accepts them, one in flight each, for ``--seconds``. Prints the messages accepted a second,
the master's CPU, and the time from sending to arrival at the recipient's session (p50,
p99), which includes storing the message in PostgreSQL and routing it through Redis.

    python bench/messages.py [--users 1000] [--senders 32] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.local_cluster import LocalCluster, free_port  # noqa: E402
from common.messages import parse  # noqa: E402
from common.messages.chat import ChatMessage, MsgAccepted, MsgSend  # noqa: E402
from common.messages.social import Attach, Attached  # noqa: E402
from common.protocol import Decoder  # noqa: E402
from common.signing import Signer  # noqa: E402
from common.tokens import LoginClaims  # noqa: E402
from tests.conftest import clear_redis, drop_database  # noqa: E402


class Session(asyncio.Protocol):
    """One user's attached session: records when each message arrives."""

    def __init__(self, latencies: list[float]):
        self.decoder = Decoder()
        self.latencies = latencies
        self.replies: asyncio.Queue = asyncio.Queue()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for raw in self.decoder.feed(data):
            message = parse(raw)
            if isinstance(message, ChatMessage):
                sent = float(message.message.text.split()[1])
                self.latencies.append(time.time() - sent)
            elif message is not None:
                self.replies.put_nowait(message)

    async def ask(self, message, expect):
        self.transport.write(message.encode())
        while True:
            answer = await self.replies.get()
            if isinstance(answer, expect):
                return answer
            raise RuntimeError(f"unexpected answer {answer}")


def make_users(dsn: str, count: int) -> list[str]:
    names = [f"u{i:05d}" for i in range(count)]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO users (name, password_hash) VALUES (%s, 'none')", [(n,) for n in names])
    conn.close()
    return names


async def run(args, cluster: LocalCluster) -> dict:
    master = next(n for n in cluster.nodes if n.role == "master")
    names = make_users(cluster.database, args.users)
    signer = Signer(cluster.secret)
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    sessions = {}
    for name in names:
        _, session = await loop.create_connection(lambda: Session(latencies), "127.0.0.1", master.ports["client"])
        await session.ask(Attach(signer.sign(LoginClaims(name))), Attached)
        sessions[name] = session
    accepted = 0
    end = time.monotonic() + args.seconds

    async def sender(name: str) -> None:
        nonlocal accepted
        token, session = signer.sign(LoginClaims(name)), sessions[name]
        while time.monotonic() < end:
            to = random.choice(names)
            await session.ask(MsgSend(token, to, f"sent {time.time():.6f}", uuid.uuid4().hex), MsgAccepted)
            accepted += 1

    process = psutil.Process(master.process.pid)
    cpu_before, wall = sum(process.cpu_times()[:2]), time.monotonic()
    await asyncio.gather(*(sender(name) for name in names[: args.senders]))
    elapsed = time.monotonic() - wall
    cpu = (sum(process.cpu_times()[:2]) - cpu_before) / elapsed
    await asyncio.sleep(1)  # the last messages arrive
    latencies.sort()
    for session in sessions.values():
        session.transport.close()
    return {
        "messages_s": accepted / elapsed,
        "cpu_pct": 100 * cpu,
        "delivered": len(latencies),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    cluster = LocalCluster(
        masters=1,
        slaves=1,
        port=free_port(),
        use_haproxy=False,
        tls=False,  # --insecure: this measures the master's own work
        redis_prefix=f"fcbench-{tag}:",
        database=f"postgresql://postgres@127.0.0.1:5432/fcbench_{tag}",
        workdir=Path(tempfile.mkdtemp(prefix="fcbench-")),
        master_args=["--message-rate", "1000000", "--message-burst", "1000000", "--log-level", "warn"],
    ).start()
    try:
        result = asyncio.run(run(args, cluster))
    finally:
        cluster.stop()
        drop_database(f"fcbench_{tag}")
        clear_redis(f"fcbench-{tag}:")
    print(f"{args.users} attached sessions on one master, {args.senders} senders, {args.seconds:g} s")
    print(
        "messages/s {messages_s:.0f}   master CPU {cpu_pct:.0f} %   delivered {delivered}   "
        "latency p50 {p50_ms:.1f} ms  p99 {p99_ms:.1f} ms".format(**result)
    )


if __name__ == "__main__":
    main()
