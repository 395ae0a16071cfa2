"""Opening a server's ports and stopping cleanly, with one clear line when it cannot."""

from __future__ import annotations

import sys

from twisted.internet.defer import DeferredList
from twisted.logger import Logger

log = Logger()
_exit = {"status": 0}


def listen_all(reactor, listeners: list[tuple[object, object, str]]):
    """Listen on every (endpoint, factory, description); if any fails, say so and stop.

    Returns a Deferred firing with the listening ports in the order given.
    """

    def check(results):
        failures = [(what, result) for (ok, result), (_, _, what) in zip(results, listeners) if not ok]
        if failures:
            what, failure = failures[0]
            print(f"error: cannot listen for {what}: {failure.getErrorMessage()}", file=sys.stderr)
            _exit["status"] = 1
            reactor.stop()
            return None
        return [port for _, port in results]

    return DeferredList(
        [endpoint.listen(factory) for endpoint, factory, _ in listeners], consumeErrors=True
    ).addCallback(check)


def fail(reactor, message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    _exit["status"] = 1
    reactor.stop()


def exit_status() -> int:
    return _exit["status"]
