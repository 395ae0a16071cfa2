"""Getting back onto a slave (``client.retry``, ``client.session.connect_with_retry``), in
process on a clock of its own: which refusals are tried again, how long between attempts,
and when the client gives up."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from client.errors import ConnectionLost, ServerError
from client.retry import FIRST_WAIT, LONGEST_WAIT, OUTAGE_CODES, TRANSIENT_CODES, Retry
from client.session import connect_with_retry
from common.errors import ErrorCode
from common.messages.accounts import Redirect
from common.messages.streaming import ViewStart


class Clock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self):
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.waits.append(seconds)
        self.now += seconds


class Masters:
    def __init__(self):
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


REDIRECT = Redirect("127.0.0.1:5000", "s1", "ticket")


def joining(failures: list[Exception], clock: Clock, masters: Masters, deadline: float = 30.0, codes=frozenset()):
    """connect_with_retry where joining fails with ``failures`` in turn, then succeeds."""
    attempts = iter(failures)
    retries: list[str] = []

    def join(redirect, start):
        failure = next(attempts, None)
        if failure is not None:
            raise failure
        return "joined"

    result = connect_with_retry(
        masters, lambda: REDIRECT, ViewStart, deadline, set(codes), retries.append, join, clock, clock.sleep
    )
    return result, retries


def test_the_waits_grow_by_half_from_a_tenth_of_a_second_up_to_two_plus_jitter():
    retry = Retry(60.0, set(), now=0.0, jitter=lambda: 0.0)
    waits = [retry.wait_after(ConnectionLost("x"), now=0.0) for _ in range(12)]
    assert waits[:3] == pytest.approx([FIRST_WAIT * 1.5, FIRST_WAIT * 1.5**2, FIRST_WAIT * 1.5**3])
    assert waits == sorted(waits) and waits[-1] == LONGEST_WAIT
    jittered = Retry(60.0, set(), now=0.0, jitter=lambda: 1.0)
    assert jittered.wait_after(ConnectionLost("x"), now=0.0) == pytest.approx(FIRST_WAIT * 1.5 + 1.0)


def test_no_wait_runs_past_the_deadline():
    retry = Retry(5.0, set(), now=0.0, jitter=lambda: 1.0)
    assert retry.wait_after(ConnectionLost("x"), now=4.5) == pytest.approx(0.5)


def test_a_refusal_no_later_attempt_changes_is_final_at_once():
    retry = Retry(60.0, set(), now=0.0)
    refusal = ServerError(ErrorCode.NOT_BROADCASTING, "alice is not broadcasting")
    with pytest.raises(ServerError) as raised:
        retry.wait_after(refusal, now=0.0)
    assert raised.value is refusal


def test_moving_sessions_and_the_codes_asked_for_are_tried_again():
    retry = Retry(60.0, {ErrorCode.NOT_BROADCASTING} | OUTAGE_CODES, now=0.0)
    for code in TRANSIENT_CODES | OUTAGE_CODES | {ErrorCode.NOT_BROADCASTING}:
        assert retry.wait_after(ServerError(code, "wait"), now=1.0) > 0


def test_once_the_deadline_has_passed_the_last_failure_is_final():
    retry = Retry(10.0, set(), now=0.0)
    lost = ConnectionLost("slave gone")
    with pytest.raises(ConnectionLost) as raised:
        retry.wait_after(lost, now=10.0)
    assert raised.value is lost


def test_a_lost_connection_drops_the_master_connection_and_tries_again():
    clock, masters = Clock(), Masters()
    result, retries = joining([ConnectionLost("refused"), ConnectionLost("refused")], clock, masters)
    assert result == "joined" and masters.closed == 2
    assert retries == ["refused", "refused"] and len(clock.waits) == 2


def test_a_new_viewer_is_told_at_once_that_no_one_broadcasts():
    clock = Clock()
    with pytest.raises(ServerError, match="not broadcasting"):
        joining([ServerError(ErrorCode.NOT_BROADCASTING, "not broadcasting")], clock, Masters())
    assert clock.waits == []


FAILURES = st.lists(
    st.sampled_from(
        [ConnectionLost("lost"), *(ServerError(code, code) for code in sorted(TRANSIENT_CODES | OUTAGE_CODES))]
    ),
    max_size=80,
)


@given(FAILURES, st.floats(0.5, 30.0))
def test_joining_either_succeeds_or_gives_up_after_the_deadline_never_later(failures, deadline):
    clock = Clock()
    start = clock.now
    try:
        result, retries = joining(failures, clock, Masters(), deadline, codes=OUTAGE_CODES)
    except (ConnectionLost, ServerError):
        assert clock.now - start == pytest.approx(deadline)  # gives up at the deadline, not before
    else:
        assert result == "joined" and len(retries) == len(failures)
        assert clock.now - start <= deadline + 1e-9
