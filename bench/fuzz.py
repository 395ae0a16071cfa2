"""Fuzz run: random and mutated messages against the master's and the slave's client ports
and the masters' slave port, in-process (the fuzzer of ``tests/fuzzing.py``). Prints, per protocol, the
messages sent, the rate, the answers by type (how deep the messages got) and the crashes
(with the first one's traceback).

    python bench/fuzz.py [--messages 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.protocol import MessageType, known_type  # noqa: E402
from tests.fuzzing import Fuzzer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages per protocol")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    crashed = False
    for target in ("master", "slave", "slave-port"):
        fuzzer = Fuzzer(target, args.seed)
        seconds = fuzzer.run(args.messages)
        rate = fuzzer.messages / seconds
        print(
            f"{target}: {fuzzer.messages:,} messages in {seconds:.1f} s ({rate:,.0f}/s), {len(fuzzer.crashes)} crashes"
        )
        answers = ", ".join(f"{_name(kind)} {count:,}" for kind, count in fuzzer.answers.most_common())
        print(f"  answers: {answers}")
        if fuzzer.crashes:
            print(fuzzer.crashes[0])
            crashed = True
    return 1 if crashed else 0


def _name(kind: int) -> str:
    return MessageType(kind).name if known_type(kind) else str(kind)


if __name__ == "__main__":
    raise SystemExit(main())
