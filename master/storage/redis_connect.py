"""Connecting a master to Redis: one server, or whichever server the Sentinels name.

``--redis`` takes either a plain URL (``redis://host:port/db``, ``rediss://``, ``unix://``)
or ``sentinel://host:port[,host:port...]/service[/db]``: the master then asks the Sentinels
which server is the master of ``service`` and follows it when they fail it over (redis-py's
Sentinel support; a connection to a demoted server is dropped and the next one asks again).

Every pool is bounded and blocking: a burst of requests waits for a connection instead of
opening hundreds at once (and failing to, under load).
"""

from __future__ import annotations

from typing import Callable

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.connection import parse_url

from common.addresses import parse_hostport
from common.errors import ConfigError

SENTINEL_SCHEME = "sentinel://"
POOL_OPTIONS = dict(
    timeout=5, decode_responses=True, socket_timeout=2, socket_connect_timeout=2, health_check_interval=5
)
SENTINEL_OPTIONS = dict(socket_timeout=1, socket_connect_timeout=1)


class SentinelBlockingPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """Sentinel's pool of master connections, bounded the blocking way."""


def redis_connector(url: str) -> Callable[[int], aioredis.Redis]:
    """Check ``url`` now (a bad one is a ConfigError before anything starts) and return a
    function that makes a client over a pool of at most N connections. Call that only once
    the reactor runs: the client belongs to the running asyncio loop."""
    if url.startswith(SENTINEL_SCHEME):
        sentinels, service, db = parse_sentinel_url(url)
        return lambda connections: _sentinel_client(sentinels, service, db, connections)
    try:
        parse_url(url)
    except ValueError as exc:
        raise ConfigError(f"bad --redis {url!r}: {exc}") from None
    return lambda connections: _plain_client(url, connections)


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int]:
    """``sentinel://h1:p1,h2:p2/service[/db]`` -> ([(h1, p1), (h2, p2)], service, db)."""
    hosts, _, path = url[len(SENTINEL_SCHEME) :].partition("/")
    service, _, db = path.partition("/")
    try:
        sentinels = [parse_hostport(host, 26379) for host in hosts.split(",")]
        number = int(db or 0)
    except ValueError as exc:
        raise ConfigError(f"bad --redis {url!r}: {exc}") from None
    if not service:
        raise ConfigError(f"bad --redis {url!r}: expected sentinel://host:port[,host:port]/service[/db]")
    return sentinels, service, number


def _plain_client(url: str, connections: int) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=connections, **POOL_OPTIONS)
    return aioredis.Redis(connection_pool=pool)


def _sentinel_client(sentinels: list[tuple[str, int]], service: str, db: int, connections: int) -> aioredis.Redis:
    sentinel = Sentinel(sentinels, sentinel_kwargs=SENTINEL_OPTIONS)
    return sentinel.master_for(
        service, connection_pool_class=SentinelBlockingPool, max_connections=connections, db=db, **POOL_OPTIONS
    )
