"""Relay chain benchmark (C10): one broadcast to V viewers over 1, 2 and 3 slaves.

The slaves form a chain, origin -> relay 1 -> relay 2 (real slave processes sharing one
secret; each relay starts pulling on its first viewer, from the ticket's upstream, as a
master would send it), and the V viewers are spread evenly over them. Prints, per chain
length: the delivered frame rate per viewer, and per depth the latency from capture to
viewer receipt (p50/p99) and what each hop adds. Then the switch-over: with viewers on
relay 2, relay 1 is killed (-9); relay 2 asks a master (here a minimal stand-in that
names the origin) for another upstream; the longest gap between two frames at relay 2's
viewers is the switch-over gap.

    python bench/relay.py [--viewers 300] [--seconds 8] [--fps 15]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time

from harness import SlaveProcess, ViewerClient, jpeg_of_size, open_broadcaster, percentile

from common.messages.cluster import HeartbeatEcho
from common.messages.relay import RelayUpstream
from common.messages.streaming import ViewStart
from common.protocol import Decoder, MessageType as T
from common.tokens import ViewTicket
from common.messages import parse


class StandInMaster(asyncio.Protocol):
    """Enough of a master for relays: echoes heartbeats, and answers every request for an
    upstream with the origin."""

    origin: SlaveProcess | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.decoder = Decoder()

    def data_received(self, data: bytes) -> None:
        for message in self.decoder.feed(data):
            if message.type == T.HEARTBEAT:
                self.transport.write(HeartbeatEcho().encode())
            elif message.type == T.RELAY_UPSTREAM_REQUEST and self.origin is not None:
                request = parse(message)
                origin = self.origin
                answer = RelayUpstream(request.target, origin.id, f"127.0.0.1:{origin.port}", 1)
                self.transport.write(answer.encode())


async def open_viewer(slave: SlaveProcess, user: str, upstream: SlaveProcess | None, depth: int) -> ViewerClient:
    loop = asyncio.get_event_loop()
    _, viewer = await loop.create_connection(ViewerClient, "127.0.0.1", slave.port)
    up_id, up_addr = (upstream.id, f"127.0.0.1:{upstream.port}") if upstream else ("", "")
    ticket = ViewTicket(user, "caster", slave.id, f"session-{user}", None, None, None, up_id, up_addr, depth)
    viewer.transport.write(ViewStart(slave.signer.sign(ticket)).encode())
    await viewer.accepted
    return viewer


async def chain(count: int, masters: str) -> list[SlaveProcess]:
    secret = secrets.token_urlsafe(24)
    return [
        SlaveProcess("--max-upload-kbps", "0", secret=secret, id=f"slave{i}", masters=masters) for i in range(count)
    ]


async def attach(slaves: list[SlaveProcess], viewers: int) -> list[tuple[int, ViewerClient]]:
    """Viewers spread over the chain; the first viewer of each relay starts its pull."""
    clients = []
    for i in range(viewers):
        depth = i % len(slaves)
        upstream = slaves[depth - 1] if depth else None
        clients.append((depth, await open_viewer(slaves[depth], f"viewer{i}", upstream, depth)))
    return clients


async def measure(length: int, viewers: int, fps: float, seconds: float, image: bytes, masters: str) -> dict:
    slaves = await chain(length, masters)
    try:
        broadcaster = await open_broadcaster(slaves[0], "caster", image, fps)
        sending = asyncio.ensure_future(broadcaster.run(seconds + 6))
        clients = await attach(slaves, viewers)
        await asyncio.sleep(2)
        for _, client in clients:
            client.reset()
        start = time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - start
        sending.cancel()
        by_depth = {d: [c for depth, c in clients if depth == d] for d in range(length)}
        latency = {d: [x for c in group for x in c.latencies] for d, group in by_depth.items()}
        return {
            "slaves": length,
            "viewer_fps": sum(c.frames for _, c in clients) / elapsed / viewers,
            "min_fps": min(c.frames for _, c in clients) / elapsed,
            "p50": {d: 1000 * percentile(v, 50) for d, v in latency.items()},
            "p99": {d: 1000 * percentile(v, 99) for d, v in latency.items()},
        }
    finally:
        for slave in slaves:
            slave.stop()


async def switch_over(viewers: int, fps: float, image: bytes) -> dict:
    """Relay 1 killed under relay 2's viewers: the longest gap between two frames there."""
    server = await asyncio.get_event_loop().create_server(StandInMaster, "127.0.0.1", 0)
    masters = "127.0.0.1:%d" % server.sockets[0].getsockname()[1]
    slaves = await chain(3, masters)
    StandInMaster.origin = slaves[0]
    try:
        broadcaster = await open_broadcaster(slaves[0], "caster", image, fps)
        sending = asyncio.ensure_future(broadcaster.run(30))
        await open_viewer(slaves[1], "feeder", slaves[0], 1)
        clients = [await open_viewer(slaves[2], f"viewer{i}", slaves[1], 2) for i in range(viewers)]
        await asyncio.sleep(4)  # the relays' master links are up
        arrivals = {id(c): [] for c in clients}
        for client in clients:
            wrap_arrivals(client, arrivals[id(client)])
        killed = time.time()
        slaves[1].process.kill()
        slaves[1].process.wait(10)
        await asyncio.sleep(6)
        sending.cancel()
        gaps = [max(b - a for a, b in zip(times, times[1:])) for times in arrivals.values() if len(times) > 1]
        resumed = [next((t for t in times if t > killed), float("nan")) - killed for times in arrivals.values()]
        return {"gap_p50": 1000 * percentile(gaps, 50), "gap_max": 1000 * max(gaps), "resumed_max": max(resumed)}
    finally:
        for slave in slaves:
            if slave.process.poll() is None:
                slave.stop()
        server.close()


def wrap_arrivals(client: ViewerClient, times: list[float]) -> None:
    received = client.data_received

    def data_received(data: bytes) -> None:
        before = client.frames
        received(data)
        if client.frames > before:
            times.append(time.time())

    client.data_received = data_received


async def main(args) -> None:
    image = jpeg_of_size(40_000)
    print(f"one {len(image):,}-byte broadcast at {args.fps:g} fps, {args.viewers} viewers spread over a chain")
    print(f"{'slaves':>6} {'fps/viewer':>10} {'min fps':>8}  latency p50 / p99 ms per depth (0 = origin)")
    for length in (1, 2, 3):
        result = await measure(length, args.viewers, args.fps, args.seconds, image, "")
        depths = "  ".join(f"d{d}: {result['p50'][d]:.2f} / {result['p99'][d]:.2f}" for d in range(length))
        print(f"{length:>6} {result['viewer_fps']:>10.2f} {result['min_fps']:>8.2f}  {depths}", flush=True)
        if length > 1:
            p50, p99 = result["p50"], result["p99"]
            hops = "  ".join(
                f"hop {d}: +{p50[d] - p50[d - 1]:.2f} / +{p99[d] - p99[d - 1]:.2f}" for d in range(1, length)
            )
            print(f"{'':>28}added per hop p50 / p99 ms: {hops}", flush=True)
    gap = await switch_over(min(args.viewers, 50), args.fps, image)
    print(
        f"switch-over (relay 1 killed under relay 2): longest gap p50 {gap['gap_p50']:.0f} ms, "
        f"max {gap['gap_max']:.0f} ms; frames again after at most {gap['resumed_max'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--fps", type=float, default=15)
    asyncio.run(main(parser.parse_args()))
