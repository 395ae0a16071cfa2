"""The short chaos run (issue 22): a cluster of hosts (network namespaces: HAProxy, 2 masters,
3 slaves, Redis (a primary, a replica, 3 Sentinels) and PostgreSQL on a host of their own,
clients on three more) under a small load, with one of each fault, held a few seconds. It
asserts the invariants that hold whatever the machine's speed: no accepted message lost,
shown twice or out of order, no refused user watching, every refusal one line, no traceback
in any log, no client session crashed, and every viewer receiving again by the end. How long
viewers took to resume is printed (the table), not asserted: ``bench/chaos.py`` measures it
on a longer run."""

import pytest

from tests import chaos_checks as checks
from tests.chaos_report import lines
from tests.chaos_run import ChaosRun, Options
from tests.hosts import unavailable_reason

REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    options = Options(broadcasters=3, viewers=6, chatters=2, rounds=1, pairs=0, max_hold=5, settle=3)
    report = ChaosRun(tmp_path_factory.mktemp("chaos"), options).run()
    print("\n".join(lines(report)))
    return report


def test_every_fault_kind_was_injected(report):
    assert {f.kind for f in report.faults} == set(Options().kinds)


def test_the_sentinels_promoted_the_replica(report):
    """The failover's target reads "old -> new" once the old primary follows the new one."""
    (failover,) = [f for f in report.faults if f.kind == "sentinel_failover"]
    old, new = failover.target.split(" -> ")
    assert {old, new} == {"redis-1", "redis-2"}


def test_no_accepted_message_is_lost_shown_twice_or_out_of_order(report):
    found = checks.messages(report.events)
    assert found.accepted > 0
    assert (found.lost, found.duplicates, found.out_of_order) == ([], [], [])


def test_every_viewer_receives_again_by_the_end(report):
    viewers = {e["who"] for e in report.events if e["event"] == "first_frame"}
    assert len(viewers) == 6
    assert checks.stalled_viewers(report.events, report.end) == []


def test_no_refused_user_watches_and_each_refusal_is_one_line(report):
    tries, violations, wordy = checks.refusals(report.events)
    assert tries > 0
    assert (violations, wordy) == ([], [])


def test_no_traceback_in_any_log_and_no_client_session_crashed(report):
    assert checks.tracebacks(report.logs) == {}
    assert checks.crashes(report.events) == []
