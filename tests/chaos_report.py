"""The chaos run's table: per fault kind, how many times it was injected and how long viewers
took to receive again (p50, p99, max); then every invariant, and each node's memory."""

from __future__ import annotations

from collections import Counter

from tests import chaos_checks as checks
from tests.chaos_run import Report

MB = 1024 * 1024


def lines(report: Report) -> list[str]:
    resumed, unexplained = checks.gaps_by_fault(report.events, report.faults)
    injected = Counter(f.kind for f in report.faults)
    out = [
        "| fault | injected | interruptions (> 0.6 s without a frame) | resume p50 s | p99 s | max s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in sorted(set(injected) | set(resumed)):
        r = checks.resume(resumed.get(kind, []))
        out.append(f"| {kind} | {injected[kind]} | {r.affected} | {r.p50:.2f} | {r.p99:.2f} | {r.max:.2f} |")
    found = checks.messages(report.events)
    tries, violations, wordy = checks.refusals(report.events)
    viewers = {e["who"] for e in report.events if e["event"] == "first_frame"}
    stalled, tracebacks = checks.stalled_viewers(report.events, report.end), checks.tracebacks(report.logs)
    out += [
        "",
        "| invariant | result |",
        "| --- | --- |",
        f"| chat messages accepted / shown | {found.accepted} / {found.shown} |",
        f"| accepted messages lost | {len(found.lost)} |",
        f"| shown twice / out of order per sender | {len(found.duplicates)} / {len(found.out_of_order)} |",
        f"| viewers receiving at the end | {len(viewers) - len(stalled)} of {len(viewers)} |",
        f"| interruptions no fault explains | {len(unexplained)} |",
        f"| refused attempts / access violations / not one line | {tries} / {len(violations)} / {len(wordy)} |",
        f"| tracebacks in logs | {sum(tracebacks.values())} {tracebacks or ''} |",
        f"| client sessions crashed | {len(checks.crashes(report.events))} |",
        "",
        "| node | memory start MB | peak MB | end MB |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, (start, peak, end) in sorted(checks.memory(report.memory).items()):
        out.append(f"| {name} | {start / MB:.1f} | {peak / MB:.1f} | {end / MB:.1f} |")
    for name, kinds in sorted(checks.traceback_kinds(report.logs).items()):
        out += [f"traceback in {name}: {kind}" for kind in sorted(kinds)]
    return out + [f"note: {note}" for note in report.notes]
