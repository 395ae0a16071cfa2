"""Which pages may open a WebSocket to a web front: its own, the cluster's, and this machine's.

A browser names the page that opens a WebSocket in the ``Origin`` header, and lets any page
open one anywhere, so without this check a stranger's page could use a visitor's browser
(and network position) to talk framecast to the cluster. An upgrade is allowed when:

* it has no ``Origin``: not a browser, which could send any header it likes anyway;
* the origin's host is the host the request is addressed to (its ``Host`` header), on any
  port: the page of a master on ``HOST:8100`` opens ``wss://HOST:8102/ws`` on a slave of the
  same host;
* the origin's host is a loopback name or address (``localhost``, 127.0.0.0/8, ``::1``):
  the page of ``framecast up`` on this machine, whatever name it was opened with;
* the origin, or its host, is one the server was told to trust (``--web-origins``; a slave
  trusts its masters' hosts too): the page of a master behind a public name that differs
  from the slaves' addresses.

Anything else, including the ``null`` origin of sandboxed pages and files, is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from common.web_headers import is_loopback_name


def origin_allowed(origin: str, host: str, trusted: Iterable[str] = ()) -> bool:
    """``origin`` is the header's value ("" when absent), ``host`` the Host header's host
    (without port); ``trusted`` holds host names and origins (``scheme://host[:port]``)."""
    if not origin:
        return True
    try:
        parts = urlsplit(origin)
        origin_host = _plain(parts.hostname or "")
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not origin_host:
        return False
    normalized = f"{parts.scheme}://{origin_host}" + ("" if port is None else f":{port}")
    allowed = {_plain(item) for item in trusted}
    return (
        origin_host == _plain(host)
        or is_loopback_name(origin_host.encode())
        or origin_host in allowed
        or normalized in allowed
    )


def _plain(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip("/")


def listed(text: str) -> list[str]:
    """``--web-origins``: comma-separated hosts or origins."""
    return [part.strip() for part in text.split(",") if part.strip()]
