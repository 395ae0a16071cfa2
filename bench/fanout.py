"""Fan-out benchmark: one slave, one broadcaster of 640x480 JPEG, N viewers on loopback.

Prints, per N: delivered frames/s and MB/s, the slave's CPU % of one core, its memory per
viewer, the mean frame rate per viewer, and latency from capture to viewer receipt
(p50/p99). A last run pushes one broadcast flat out (no frame-rate limit) to many viewers
to find the slave's ceiling.

    python bench/fanout.py [--viewers 10,100,500,1000] [--seconds 10] [--fps 15] [--http] [--tls]

``--http`` has the viewers play MJPEG over HTTP (``/watch/USER.mjpg`` on the slave's web
port, as VLC or a browser's ``<img>`` would) instead of the framecast protocol. The slave
runs --insecure (plain TCP, as GStreamer's tcpserversink) unless ``--tls``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from harness import SlaveProcess, jpeg_of_size, open_broadcaster, open_http_viewer, open_viewer, percentile


async def measure(
    viewers: int, fps: float | None, seconds: float, image: bytes, http: bool = False, tls: bool = False
) -> dict:
    slave = SlaveProcess("--max-upload-kbps", "0", tls=tls)  # measure the fan-out, not the upload cap
    try:
        broadcaster = await open_broadcaster(slave, "caster", image, fps)
        # Sending until cancelled: MJPEG players hear nothing before a frame, and opening
        # hundreds of TLS viewers takes longer than a run.
        sending = asyncio.ensure_future(broadcaster.run(3600))
        rss_before = slave.rss()
        opener = open_http_viewer if http else open_viewer
        clients = [await opener(slave, f"viewer{i}", "caster", record_latency=fps is not None) for i in range(viewers)]
        await asyncio.sleep(2)
        for client in clients:
            client.reset()
        cpu_start, wall_start = slave.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu = (slave.cpu_seconds() - cpu_start) / (time.monotonic() - wall_start)
        elapsed = time.monotonic() - wall_start
        frames = sum(c.frames for c in clients)
        sent = sum(c.bytes for c in clients)
        latencies = [x for c in clients for x in c.latencies]
        rss_per_viewer = (slave.rss() - rss_before) / viewers
        sending.cancel()
        return {
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
        slave.stop()


def row(result: dict) -> str:
    return (
        "{viewers:>7} {fps_in:>6} {frames_s:>10.0f} {mb_s:>8.1f} {cpu_pct:>7.1f} {viewer_fps:>10.2f} "
        "{p50_ms:>8.2f} {p99_ms:>8.2f} {kb_per_viewer:>9.1f}"
    ).format(**result)


async def main(args) -> None:
    image = jpeg_of_size(args.frame_size)
    protocol = ("MJPEG over HTTP" if args.http else "the framecast protocol") + (" over TLS" if args.tls else "")
    print(f"frame: 640x480 JPEG, {len(image)} bytes; {args.seconds:g} s per run; viewers use {protocol}")
    print(
        f"{'viewers':>7} {'fps in':>6} {'frames/s':>10} {'MB/s':>8} {'CPU %':>7} {'viewer fps':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'KB/viewer':>9}"
    )
    for viewers in args.viewers:
        print(row(await measure(viewers, args.fps, args.seconds, image, args.http, args.tls)), flush=True)
    if args.flat_out:
        print(row(await measure(args.flat_out, None, args.seconds, image, args.http, args.tls)), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=lambda s: [int(x) for x in s.split(",")], default=[10, 100, 500, 1000])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--fps", type=float, default=15)
    parser.add_argument("--frame-size", type=int, default=39000)
    parser.add_argument("--flat-out", type=int, default=50, help="viewers for the flat-out run (0: skip)")
    parser.add_argument("--http", action="store_true", help="viewers play MJPEG over HTTP")
    parser.add_argument("--tls", action="store_true", help="the slave serves TLS (the default outside benchmarks)")
    asyncio.run(main(parser.parse_args()))
