"""The web fronts' HTTP server (masters and slaves): Twisted Web with the limits of a port
that serves GET to anyone, logged in or not.

* No request bodies: the fronts serve GET only, so a request that declares a body
  (``Content-Length`` above 0, or chunked) is answered 413 as soon as its headers end,
  before a byte of the body is read, and the connection is closed. Twisted would otherwise
  spool any body, of any declared size, to a temporary file.
* Headers have ``HEADERS_WITHIN`` seconds from the first byte of a request (the first
  request of a connection: from its start), however slowly they trickle in; then 408 and
  close. The deadline ends with the headers, so a WebSocket or an MJPEG stream, which
  follow them, last as long as they need.
* Methods other than GET and HEAD get 405. No refusal repeats anything of the request.
* Every response carries the security headers of ``common.web_headers``, and the access
  log leaves query strings (tokens, tickets) out (``common.access_log``).
"""

from __future__ import annotations

from twisted.web.http import HTTPChannel
from twisted.web.server import Request, Site

from common.access_log import access_line, without_query
from common.web_headers import security_headers

HEADERS_WITHIN = 10.0  # seconds from a request's first byte to the end of its headers
METHODS = (b"GET", b"HEAD")


class _Request(Request):
    def process(self) -> None:
        for name, value in security_headers(self.isSecure(), self.getRequestHostname()).items():
            self.setHeader(name, value)
        if self.method not in METHODS:
            self.setResponseCode(405)
            self.setHeader(b"Allow", b", ".join(METHODS))
            body = b"this server answers GET only\n"
            self.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            self.setHeader(b"Content-Length", b"%d" % len(body))
            self.write(body)
            self.finish()
            return
        super().process()

    def __repr__(self) -> str:
        """Twisted logs a request's repr in some warnings: without its query."""
        method, path = (part.decode("ascii", "replace") for part in (self.method, without_query(self.uri)))
        return f"<Request {method} {path}>"


class _Channel(HTTPChannel):
    """An HTTP connection with the header deadline, and without request bodies."""

    _headers_due = None
    _refused = False

    def connectionMade(self) -> None:
        super().connectionMade()
        self._expect_headers()

    def dataReceived(self, data: bytes) -> None:
        if self._headers_due is None and not self._handlingRequest and not self._refused:
            self._expect_headers()  # the first byte of the next request
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        self._headers_arrived()
        if self.length != 0:  # a declared length, or None (chunked)
            self._refuse(b"413 Content Too Large", b"this server takes no request bodies\n")
            return
        super().allHeadersReceived()

    def lineReceived(self, line: bytes) -> None:
        if not self._refused:
            super().lineReceived(line)

    def rawDataReceived(self, data: bytes) -> None:
        if not self._refused:  # the body of a refused request is never read
            super().rawDataReceived(data)

    def _respondToBadRequestAndDisconnect(self) -> None:
        """Twisted's answer to a malformed request, with the headers of every answer."""
        self._refuse(b"400 Bad Request", b"bad request\n")

    def connectionLost(self, reason) -> None:
        self._headers_arrived()
        super().connectionLost(reason)

    def _expect_headers(self) -> None:
        self._headers_due = self.callLater(HEADERS_WITHIN, self._headers_late)

    def _headers_arrived(self) -> None:
        if self._headers_due is not None and self._headers_due.active():
            self._headers_due.cancel()
        self._headers_due = None

    def _headers_late(self) -> None:
        self._headers_due = None
        self._refuse(b"408 Request Timeout", b"the request headers took longer than %d s\n" % HEADERS_WITHIN)

    def _refuse(self, status: bytes, text: bytes) -> None:
        """Answer ``status`` and close; a peer that does not read even that is cut later."""
        self._refused = True
        host = self.requests[-1].getRequestHostname() if self.requests else None
        headers = security_headers(self.isSecure(), host)
        headers.update({b"Content-Type": b"text/plain; charset=utf-8", b"Content-Length": b"%d" % len(text)})
        head = b"".join(b"%s: %s\r\n" % item for item in headers.items())
        self.transport.write(b"HTTP/1.1 " + status + b"\r\n" + head + b"Connection: close\r\n\r\n" + text)
        self.loseConnection()
        if self.abortTimeout is not None:
            self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)


class WebSite(Site):
    """``Site`` for a web front: ``WebSite(root)``, or ``WebSite(root, reactor=clock)``."""

    protocol = _Channel
    requestFactory = _Request

    def __init__(self, resource, **kwargs):
        super().__init__(resource, logFormatter=access_line, **kwargs)
