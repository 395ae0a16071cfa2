"""Failover benchmark: kill -9 the slave carrying the most broadcasts, under load.

B broadcasts with V viewers each on a cluster of 2 masters and 3 slaves. Prints the time
from the kill until each affected viewer has a frame from its new slave (p50 and max), and
the sessions lost (viewers that never got one within the limit).

    python bench/failover.py [--broadcasts 4] [--viewers 5] [--limit 30]
"""

from __future__ import annotations

import argparse
import signal
import time

from cluster_load import LoadedCluster, percentile


def main(args) -> None:
    load = LoadedCluster(args.broadcasts, args.viewers).start()
    try:
        victim, carried, victim_addr, affected = load.busiest_slave()
        time.sleep(2)
        killed = time.monotonic()
        load.cluster.kill(victim, signal.SIGKILL)
        deadline = killed + args.limit
        while time.monotonic() < deadline and not all(_recovered(w, killed, victim_addr) for w in affected):
            time.sleep(0.1)
        delays = [_recovered(w, killed, victim_addr) - killed for w in affected if _recovered(w, killed, victim_addr)]
        lost = len(affected) - len(delays)
        print(
            f"killed {victim} carrying {carried} broadcasts and {len(affected)} viewers "
            f"({args.broadcasts} broadcasts x {args.viewers} viewers in all)"
        )
        print(
            f"time to a new frame from another slave: p50 {percentile(delays, 50):.2f} s, "
            f"max {max(delays, default=float('nan')):.2f} s; sessions lost: {lost}"
        )
    finally:
        load.close()


def _recovered(watcher, since: float, old_slave: str) -> float | None:
    return next((t for t, slave in watcher.arrivals if t > since and slave != old_slave), None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broadcasts", type=int, default=4)
    parser.add_argument("--viewers", type=int, default=5)
    parser.add_argument("--limit", type=float, default=30)
    main(parser.parse_args())
