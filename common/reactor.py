"""Installing Twisted's asyncio reactor, and the bridges between asyncio and Deferreds.

Servers call ``install()`` first thing, before anything imports
``twisted.internet.reactor``, so that redis.asyncio and Twisted share one event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater


def install() -> None:
    from twisted.internet import asyncioreactor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(eventloop=loop)


def as_deferred(coro: Coroutine[Any, Any, Any]) -> Deferred:
    """Run an asyncio coroutine on the reactor's loop and expose it as a Deferred."""
    return Deferred.fromFuture(asyncio.ensure_future(coro))


def later(reactor: IReactorTime, seconds: float) -> asyncio.Future:
    """A wait of ``seconds`` on ``reactor``'s clock, for asyncio code (a store's feed loop
    run by ``as_deferred``); cancelling the wait cancels its timer."""
    return deferLater(reactor, seconds, lambda: None).asFuture(asyncio.get_running_loop())
