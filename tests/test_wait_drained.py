"""``framecast drain --wait`` watches a long drain without tripping the masters' limit on
status requests (one connection: 2 a second after a burst of 10), on a fake clock."""

from types import SimpleNamespace

from client import operations
from client.errors import ServerError
from common.errors import ErrorCode
from common.messages.accounts import SlaveRow
from common.messages.cluster import SlaveState
from common.ratelimit import gcra
from master.ports.client_port import STATUS_BURST, STATUS_RATE


class Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class RateLimitedMasters:
    """One connection to a master that drains ``slave-1`` in 120 s."""

    def __init__(self, clock):
        self.clock, self.tat = clock, None

    def status(self, secret=None):
        _, tat = gcra(self.tat, self.clock.now, STATUS_RATE, STATUS_BURST)
        if tat is None:
            raise ServerError(ErrorCode.RATE_LIMITED, "too many status requests")
        self.tat = tat
        state = SlaveState.DRAINED if self.clock.now >= 120 else SlaveState.DRAINING
        return SimpleNamespace(slaves=[SlaveRow("slave-1", state, 0, 1, 2, 0.1)])


def test_a_two_minute_drain_is_watched_to_its_end(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(operations, "time", clock)
    row = operations.wait_drained(RateLimitedMasters(clock), "secret", "slave-1", lambda line: None)
    assert row.state == SlaveState.DRAINED and clock.now >= 120
