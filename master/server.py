"""``framecast master``: options and start-up of one master node."""

from __future__ import annotations

import argparse
import socket

from common.config import (
    DEFAULT_DATABASE,
    DEFAULT_REDIS,
    add_flag,
    add_option,
    add_secret_option,
    add_tls_options,
    load_secret,
    tls_server_options,
)
from common.errors import ConfigError
from master.policy.budget import DEFAULT_ALLOWANCES, DEFAULT_LINK_CAPS, SpeedPolicy, parse_levels


REDIS_CONNECTIONS = 32  # for client requests
CONTROL_CONNECTIONS = 8  # for heartbeats, sweeps, placements and slave links, apart from clients


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "id", socket.gethostname(), "this master's id")
    add_option(parser, "host", "127.0.0.1", "interface to listen on")
    add_option(parser, "advertise", "", "address clients use for this master (default host)")
    add_option(parser, "client-port", 5101, "port for clients")
    add_option(parser, "slave-port", 5201, "dedicated port for slaves")
    add_option(parser, "metrics-port", 9101, "HTTP port for /metrics and /sd")
    add_option(parser, "web-port", 8101, "HTTP port for the browser page and MJPEG players")
    add_option(
        parser,
        "web-origins",
        "",
        "hosts or origins (scheme://host:port), comma-separated, whose pages may open /ws too",
    )
    add_option(parser, "redis", DEFAULT_REDIS, "Redis URL, or sentinel://host:port[,host:port]/service[/db]")
    add_option(parser, "redis-prefix", "fc:", "prefix of every Redis key")
    add_option(parser, "database", DEFAULT_DATABASE, "PostgreSQL DSN for users")
    add_option(parser, "dead-after", 3.0, "seconds without heartbeat before a slave is dead")
    add_option(parser, "token-ttl", 43200.0, "login token lifetime, seconds")
    add_option(parser, "ticket-ttl", 30.0, "redirect ticket lifetime, seconds")
    add_option(parser, "speed-policy", "tiers", "how a viewer's stated speed becomes a cap: tiers or share:F")
    add_option(parser, "link-caps", DEFAULT_LINK_CAPS, "cap in kbps per link type")
    add_option(parser, "allowances", DEFAULT_ALLOWANCES, "viewing allowance in kbps per service level")
    add_option(parser, "request-ttl", 60.0, "seconds a view request waits for the broadcaster's answer")
    add_option(parser, "throw-ban", 300.0, "seconds a thrown-out viewer needs a new request to come back")
    add_option(parser, "message-rate", 5.0, "messages a second each user may send, on average")
    add_option(parser, "message-burst", 20, "messages each user may send at once")
    add_option(parser, "relay-after", 0, "viewers of one broadcast on one slave before relays take new ones (0: off)")
    add_option(parser, "relay-fanout", 4, "relays one slave feeds, at most, per broadcast")
    add_option(parser, "relay-depth", 3, "hops from the broadcaster's slave to a relay, at most")
    add_flag(
        parser,
        "proxy-protocol",
        "clients arrive through HAProxy with send-proxy: take their addresses from the PROXY header",
    )
    add_option(parser, "log-level", "info", "log level")
    add_tls_options(parser)
    add_secret_option(parser)


