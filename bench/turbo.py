"""Turbo mode benchmark: what the slave carries for 1 broadcaster x 1 viewer on the server
path and on the peer link, and the gap a viewer sees when a second viewer comes and goes.

A real local cluster (1 slave); the broadcaster and viewers are the client library in
threads. Prints the slave's bytes out per second and CPU for each path, and the largest gap
between frames of the first viewer around each switch (p50 and max over the switches).

    python bench/turbo.py [--seconds 10] [--switches 5] [--fps 15]
"""

from __future__ import annotations

import argparse
import threading
import time
import urllib.request

import psutil
from cluster_load import LoadedCluster, Stopped, percentile, wait_for

from client.broadcaster import Broadcaster
from client.masters import Masters
from client.sources import TestPattern
from client.turbo_broadcast import BroadcastTurbo
from client.viewer import Viewer
from common.prefs import Turbo


class Run:
    """A client loop on a thread, stopped by ``stop()``."""

    def __init__(self, make, loop):
        self.done = threading.Event()
        self.client = make()
        self.thread = threading.Thread(target=loop, args=(self.client, self.done), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)


def broadcast(load: LoadedCluster, user: str, fps: float, turbo: Turbo) -> Run:
    def make():
        caster = Broadcaster(Masters(load.cluster.server), load.tokens[user], TestPattern(640, 480), fps=fps)
        if turbo != Turbo.NEVER:
            caster.turbo = BroadcastTurbo(user, turbo, lambda text: None)
        return caster

    def loop(caster, done):
        def stop_when_asked(_) -> None:
            if done.is_set():
                raise Stopped

        caster.each_frame = stop_when_asked
        try:
            caster.run()
        except Stopped:
            pass

    return Run(make, loop)


def watch(load: LoadedCluster, user: str, target: str, arrivals: list[float] | None = None) -> Run:
    def make():
        viewer = Viewer(Masters(load.cluster.server), load.tokens[user], target)
        if arrivals is not None:
            viewer.on_frame = lambda info, image: arrivals.append(time.monotonic())
        return viewer

    return Run(make, lambda viewer, done: viewer.run(keep_going=lambda: not done.is_set()))


def slave_figures(load: LoadedCluster, seconds: float) -> tuple[float, float]:
    """The slave's bytes out per second and CPU % over ``seconds``."""
    node = load.cluster.node("slave-1")
    process = psutil.Process(node.process.pid)
    url = f"http://127.0.0.1:{node.ports['metrics']}/metrics"
    bytes_before, cpu_before, started = _bytes_out(url), sum(process.cpu_times()[:2]), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return (_bytes_out(url) - bytes_before) / elapsed, 100 * (sum(process.cpu_times()[:2]) - cpu_before) / elapsed


def _bytes_out(url: str) -> float:
    for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
        if line.startswith("framecast_slave_bytes_out_total"):
            return float(line.split()[-1])
    return 0.0


def main(args) -> None:
    load = LoadedCluster(0, 0, slaves=1).start()
    masters = Masters(load.cluster.server)
    for name in ("plain", "turbo", "switching", "first", "second"):
        load._user(masters, name)
    try:
        for user, mode in (("plain", Turbo.NEVER), ("turbo", Turbo.ALWAYS)):
            caster = broadcast(load, user, args.fps, mode)
            wait_for(lambda: user in load.placement())
            viewer = watch(load, "first", user)
            wait_for(lambda: viewer.client.stats.frames > args.fps)
            if mode == Turbo.ALWAYS:
                wait_for(lambda: viewer.client.turbo.path == "p2p")
            rate, cpu = slave_figures(load, args.seconds)
            print(
                f"{'server path' if mode == Turbo.NEVER else 'turbo (p2p)'}: slave sends {rate / 1000:.1f} KB/s, "
                f"CPU {cpu:.1f} %; viewer at {viewer.client.stats.fps:.1f} fps"
            )
            viewer.stop()
            caster.stop()
        gaps = switch_gaps(load, args)
        print(
            f"switch-over ({len(gaps)} switches, frame interval {1000 / args.fps:.0f} ms): largest gap "
            f"p50 {1000 * percentile(gaps, 50):.0f} ms, max {1000 * max(gaps):.0f} ms"
        )
    finally:
        load.close()


def switch_gaps(load: LoadedCluster, args) -> list[float]:
    """A second viewer comes and goes ``args.switches`` times; the first viewer's largest
    gap between frames around each switch (to the slave and back to the peer link)."""
    caster = broadcast(load, "switching", args.fps, Turbo.ALWAYS)
    wait_for(lambda: "switching" in load.placement())
    arrivals: list[float] = []
    first = watch(load, "first", "switching", arrivals)
    switches = []
    try:
        for _ in range(args.switches):
            wait_for(lambda: first.client.turbo.path == "p2p")
            time.sleep(1)
            switches.append(time.monotonic())
            second = watch(load, "second", "switching")
            wait_for(lambda: first.client.turbo.path == "server")
            time.sleep(1)
            switches.append(time.monotonic())
            second.stop()
        wait_for(lambda: first.client.turbo.path == "p2p")
        time.sleep(1)
    finally:
        first.stop()
        caster.stop()
    return [_largest_gap(arrivals, at, at + 3) for at in switches]


def _largest_gap(times: list[float], start: float, end: float) -> float:
    inside = [t for t in times if start <= t <= end]
    return max((b - a for a, b in zip(inside, inside[1:])), default=float("inf"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--switches", type=int, default=5)
    parser.add_argument("--fps", type=float, default=15)
    main(parser.parse_args())
