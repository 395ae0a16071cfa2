"""Turbo mode (P1-P3): which addresses a viewer tries to reach a broadcaster directly, and
the keys that let a broadcaster check a peer ticket.

A broadcaster in turbo mode listens on a TCP port and reports its own interface addresses
(host candidates, as in ICE). The master keeps the ones that can make sense to others and
adds the address it saw the broadcaster connect from; they travel, signed, in the
broadcast ticket. For each viewer the servers order them: the viewer's own network first,
then the address the servers saw, then the rest. A loopback address is only offered to a
viewer the servers see on the same host as the broadcaster. There is no relay of our own:
when no candidate answers, the viewer stays on the slave.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from typing import Annotated, Any

from common.messages.schema import Check
from common.messages.fields import list_of, text

MAX_CANDIDATES = 8
NEVER = 99  # the rank of a candidate a viewer must not try


def candidate(value: Any) -> str:
    """``ip:port`` (``[ip]:port`` for IPv6), checked."""
    if not isinstance(value, str) or len(value) > 60:
        raise ValueError("a candidate is ip:port")
    host, port = split(value)
    return join(host, port)


def split(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("a candidate is ip:port")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError("a candidate's host is an IP address") from None
    return str(ip), int(port)


def join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


Candidates = Annotated[tuple[str, ...], Check(list_of(candidate, MAX_CANDIDATES))]
Hosts = Annotated[tuple[str, ...], Check(list_of(text(45), MAX_CANDIDATES))]  # as reported; admissible() checks
# The SHA-256 of the certificate the broadcaster's peer link shows (client/peer_tls.py), in hex.
Fingerprint = Annotated[
    str, Check(text(64, re.compile(r"(?:[0-9a-f]{64})?"), "a certificate fingerprint is 64 hexadecimal digits"))
]


def admissible(reported: tuple[str, ...], port: int, seen_from: str) -> tuple[str, ...]:
    """The broadcaster's candidates: the hosts it reported (unspecified, multicast and
    link-local ones dropped) and the host the master saw it connect from, on its port."""
    hosts: list[str] = []
    for host in (*reported, seen_from):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            continue
        if ip.is_unspecified or ip.is_multicast or ip.is_link_local or str(ip) in hosts:
            continue
        hosts.append(str(ip))
    return tuple(join(host, port) for host in hosts[:MAX_CANDIDATES])


def order_for(candidates: tuple[str, ...], viewer_host: str, broadcaster_host: str) -> tuple[str, ...]:
    """The candidates a viewer seen at ``viewer_host`` tries, best first. The broadcaster
    was seen at ``broadcaster_host``; loopback candidates only go to a viewer on its host."""
    viewer = _ip(viewer_host)
    same_host = viewer_host == broadcaster_host or (_is_loopback(viewer_host) and _is_loopback(broadcaster_host))

    def rank(address: str) -> int:
        ip = ipaddress.ip_address(split(address)[0])
        if ip.is_loopback:
            return 0 if same_host else NEVER
        if viewer is not None and ip.version == viewer.version and _same_network(ip, viewer):
            return 1
        return 2 if str(ip) == broadcaster_host else 3

    return tuple(address for address in sorted(candidates, key=rank) if rank(address) != NEVER)


def new_turbo_key() -> str:
    """A fresh key that signs one broadcast's peer tickets: the slave draws it at random
    when the broadcast starts there (nothing a client chose goes into it) and gives it only
    to that broadcaster, which checks tickets with it and never holds the cluster secret."""
    return secrets.token_urlsafe(32)


def peer_id(key: str, viewer_session: str) -> str:
    """The name a viewer session has on one broadcast's peer link: the broadcaster tells
    peers apart by it without ever learning the session id, and it means nothing under
    another broadcast's key."""
    return hmac.new(key.encode(), b"framecast.peer:" + viewer_session.encode(), hashlib.sha256).hexdigest()[:32]


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def _same_network(a, b) -> bool:
    prefix = 24 if a.version == 4 else 64
    return ipaddress.ip_network(f"{a}/{prefix}", strict=False) == ipaddress.ip_network(f"{b}/{prefix}", strict=False)
