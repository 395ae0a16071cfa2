"""A relay's judgement of its upstream's rate (C10), on a hand-driven clock."""

from slave.upstream_rate import UpstreamRate


def feed(rate: UpstreamRate, start: float, seconds: float, fps: int, every: int = 1, seq: int = 0) -> int:
    """Frames of a ``fps`` broadcast for ``seconds``; the relay gets one in ``every``."""
    for i in range(int(seconds * fps)):
        seq += 1
        if seq % every == 0:
            rate.frame(start + i / fps, seq)
    return seq


def test_an_upstream_delivering_every_frame_is_fine():
    rate = UpstreamRate()
    feed(rate, 0.0, 5, 15)
    assert rate.fraction(5.0) == 1.0
    assert not rate.slow(5.0)


def test_an_upstream_delivering_a_third_of_the_frames_is_slow_after_a_window():
    rate = UpstreamRate()
    feed(rate, 0.0, 2, 15, every=3)
    assert not rate.slow(2.0)  # too early to tell
    feed(rate, 2.0, 2, 15, every=3, seq=30)
    assert rate.slow(4.0)


def test_a_slow_broadcast_is_not_a_slow_link():
    rate = UpstreamRate()
    feed(rate, 0.0, 10, 1)
    assert not rate.slow(10.0)


def test_a_new_upstream_gets_a_fresh_window():
    rate = UpstreamRate()
    seq = feed(rate, 0.0, 4, 15, every=3)
    assert rate.slow(4.0)
    rate.reset(4.0)
    feed(rate, 4.0, 1, 15, seq=seq)
    assert not rate.slow(5.0)
