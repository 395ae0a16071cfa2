"""The master's web front (feature O5): the browser page, its WebSocket, and the addresses
standard players use.

* ``/`` serves the page (``master/static``): plain HTML and JavaScript, no build step;
  ``/protocol.js`` gives it the protocol's numbers from ``common/protocol.py``.
* ``/ws`` carries the framecast protocol to the page (``common.websocket``): the page logs
  in, attaches, chats and decides with the very messages the CLI sends.
* ``/watch/USER.mjpg`` and ``/snapshot/USER.jpg`` take HTTP basic auth or ``?token=`` (a
  player token or a login token), ask to watch USER as the CLI does (waiting while the broadcaster decides),
  and redirect to the broadcaster's slave, which serves the images with a one-use ticket.
  The images never pass through a master.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import Data, File

from common.errors import ErrorCode, RequestError
from common.messages.fields import USER_NAME
from common.http_refusal import plain, refusal
from common.messages.accounts import Redirect, ViewRequest
from common.protocol_javascript import protocol_module
from common.web_site import WebSite
from common.websocket import websocket_resource
from master.ports.client_port import ClientServices, MasterClientFactory

STATIC = Path(__file__).parents[1] / "static"  # master/static
ASK_AGAIN = 1.0  # seconds between asks while the broadcaster decides


class PlayerRedirect(Resource):
    """``/watch/USER.mjpg`` or ``/snapshot/USER.jpg``: who asks, may they, and where to go."""

    isLeaf = True
    log = Logger()

    def __init__(self, services: ClientServices, clock: IReactorTime, kind: str, suffix: str):
        super().__init__()
        self.services, self.clock, self.kind, self.suffix = services, clock, kind, suffix

    def render_GET(self, request):
        name = b"/".join(request.postpath).decode("utf-8", "replace")
        target = name[: -len(self.suffix)] if name.endswith(self.suffix) else ""
        if not USER_NAME.fullmatch(target):  # so that no refusal repeats more than a user name
            request.setResponseCode(404)
            return plain(request, f"use /{self.kind}/USER{self.suffix}")
        ensureDeferred(self._redirect(request, target)).addErrback(self._failed, request)
        return NOT_DONE_YET

    async def _redirect(self, request, target: str) -> None:
        token = await self._token(request)
        claims = await self.services.accounts.player(token)
        finished = []
        request.notifyFinish().addBoth(finished.append)
        admission = self.services.admission
        relay = self.kind == "watch"  # a snapshot goes to the broadcast's own slave
        answer = await admission.view(claims, ViewRequest(token, target), relay)
        while not isinstance(answer, Redirect):  # the broadcaster decides (U4): ask again until then
            await deferLater(self.clock, ASK_AGAIN, lambda: None)
            if finished:
                return
            answer = await admission.view(claims, ViewRequest(token, target), relay)
        if finished:
            return
        if not answer.web:
            raise RequestError(ErrorCode.UNAVAILABLE, f"{target}'s slave serves no web port")
        request.setResponseCode(302)
        scheme = "https" if request.isSecure() else "http"  # slaves serve TLS where masters do
        location = f"{scheme}://{answer.web}/{self.kind}/{quote(target)}{self.suffix}?ticket={quote(answer.ticket)}"
        request.setHeader(b"Location", location.encode())
        request.setHeader(b"Cache-Control", b"no-store")
        request.finish()

    async def _token(self, request) -> str:
        token = request.args.get(b"token", [b""])[0].decode("utf-8", "replace")
        if token:
            return token
        user, password = request.getUser().decode("utf-8", "replace"), request.getPassword()
        if not user:
            raise RequestError(ErrorCode.BAD_TOKEN, "log in: HTTP basic auth (user:password) or ?token=")
        address = getattr(request.getClientAddress(), "host", "")
        login = await self.services.floods.login(address, user, password.decode("utf-8", "replace"))
        return login.token

    def _failed(self, failure, request) -> None:
        if request.finished or request._disconnected:
            return
        if failure.check(RequestError):
            request.write(refusal(request, failure.value))
        else:
            self.log.failure("web request failed", failure)
            request.setResponseCode(500)
            request.write(plain(request, "internal server error"))
        request.finish()


def web_site(services: ClientServices, reactor: IReactorTime, trusted_origins: Iterable[str] = ()) -> WebSite:
    """``trusted_origins``: pages besides this host's and loopback's that may open ``/ws``."""
    root = File(str(STATIC))
    root.putChild(b"protocol.js", Data(protocol_module(), "text/javascript"))
    root.putChild(b"ws", websocket_resource(MasterClientFactory(services, reactor), trusted_origins))
    root.putChild(b"watch", PlayerRedirect(services, reactor, "watch", ".mjpg"))
    root.putChild(b"snapshot", PlayerRedirect(services, reactor, "snapshot", ".jpg"))
    return WebSite(root, reactor=reactor)
