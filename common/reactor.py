"""Installing Twisted's asyncio reactor, and the one bridge from asyncio to Deferreds.

Servers call ``install()`` first thing, before anything imports
``twisted.internet.reactor``, so that redis.asyncio and Twisted share one event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine

from twisted.internet.defer import Deferred


def install() -> None:
    from twisted.internet import asyncioreactor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(eventloop=loop)


def as_deferred(coro: Coroutine[Any, Any, Any]) -> Deferred:
    """Run an asyncio coroutine on the reactor's loop and expose it as a Deferred."""
    return Deferred.fromFuture(asyncio.ensure_future(coro))
