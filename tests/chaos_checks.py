"""The chaos run's invariants, as pure functions of what the agents reported (``events``: the
JSON lines of ``tests/chaos_agent.py``), the faults injected and the nodes' logs and
memory samples. Each returns what it found; the run prints it and a test asserts on it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from tests.chaos_faults import Fault

ONE_LINE = re.compile(r"^framecast: error: ")
READMIT = 50.0  # seconds a thrown viewer may wait to be let back in (the slave's ban: 40 s)
AFTER = 5.0  # seconds after a heal that an interruption may still be the fault's (TCP's backoff)
EXCEPTION = re.compile(r"^\s*([\w.]+(?:Error|Exception|Exit|Failure)\b.*)$", re.MULTILINE)


@dataclass
class Messages:
    accepted: int = 0
    shown: int = 0
    lost: list[tuple[str, int]] = field(default_factory=list)  # (reader, message id)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    out_of_order: list[tuple[str, str]] = field(default_factory=list)  # (reader, sender)


def messages(events: list[dict]) -> Messages:
    """Each accepted message shown exactly once to its recipient's session, in order per
    sender, none lost (against what senders were told was accepted)."""
    found = Messages()
    shown: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        if event["event"] == "shown":
            shown[event["who"]].append(event)
    for event in events:
        if event["event"] == "accepted":
            found.accepted += 1
            if event["id"] not in {line["id"] for line in shown.get(event["to"], [])}:
                found.lost.append((event["to"], event["id"]))
    for reader, lines in shown.items():
        found.shown += len(lines)
        ids = [line["id"] for line in lines]
        found.duplicates += [(reader, i) for i in sorted(set(ids)) if ids.count(i) > 1]
        numbers: dict[str, list[int]] = defaultdict(list)
        for line in lines:
            numbers[line["sender"]].append(int(line["text"].rsplit(" ", 1)[1]))
        found.out_of_order += [(reader, sender) for sender, ns in numbers.items() if ns != sorted(ns)]
    return found


@dataclass
class Resume:
    affected: int
    p50: float
    p99: float
    max: float


def gaps_by_fault(events: list[dict], faults: list[Fault]) -> tuple[dict[str, list[float]], list[dict]]:
    """Each viewer's interruption attributed to the latest fault that began before it ended
    and was on (or healed less than ``AFTER`` seconds before) when it began, and how long
    after the fault began (or the interruption, if later) frames came again; a viewer's
    within ``READMIT`` seconds of its being thrown out, to the throw; gaps no fault
    explains, apart."""
    resumed: dict[str, list[float]] = defaultdict(list)
    unexplained = []
    thrown = [(e["who"], e["at"]) for e in events if e["event"] == "thrown"]
    for gap in (e for e in events if e["event"] == "gap"):
        if any(who == gap["who"] and gap["start"] - READMIT <= at <= gap["end"] for who, at in thrown):
            resumed["throw (not a fault: back once readmitted)"].append(gap["end"] - gap["start"])
            continue
        causes = [f for f in faults if f.started <= gap["end"] and gap["start"] - 0.5 <= f.ended + AFTER]
        if causes:
            cause = max(causes, key=lambda f: f.started)
            resumed[cause.kind].append(gap["end"] - max(cause.started, gap["start"]))
        else:
            unexplained.append(gap)
    return resumed, unexplained


def resume(times: list[float]) -> Resume:
    ordered = sorted(times)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    return Resume(len(ordered), at(0.5), at(0.99), ordered[-1] if ordered else 0.0)


def stalled_viewers(events: list[dict], end: float, within: float = 10.0) -> list[str]:
    """Viewers without a frame in the last ``within`` seconds of the run (sessions lost),
    but for one thrown out less than ``READMIT`` seconds before the end, not yet let back."""
    readmitting = {e["who"] for e in events if e["event"] == "thrown" and e["at"] > end - READMIT}
    ended = [e for e in events if e["event"] == "viewer_end" and e["who"] not in readmitting]
    return [e["who"] for e in ended if e["last"] < end - within]


def refusals(events: list[dict]) -> tuple[int, list[dict], list[dict]]:
    """The refused clients' attempts: how many, those that got in (access violations), and
    those that did not end with exactly one ``framecast: error:`` line."""
    tries = [e for e in events if e["event"] == "refusal"]
    violations = [e for e in tries if e["status"] == 0 or any("watching" in line for line in e["lines"])]
    wordy = [e for e in tries if e["status"] != 0 and not (len(e["lines"]) == 1 and ONE_LINE.match(e["lines"][0]))]
    return len(tries), violations, wordy


def tracebacks(logs: dict[str, str]) -> dict[str, int]:
    return {name: text.count("Traceback") for name, text in logs.items() if "Traceback" in text}


def traceback_kinds(logs: dict[str, str]) -> dict[str, set[str]]:
    """Each log's distinct tracebacks, by their exception line, to say what they were."""
    found: dict[str, set[str]] = defaultdict(set)
    for name, text in logs.items():
        for block in text.split("Traceback (most recent call last):")[1:]:
            exception = EXCEPTION.search(block)
            found[name].add(exception.group(1)[:200] if exception else block[:200])
    return dict(found)


def memory(samples: dict[str, list[int]]) -> dict[str, tuple[int, int, int]]:
    """Each node's resident memory: (start, peak, end), in bytes."""
    return {name: (values[0], max(values), values[-1]) for name, values in samples.items() if values}


def crashes(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"] == "task_crashed"]
