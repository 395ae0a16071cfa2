"""Graceful-degradation benchmark: one 15 fps broadcast, viewers of every kind at once.

Viewers: unlimited, capped at 280 / 80 / 20 kbps, and one that stops reading. Prints per
viewer its delivered fps and kbps, latency from capture to receipt (p50/p99) and the frames
it skipped; then the slave's fan-out ceiling with flow control on, flat out to 50 viewers,
both uncapped and with every viewer's throttle active (a cap far above the link), to show
what the per-viewer throttle costs.

    python bench/degradation.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from harness import SlaveProcess, jpeg_of_size, open_broadcaster, open_viewer, percentile

KINDS = [("unlimited", None), ("280 kbps", 280), ("80 kbps", 80), ("20 kbps", 20)]


async def mixed(seconds: float, image: bytes) -> None:
    slave = SlaveProcess("--stall-timeout", str(seconds * 10))
    try:
        broadcaster = await open_broadcaster(slave, "caster", image, 15)
        sending = asyncio.ensure_future(broadcaster.run(seconds + 3))
        viewers = [
            (name, await open_viewer(slave, f"v{i}", "caster", cap_kbps=cap)) for i, (name, cap) in enumerate(KINDS)
        ]
        stalled = await open_viewer(slave, "stalled", "caster")
        stalled.transport.pause_reading()
        await asyncio.sleep(1)
        for _, viewer in viewers:
            viewer.reset()
        start, rss_start = time.monotonic(), slave.rss()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - start
        print(f"frame {len(image)} bytes at 15 fps, {seconds:g} s")
        print(f"{'viewer':>10} {'fps':>6} {'kbps':>8} {'p50 ms':>8} {'p99 ms':>8} {'skipped':>8}")
        for name, viewer in viewers:
            print(
                f"{name:>10} {viewer.frames / elapsed:>6.2f} {viewer.bytes * 8 / 1000 / elapsed:>8.1f} "
                f"{1000 * percentile(viewer.latencies, 50):>8.1f} {1000 * percentile(viewer.latencies, 99):>8.1f} "
                f"{viewer.skipped:>8}"
            )
        print(
            f"{'stalled':>10} received {stalled.frames} frames; slave memory change while it stalled: "
            f"{(slave.rss() - rss_start) / 1024:+.0f} KB"
        )
        sending.cancel()
    finally:
        slave.stop()


async def ceiling(viewers: int, seconds: float, image: bytes, cap_kbps: float | None) -> tuple[float, float, float]:
    slave = SlaveProcess("--max-upload-kbps", "0")  # measure the fan-out, not the upload cap
    try:
        broadcaster = await open_broadcaster(slave, "caster", image, None)
        sending = asyncio.ensure_future(broadcaster.run(seconds + 3))
        clients = [
            await open_viewer(slave, f"v{i}", "caster", cap_kbps=cap_kbps, record_latency=False) for i in range(viewers)
        ]
        await asyncio.sleep(1)
        for client in clients:
            client.reset()
        cpu_start, start = slave.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - start
        cpu = (slave.cpu_seconds() - cpu_start) / elapsed
        sending.cancel()
        return (sum(c.frames for c in clients) / elapsed, sum(c.bytes for c in clients) / elapsed / 1e6, 100 * cpu)
    finally:
        slave.stop()


async def main(args) -> None:
    image = jpeg_of_size(39000)
    await mixed(args.seconds, image)
    print()
    print(f"saturation, 50 viewers, flat out: {'throttles':>12} {'frames/s':>9} {'MB/s':>8} {'CPU %':>6}")
    for label, cap in (("off", None), ("on (1 Gbps)", 1e6)):
        frames, mb, cpu = await ceiling(50, args.seconds, image, cap)
        print(f"{'':>34} {label:>12} {frames:>9.0f} {mb:>8.1f} {cpu:>6.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    asyncio.run(main(parser.parse_args()))
