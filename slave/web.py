"""The slave's HTTP port (feature O5): browsers and standard players.

* ``/ws``: the framecast protocol over WebSocket (``common.websocket``): a page broadcasts
  from its webcam, or watches, with the same messages and flow control as the CLI.
* ``/watch/USER.mjpg`` and ``/snapshot/USER.jpg``: MJPEG and the newest image
  (``slave.http_viewers``), opened with a ticket from a master's redirect.
"""

from __future__ import annotations

from collections.abc import Iterable

from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import Resource

from common.web_site import WebSite
from common.websocket import websocket_resource
from slave.client_port import ClientServices, SlaveClientFactory
from slave.http_viewers import SnapshotResource, WatchResource


def web_site(services: ClientServices, clock: IReactorTime, trusted_origins: Iterable[str] = ()) -> WebSite:
    """``trusted_origins``: pages besides this host's and loopback's that may open ``/ws``
    (the masters' pages: their hosts, and their public web addresses)."""
    root = Resource()
    root.putChild(b"ws", websocket_resource(SlaveClientFactory(services, clock), trusted_origins))
    root.putChild(b"watch", WatchResource(services))
    root.putChild(b"snapshot", SnapshotResource(services))
    return WebSite(root)
