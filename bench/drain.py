"""Drain benchmark: drain the slave carrying the most broadcasts, under load.

B broadcasts with V viewers each on a cluster of 2 masters and 3 slaves. Prints how long the
drain took, each moved viewer's largest gap between frames around the drain (p50 and max),
and the sessions lost.

    python bench/drain.py [--broadcasts 4] [--viewers 5]
"""

from __future__ import annotations

import argparse
import time

from cluster_load import LoadedCluster, percentile

from client.masters import Masters
from client.operations import wait_drained


def main(args) -> None:
    load = LoadedCluster(args.broadcasts, args.viewers).start()
    try:
        victim, carried, victim_addr, moving = load.busiest_slave()
        time.sleep(2)
        masters = Masters(load.cluster.server)
        started = time.monotonic()
        masters.operator(load.cluster.secret, "drain", slave=victim)
        wait_drained(masters, load.cluster.secret, victim, lambda text: None)
        took = time.monotonic() - started
        time.sleep(2)
        gaps = [_largest_gap(w, started - 1, time.monotonic()) for w in moving]
        lost = sum(1 for w in moving if w.error or w.arrivals[-1][1] == victim_addr)
        lost_broadcasts = args.broadcasts - len(load.placement())
        print(
            f"drained {victim} carrying {carried} broadcasts and {len(moving)} viewers "
            f"({args.broadcasts} broadcasts x {args.viewers} viewers in all, {load.fps:g} fps)"
        )
        print(
            f"drain took {took:.2f} s; largest frame gap per moved viewer: p50 {1000 * percentile(gaps, 50):.0f} ms, "
            f"max {1000 * max(gaps):.0f} ms (frame interval {1000 / load.fps:.0f} ms); "
            f"sessions lost: {lost} viewers, {lost_broadcasts} broadcasts"
        )
    finally:
        load.close()


def _largest_gap(watcher, start: float, end: float) -> float:
    times = [t for t, _ in watcher.arrivals if start <= t <= end]
    return max((b - a for a, b in zip(times, times[1:])), default=float("inf"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broadcasts", type=int, default=4)
    parser.add_argument("--viewers", type=int, default=5)
    main(parser.parse_args())
