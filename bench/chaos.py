"""The chaos run (issue 22): a cluster of hosts on this machine (network namespaces: HAProxy, 2
masters, 3 slaves, Redis (a primary, a replica, 3 Sentinels) and PostgreSQL on a host of
their own, clients on three more), under load (broadcasters, viewers native, MJPEG and
WebSocket, relays, turbo, chat, view requests, throws, refused users, the fuzzer on every
port), while faults come one after another, sometimes two at once, for ``--duration``
seconds or ``--rounds`` times through every kind. Prints per fault kind how long viewers
took to receive again (p50, p99, max), then every invariant and each node's memory. Needs
root (ip netns, iptables, mount).

    sudo .venv/bin/python bench/chaos.py [--duration 600] [--broadcasters 10] [--viewers 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.chaos_faults import KINDS  # noqa: E402
from tests.chaos_report import lines  # noqa: E402
from tests.chaos_run import ChaosRun, Options  # noqa: E402
from tests.hosts import unavailable_reason  # noqa: E402


def main(args) -> int:
    reason = unavailable_reason()
    if reason is not None:
        print(f"chaos: error: {reason}", file=sys.stderr)
        return 1
    kinds = tuple(args.kinds.split(",")) if args.kinds else tuple(KINDS)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        known = ", ".join(KINDS)
        print(f"chaos: error: unknown fault kinds {', '.join(sorted(unknown))}; known: {known}", file=sys.stderr)
        return 1
    options = Options(
        duration=args.duration,
        broadcasters=args.broadcasters,
        viewers=args.viewers,
        chatters=args.chatters,
        turbo=args.turbo,
        kinds=kinds,
        rounds=args.rounds,
        pairs=args.pairs,
        max_hold=args.max_hold,
        seed=args.seed,
    )
    workdir = Path(tempfile.mkdtemp(prefix="fcchaos-"))
    print(f"chaos run: logs in {workdir}", flush=True)
    report = ChaosRun(workdir, options).run()
    with open(workdir / "events.jsonl", "w") as events:  # what the agents reported, for a closer look
        events.writelines(json.dumps(event) + "\n" for event in report.events)
    faults = [{"kind": f.kind, "target": f.target, "started": f.started, "ended": f.ended} for f in report.faults]
    (workdir / "faults.json").write_text(json.dumps(faults, indent=1))
    print("\n".join(lines(report)))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of faults, at most (default 600)")
    parser.add_argument("--rounds", type=int, default=3, help="times through every fault kind, at most (default 3)")
    parser.add_argument("--broadcasters", type=int, default=10)
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--chatters", type=int, default=4, help="pairs of a chat sender and its recipient")
    parser.add_argument("--turbo", type=int, default=1, help="broadcasters in turbo mode, each with a lone viewer")
    parser.add_argument("--pairs", type=float, default=0.2, help="chance a fault comes with a second at once")
    parser.add_argument("--max-hold", type=float, default=30, help="seconds a fault is held, at most")
    parser.add_argument("--kinds", default="", help="comma-separated fault kinds (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    sys.exit(main(parser.parse_args()))
