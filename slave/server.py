"""``framecast slave``: options and start-up of one slave node.

A slave is given the masters' public ticket key and the slave key (``common.keys``), never
the cluster secret: it refuses to start with ``FRAMECAST_SECRET`` in its environment, so a
slave taken over yields nothing that signs a login or an operator proof.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import signal
import socket
from pathlib import Path

from common.config import add_option, add_tls_options, read_key, tls_server_options
from common.errors import ConfigError


# Twisted's default of 50 makes a burst of connections (viewers coming back after a
# failover, or a flood) overflow the kernel's accept queue; dropped SYNs retry after 1 s.
LISTEN_BACKLOG = 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "id", "", "this slave's id (default HOSTNAME-PORT)")
    add_option(parser, "host", "127.0.0.1", "interface to listen on")
    add_option(parser, "port", 5301, "port for broadcasters and viewers (0: any free port)")
    add_option(parser, "advertise", "", "host name or IP clients use to reach this slave (default host)")
    add_option(parser, "metrics-port", 9301, "HTTP port for /metrics (0: any free port)")
    add_option(parser, "metrics-host", "", "interface for /metrics, advertised to Prometheus (default --host)")
    add_option(parser, "web-port", 8301, "HTTP port for browsers and MJPEG players (0: any free port)")
    add_option(
        parser,
        "web-origins",
        "",
        "hosts or origins (scheme://host:port), comma-separated, whose pages may open /ws too",
    )
    add_option(parser, "masters", "127.0.0.1:5201", "masters' slave ports, comma-separated, tried in turn")
    add_option(parser, "grace", 10.0, "seconds a broadcast waits for its broadcaster to reconnect")
    add_option(parser, "refresh-interval", 120.0, "seconds between complete session-table refreshes")
    add_option(parser, "ticket-ttl", 30.0, "redirect ticket lifetime, seconds")
    add_option(parser, "master-timeout", 5.0, "seconds of silence from a master before switching to another")
    add_option(parser, "drain-deadline", 30.0, "seconds a drain may take before the rest is told to reconnect")
    add_option(parser, "container", "", "Docker container id (default: detected)")
    add_option(parser, "stall-timeout", 20.0, "seconds without an acknowledgement before a viewer is dropped")
    add_option(parser, "max-upload-kbps", 20000.0, "cap on each broadcaster's upload (0: none)")
    add_option(parser, "upload-window", 32, "samples in the upload throttle's sliding window")
    add_option(parser, "log-level", "info", "log level")
    add_tls_options(parser)
    add_option(parser, "ca", "", "CA certificate to verify the masters and other slaves with (else the system's roots)")
    add_option(parser, "masters-name", "", "the name the masters' certificates are for (default: each --masters host)")
    add_option(parser, "master-key", "", "the masters' public ticket key, as `framecast slave-keys` prints it")
    add_option(parser, "slave-key-file", "", "file holding the slave key (else FRAMECAST_SLAVE_KEY)")


def container_id() -> str:
    """The Docker container this process runs in, from its mounts; "" outside Docker."""
    try:
        found = re.search(r"/docker/containers/([0-9a-f]{64})/", Path("/proc/self/mountinfo").read_text())
    except OSError:
        return ""
    return found.group(1) if found else ""


def slave_keys(args: argparse.Namespace):
    """The keys this slave checks tickets and signs its own credentials with."""
    from common.keys import load_public_key
    from common.tokens import NodeKeys

    how = "`framecast slave-keys` (run where FRAMECAST_SECRET is set) prints both"
    if os.environ.get("FRAMECAST_SECRET"):
        raise ConfigError(
            "a slave must not hold the cluster secret: unset FRAMECAST_SECRET and give it"
            f" FRAMECAST_MASTER_KEY and FRAMECAST_SLAVE_KEY instead; {how}"
        )
    if not args.master_key:
        raise ConfigError(f"no master key: set FRAMECAST_MASTER_KEY or pass --master-key; {how}")
    try:
        master_key = load_public_key(args.master_key)
    except ValueError as exc:
        raise ConfigError(f"--master-key: {exc}") from None
    key = read_key(args.slave_key_file, "FRAMECAST_SLAVE_KEY", "slave key")
    if not key:
        raise ConfigError(f"no slave key: set FRAMECAST_SLAVE_KEY or pass --slave-key-file; {how}")
    return NodeKeys.for_slave(master_key, key, ticket_ttl=args.ticket_ttl)


def run(args: argparse.Namespace) -> None:
    """Start the slave and run the reactor until stopped (asyncio reactor installed)."""
    from prometheus_client import REGISTRY
    from twisted.internet import reactor, task
    from twisted.internet.endpoints import TCP4ServerEndpoint

    from common import logs
    from common.addresses import format_hostport, parse_hostport_list
    from common.direct_tls import DirectTLSEndpoint
    from common.metrics import metrics_site
    from common.serve import exit_status, fail, listen_all
    from common.tls import client_creator
    from common.web_origins import listed
    from slave.client_port import SlaveClientFactory
    from slave.config import SlaveConfig
    from slave.master_link import master_link_service
    from slave.node import Slave
    from slave.web import web_site

    tls = tls_server_options(args)
    logs.start(args.log_level)
    try:
        masters = parse_hostport_list(args.masters)
    except ValueError as exc:
        raise ConfigError(f"--masters: {exc}") from None
    web_origins = listed(args.web_origins) + [host for host, _ in masters]  # the masters' pages
    signer = slave_keys(args)
    verified = functools.partial(client_creator, ca=args.ca or None)  # host -> TLS client options
    masters_tls = None if tls is None else lambda host: verified(args.masters_name or host)
    advertise = args.advertise or args.host
    config = SlaveConfig(
        id=args.id,
        addr="",
        grace=args.grace,
        refresh_interval=args.refresh_interval,
        stall_timeout=args.stall_timeout,
        max_upload_kbps=args.max_upload_kbps,
        upload_window=args.upload_window,
        drain_deadline=args.drain_deadline,
        master_timeout=args.master_timeout,
        container=args.container or container_id(),
    )
    slave = Slave(config, signer, reactor, None if tls is None else verified)  # fellow slaves serve TLS as this one
    REGISTRY.register(slave.metrics)

    def started(ports) -> None:
        if ports is None:
            return
        client_port, metrics_port, web_port = (p.getHost().port for p in ports)
        config.addr = format_hostport(advertise, client_port)
        config.metrics_addr = format_hostport(args.metrics_host or advertise, metrics_port)
        config.web_addr = format_hostport(advertise, web_port)
        config.id = config.id or f"{socket.gethostname()}-{client_port}"
        print(f"slave {config.id} serving clients on {config.addr}", flush=True)
        master_link_service(reactor, slave.master_link_services, masters, masters_tls).startService()
        for every, run in (
            (config.heartbeat_interval, slave.reporter.send_heartbeat),
            (config.refresh_interval, slave.reporter.send_table),
            (1.0, slave.viewer_control.check),
        ):
            loop = task.LoopingCall(run)
            loop.clock = reactor
            loop.start(every, now=False)

    def endpoint(port: int, backlog: int = 50, plain_for_loopback: bool = False, plain_for_data: bool = False):
        """TCP, or TLS done on the socket itself (``common.direct_tls``): the fan-out's path."""
        if tls is None:
            return TCP4ServerEndpoint(reactor, port, backlog=backlog, interface=args.host)
        return DirectTLSEndpoint(reactor, port, tls, backlog, args.host, plain_for_loopback, plain_for_data)

    def start() -> None:
        listen_all(
            reactor,
            [
                (
                    endpoint(args.port, backlog=LISTEN_BACKLOG, plain_for_data=True),
                    SlaveClientFactory(slave.client_services, reactor),
                    f"clients on port {args.port}",
                ),
                (
                    TCP4ServerEndpoint(reactor, args.metrics_port, interface=args.metrics_host or args.host),
                    metrics_site(),
                    f"metrics on port {args.metrics_port}",
                ),
                (
                    endpoint(args.web_port, plain_for_loopback=True),
                    web_site(slave.client_services, reactor, web_origins),
                    f"web on port {args.web_port}",
                ),
            ],
        ).addCallback(started).addErrback(lambda f: fail(reactor, f.getErrorMessage()))

    def drain_and_exit(signum, frame) -> None:
        """SIGTERM (``docker stop``): drain, then exit once empty."""
        reactor.callFromThread(slave.draining.start, None, lambda: reactor.callLater(0.2, reactor.stop))

    reactor.callWhenRunning(start)
    reactor.callWhenRunning(signal.signal, signal.SIGTERM, drain_and_exit)
    reactor.run()
    raise SystemExit(exit_status())
