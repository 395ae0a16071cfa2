"""Fan-out benchmark: one slave, one broadcaster of 640x480 JPEG, N viewers on loopback.

Prints, per N: delivered frames/s and MB/s, the slave's CPU % of one core, its memory per
viewer, the mean frame rate per viewer, and latency from capture to viewer receipt
(p50/p99). A last run pushes one broadcast flat out (no frame-rate limit) to many viewers
to find the slave's ceiling.

    python bench/fanout.py [--viewers 10,100,500,1000] [--seconds 10] [--fps 15] [--http | --ws] [--tls]
                           [--sealed] [--paths plain,tls,sealed,...] [--rounds 2]
                           [--peer gstreamer|gstreamer-haproxy-tls [--peer-only] [--peer-acks]]

``--http`` has the viewers play MJPEG over HTTP (``/watch/USER.mjpg`` on the slave's web
port, as VLC or a browser's ``<img>`` would) instead of the framecast protocol; ``--ws`` has
them watch as the page does, the framecast protocol in WebSocket messages (``/ws``). The slave
runs --insecure (plain TCP, as GStreamer's tcpserversink) unless ``--tls``. ``--sealed`` has
native viewers of a TLS slave take sealed frames on a data connection, as the CLI's do
(``common.frame_seal``; without it they take each frame encrypted for them alone).
``--paths`` measures several paths in turn per viewer count (``plain,tls,sealed``: the same
run, alternating, reversed every other round).

``--peer`` runs, for each viewer count, the slave and a peer in turn (``--rounds`` pairs,
every other pair in the reverse order), so both are measured side by side in one run:
``gstreamer`` is GStreamer's ``tcpserversink`` (plain TCP), ``gstreamer-haproxy-tls`` the same
behind HAProxy terminating TLS (``bench/peer.py``); each is fed the same FRAME messages at
the same rate and read by viewers that parse and count them the same way, over TLS for the
TLS peer; its CPU % and memory are GStreamer's and HAProxy's together. The flat-out run is
the slave's only (the peer has no flow control to pace a broadcaster by). The peer's readers
send nothing, as tcpserversink expects; ``--peer-acks`` has them send an ACK per frame as the
slave's viewers do (tcpserversink reads and drops them). The last column names the server of
each row.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from harness import (
    SlaveProcess,
    jpeg_of_size,
    open_broadcaster,
    open_http_viewer,
    open_sealed_viewer,
    open_viewer,
    open_ws_viewer,
    percentile,
)
from peer import PEERS, PeerServer, missing


VIEWERS = {  # how viewers watch
    "native": open_viewer,
    "sealed": open_sealed_viewer,
    "mjpeg": open_http_viewer,
    "ws": open_ws_viewer,
}
PROTOCOLS = {
    "native": "the framecast protocol",
    "sealed": "the framecast protocol, sealed frames on a data connection",
    "mjpeg": "MJPEG over HTTP",
    "ws": "the framecast protocol in a WebSocket",
}
PATHS = {  # --paths: how the slave serves and the viewers watch
    "plain": ("native", False),
    "tls": ("native", True),
    "sealed": ("sealed", True),
    "mjpeg": ("mjpeg", False),
    "mjpeg-tls": ("mjpeg", True),
    "ws": ("ws", False),
    "ws-tls": ("ws", True),
}


def server_name(kind: str, tls: bool) -> str:
    return "framecast" + {"native": "", "sealed": "-sealed", "mjpeg": "-http", "ws": "-ws"}[kind] + ("-tls" if tls else "")


def runs(args) -> list[tuple[str, bool, str | None]]:
    """What one round of a viewer count measures, in order: (viewers' kind, TLS, peer)."""
    if args.paths:
        return [(*PATHS[path], None) for path in args.paths] + ([("native", True, args.peer)] if args.peer else [])
    kind = "sealed" if args.sealed else "mjpeg" if args.http else "ws" if args.ws else "native"
    servers = [None] if not args.peer else [args.peer] if args.peer_only else [None, args.peer]
    return [(kind, args.tls or args.sealed, peer) for peer in servers]


async def measure(
    viewers: int,
    fps: float | None,
    seconds: float,
    image: bytes,
    kind: str = "native",
    tls: bool = False,
    peer: str | None = None,
    peer_acks: bool = False,
) -> dict:
    """One run; ``peer`` (a name of ``peer.PEERS``): that peer instead of the slave, its
    readers sending an ACK per frame if ``peer_acks``."""
    if peer:
        server = PeerServer(tls=peer.endswith("-tls"))
    else:
        server = SlaveProcess("--max-upload-kbps", "0", tls=tls)  # measure the fan-out, not the upload cap
    clients = []
    try:
        if peer:
            broadcaster = await server.broadcaster(image, fps)
        else:
            broadcaster = await open_broadcaster(server, "caster", image, fps)
        # Sending until cancelled: MJPEG players hear nothing before a frame, and opening
        # hundreds of TLS viewers takes longer than a run.
        sending = asyncio.ensure_future(broadcaster.run(3600))
        rss_before = server.rss()
        for i in range(viewers):
            if peer:
                clients.append(await server.open_reader(record_latency=fps is not None, ack=peer_acks))
            else:
                opener = VIEWERS[kind]
                clients.append(await opener(server, f"viewer{i}", "caster", record_latency=fps is not None))
        await asyncio.sleep(2)
        for client in clients:
            client.reset()
        cpu_start, wall_start = server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu = (server.cpu_seconds() - cpu_start) / (time.monotonic() - wall_start)
        elapsed = time.monotonic() - wall_start
        frames = sum(c.frames for c in clients)
        sent = sum(c.bytes for c in clients)
        latencies = [x for c in clients for x in c.latencies]
        rss_per_viewer = (server.rss() - rss_before) / viewers
        resyncs = sum(getattr(c, "resyncs", 0) for c in clients)
        if resyncs:
            print(f"  ({peer}: readers lost step with the message stream {resyncs} times)", file=sys.stderr)
        sending.cancel()
        return {
            "server": (peer + (" (readers ack)" if peer_acks else "")) if peer else server_name(kind, tls),
            "viewers": viewers,
            "fps_in": "max" if fps is None else fps,
            "frames_s": frames / elapsed,
            "mb_s": sent / elapsed / 1e6,
            "cpu_pct": 100 * cpu,
            "viewer_fps": frames / elapsed / viewers,
            "p50_ms": 1000 * percentile(latencies, 50),
            "p99_ms": 1000 * percentile(latencies, 99),
            "kb_per_viewer": rss_per_viewer / 1024,
        }
    finally:
        server.stop()


def row(result: dict) -> str:
    return (
        "{viewers:>7} {fps_in:>6} {frames_s:>10.0f} {mb_s:>8.1f} {cpu_pct:>7.1f} {viewer_fps:>10.2f} "
        "{p50_ms:>8.2f} {p99_ms:>8.2f} {kb_per_viewer:>9.1f}  {server}"
    ).format(**result)


async def main(args) -> None:
    image = jpeg_of_size(args.frame_size)
    plan = runs(args)
    kind, tls, _ = plan[0]
    protocol = PROTOCOLS[kind] + (" over TLS" if tls else "")
    if args.paths:
        protocol = "each row's path (--paths), in turn"
    if args.peer:
        protocol += f"; the peer's readers read the same messages{' over TLS' if args.peer.endswith('-tls') else ''}"
    print(f"frame: 640x480 JPEG, {len(image)} bytes; {args.seconds:g} s per run; viewers use {protocol}")
    print(
        f"{'viewers':>7} {'fps in':>6} {'frames/s':>10} {'MB/s':>8} {'CPU %':>7} {'viewer fps':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'KB/viewer':>9}  server"
    )
    for viewers in args.viewers:
        for round in range(args.rounds):
            for kind, tls, peer in plan if round % 2 == 0 else plan[::-1]:
                result = await measure(viewers, args.fps, args.seconds, image, kind, tls, peer, args.peer_acks)
                print(row(result), flush=True)
    if args.flat_out and not args.peer_only:
        for kind, tls, peer in plan:
            if peer is None:
                print(row(await measure(args.flat_out, None, args.seconds, image, kind, tls)), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=lambda s: [int(x) for x in s.split(",")], default=[10, 100, 500, 1000])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--fps", type=float, default=15)
    parser.add_argument("--frame-size", type=int, default=39000)
    parser.add_argument("--flat-out", type=int, default=50, help="viewers for the flat-out run (0: skip)")
    parser.add_argument("--http", action="store_true", help="viewers play MJPEG over HTTP")
    parser.add_argument("--ws", action="store_true", help="viewers watch as the page does, over a WebSocket")
    parser.add_argument("--tls", action="store_true", help="the slave serves TLS (the default outside benchmarks)")
    parser.add_argument(
        "--sealed", action="store_true", help="with TLS, viewers take sealed frames on a data connection, as the CLI does"
    )
    parser.add_argument(
        "--paths",
        type=lambda s: s.split(","),
        help=f"run these in turn per viewer count, alternating by round ({', '.join(PATHS)})",
    )
    parser.add_argument(
        "--peer",
        choices=PEERS,
        help="also run this peer, alternating with the slave (bench/peer.py)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of each per viewer count, the order reversed each round")
    parser.add_argument("--peer-only", action="store_true", help="with --peer: the peer's rows alone")
    parser.add_argument(
        "--peer-acks", action="store_true", help="with --peer: its readers send an ACK per frame, as viewers do"
    )
    args = parser.parse_args()
    if args.paths and (unknown := set(args.paths) - set(PATHS)):
        parser.error(f"unknown --paths {', '.join(sorted(unknown))}: choose from {', '.join(PATHS)}")
    if args.peer:
        if args.http or args.ws:
            parser.error("--peer reads framecast messages on TCP: not with --http or --ws")
        if args.fps <= 0:
            parser.error("--peer needs a frame rate")
        if lacking := missing():
            parser.error(f"--peer {args.peer} needs {lacking}")
    asyncio.run(main(args))
