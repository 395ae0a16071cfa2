"""The slave's HTTP port (feature O5): browsers and standard players.

* ``/ws``: the framecast protocol over WebSocket (``common.websocket``): a page broadcasts
  from its webcam, or watches, with the same messages and flow control as the CLI.
* ``/watch/USER.mjpg`` and ``/snapshot/USER.jpg``: MJPEG and the newest image
  (``slave.http_viewers``), opened with a ticket from a master's redirect.
"""

from __future__ import annotations

from twisted.web.resource import Resource
from twisted.web.server import Site

from common.protocol import DEFAULT_MAX_BODY
from common.websocket import websocket_resource
from slave.client_port import SlaveClientFactory
from slave.http_viewers import SnapshotResource, WatchResource
from slave.node import Slave


def web_site(slave: Slave) -> Site:
    root = Resource()
    root.putChild(b"ws", websocket_resource(SlaveClientFactory(slave), DEFAULT_MAX_BODY))
    root.putChild(b"watch", WatchResource(slave))
    root.putChild(b"snapshot", SnapshotResource(slave))
    return Site(root)