def run(args: argparse.Namespace) -> None:
    """Start the master and run the reactor until stopped. The asyncio reactor must
    already be installed."""
    from twisted.internet import reactor, task
    from twisted.internet.defer import ensureDeferred
    from twisted.internet.endpoints import TCP4ServerEndpoint
    from twisted.protocols.haproxy import proxyEndpoint

    from common import logs
    from common.addresses import format_hostport
    from common.metrics import metrics_site
    from common.reactor import as_deferred
    from common.serve import exit_status, listen_all
    from common.tokens import NodeKeys
    from master.node import Master, MasterConfig
    from master.ports.client_port import MasterClientFactory
    from master.ports.service_discovery import ServiceDiscovery
    from master.ports.slave_port import SlaveLinkFactory
    from master.ports.web_front import web_site
    from master.storage.db.pool import Database
    from master.storage.db.tables import DatabaseTables
    from master.storage.migrations import ensure_database, migrate
    from master.storage.redis_connect import redis_connector
    from master.storage.redis_store import RedisStore
    from common.tls import server_factory
    from common.web_origins import listed
    from common.web_tls import web_server_factory

    try:
        speed_policy = SpeedPolicy.parse(args.speed_policy, args.link_caps)
        allowances = parse_levels(args.allowances)
    except ValueError as exc:
        raise ConfigError(f"bad bandwidth settings: {exc}") from None
    if args.relay_after < 0 or args.relay_fanout < 1 or args.relay_depth < 1:
        raise ConfigError("--relay-after must be 0 or more, --relay-fanout and --relay-depth 1 or more")
    tls = tls_server_options(args)
    logs.start(args.log_level)
    signer = NodeKeys.for_master(load_secret(args), token_ttl=args.token_ttl, ticket_ttl=args.ticket_ttl)
    ensure_database(args.database)
    migrate(args.database)
    advertise = args.advertise or args.host
    config = MasterConfig(
        id=args.id,
        client_addr=format_hostport(advertise, args.client_port),
        slave_addr=format_hostport(advertise, args.slave_port),
        metrics_addr=format_hostport(advertise, args.metrics_port),
        dead_after=args.dead_after,
        speed_policy=speed_policy,
        allowances=allowances,
        request_ttl=args.request_ttl,
        throw_ban=args.throw_ban,
        message_rate=args.message_rate,
        message_burst=args.message_burst,
        relay_after=args.relay_after,
        relay_fanout=args.relay_fanout,
        relay_depth=args.relay_depth,
    )
    db = Database(args.database)
    redis_client = redis_connector(args.redis)

    def start() -> None:
        store = RedisStore(redis_client(REDIS_CONNECTIONS), args.redis_prefix)
        control = RedisStore(redis_client(CONTROL_CONNECTIONS), args.redis_prefix)
        master = Master(config, store, DatabaseTables.on(db), signer, reactor, control=control)
        clients = master.client_services

        def endpoint(port):
            return TCP4ServerEndpoint(reactor, port, interface=args.host)

        def public(port):  # behind HAProxy, which passes each client's address
            return proxyEndpoint(endpoint(port)) if args.proxy_protocol else endpoint(port)

        def secured(factory):
            return server_factory(factory, tls)

        listen_all(
            reactor,
            [
                (
                    public(args.client_port),
                    secured(MasterClientFactory(clients, reactor)),
                    f"clients on port {args.client_port}",
                ),
                (
                    public(args.web_port),
                    web_server_factory(web_site(clients, reactor, listed(args.web_origins)), tls, reactor),
                    f"web on port {args.web_port}",
                ),
                (
                    endpoint(args.slave_port),
                    secured(SlaveLinkFactory(master.slave_services, reactor)),
                    f"slaves on port {args.slave_port}",
                ),
                (
                    endpoint(args.metrics_port),
                    metrics_site({b"sd": ServiceDiscovery(master.status)}),
                    f"metrics on port {args.metrics_port}",
                ),
            ],
        )
        as_deferred(master.links.relay_commands()).addErrback(_log_failure, "command relay")
        as_deferred(master.events.deliver_events()).addErrback(_log_failure, "event delivery")
        as_deferred(master.store.clear_presence(config.id)).addErrback(_log_failure, "clearing old presence")
        sweeper = task.LoopingCall(lambda: ensureDeferred(master.registry.sweep()).addErrback(_log_failure, "sweep"))
        sweeper.clock = reactor
        sweeper.start(1.0)
        reactor.addSystemEventTrigger("before", "shutdown", db.close)

    reactor.callWhenRunning(start)
    reactor.run()
    raise SystemExit(exit_status())


def _log_failure(failure, what: str) -> None:
    from twisted.logger import Logger

    Logger().warn("{what} failed: {err}", what=what, err=failure.getErrorMessage())
