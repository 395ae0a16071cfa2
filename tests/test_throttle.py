"""The sliding-window throttle (S6): the measured rate never exceeds the cap."""

import pytest
from hypothesis import given, strategies as st

from common.throttle import Throttle, kbps_to_bytes

EPSILON = 1e-6

packets = st.lists(st.tuples(st.floats(0, 2, allow_nan=False), st.integers(0, 50_000)), min_size=1, max_size=200)


@given(packets, st.floats(100, 1e6), st.integers(2, 40))
def test_drop_mode_never_exceeds_the_cap(steps, cap, samples):
    throttle, now = Throttle(cap, samples), 0.0
    for gap, length in steps:
        now += gap
        throttle.admit(now, length)
        assert throttle.bandwidth() <= cap * (1 + EPSILON)


@given(packets, st.floats(100, 1e6), st.integers(2, 40))
def test_delay_mode_never_exceeds_the_cap_and_sends_everything(steps, cap, samples):
    throttle, now = Throttle(cap, samples), 0.0
    for gap, length in steps:
        now += gap + throttle.delay(now + gap, length)
        throttle.record(now, length)
        assert throttle.bandwidth() <= cap * (1 + EPSILON)


def test_drop_mode_records_a_zero_for_a_dropped_packet():
    throttle = Throttle(1000, samples=4)
    assert throttle.admit(0.0, 500)
    assert throttle.admit(1.0, 1000)
    assert not throttle.admit(1.1, 1000)
    assert list(throttle._window)[-1] == (1.1, 0)


def test_a_flood_over_the_cap_still_gets_the_cap():
    throttle, now, sent = Throttle(2_500_000, samples=32), 0.0, 0
    for _ in range(100_000):  # 40 KB frames offered 10,000 times a second against 2.5 MB/s
        now += 0.0001
        if throttle.admit(now, 40_000):
            sent += 40_000
    assert 0.9 * 2_500_000 <= sent / now <= 2_500_000 * 1.01


def test_consecutive_drops_are_one_zero_sample():
    throttle = Throttle(1000, samples=4)
    assert throttle.admit(0.0, 500)
    assert throttle.admit(0.6, 500)
    for t in (0.7, 0.8, 0.9):
        assert not throttle.admit(t, 500)
    assert list(throttle._window) == [(0.0, 500), (0.6, 500), (0.9, 0)]


def test_delay_is_the_earliest_moment_the_packet_fits():
    throttle = Throttle(1000, samples=8)
    throttle.record(0.0, 100)
    assert throttle.delay(0.0, 500) == pytest.approx(0.5)
    assert throttle.delay(1.0, 500) == 0.0


def test_long_run_rate_is_close_to_the_cap():
    """With a window spanning several packets at the cap, drop mode uses most of it."""
    throttle, now, sent = Throttle(10_000, samples=32), 0.0, 0
    for _ in range(3000):
        now += 0.01
        if throttle.admit(now, 500):
            sent += 500
    assert 0.9 * 10_000 <= sent / now <= 10_000 * 1.05


def test_unlimited_and_bad_windows():
    assert Throttle(None).delay(0.0, 10**9) == 0.0
    with pytest.raises(ValueError):
        Throttle(1000, samples=1)
    assert kbps_to_bytes(80) == 10_000 and kbps_to_bytes(None) is None
