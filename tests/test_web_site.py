"""The web fronts' HTTP limits (common/web_site.py) on in-memory transports: no request
bodies, a deadline for request headers that long responses outlive, GET only, security
headers on every response, refusals that repeat nothing, and access logs without queries."""

from __future__ import annotations

import io

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from common.access_log import access_line
from common.web_headers import CONTENT_SECURITY_POLICY, security_headers
from common.web_site import HEADERS_WITHIN, WebSite

PEER = IPv4Address("TCP", "203.0.113.9", 5000)


@implementer(ISSLTransport)
class TLSTransport(StringTransport):
    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


class Page(Resource):
    isLeaf = True

    def render_GET(self, request):
        return b"page"


class Stream(Resource):
    """Answers and never finishes, as an MJPEG stream."""

    isLeaf = True

    def render_GET(self, request):
        request.write(b"--frame\r\n")
        return NOT_DONE_YET


def connect(secure: bool = False):
    root = Resource()
    root.putChild(b"page", Page())
    root.putChild(b"stream", Stream())
    clock = Clock()
    site = WebSite(root, reactor=clock)
    site.doStart()
    log = io.StringIO()
    site.logFile = log
    channel = site.buildProtocol(PEER)
    transport = (TLSTransport if secure else StringTransport)(peerAddress=PEER)
    channel.makeConnection(transport)
    return channel, transport, clock, log


def test_a_body_declared_before_login_is_refused_at_once_unread():
    channel, transport, _, _ = connect()
    channel.dataReceived(b"POST /page HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n")
    channel.dataReceived(b"x" * 100_000)  # the body's start: never read, never spooled
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assert transport.disconnecting
    assert channel.requests[-1].content is None  # no temporary file was opened


def test_a_chunked_body_is_refused_too_and_so_is_a_body_on_get():
    for headers in (b"Transfer-Encoding: chunked", b"Content-Length: 5"):
        channel, transport, _, _ = connect()
        channel.dataReceived(b"GET /page HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n\r\n")
        assert transport.value().startswith(b"HTTP/1.1 413 ") and transport.disconnecting


def test_headers_trickling_in_a_byte_at_a_time_are_cut_at_the_deadline():
    channel, transport, clock, _ = connect()
    request = b"GET /page HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    for byte in request[:20]:  # each byte resets Twisted's idle timeout, not the deadline
        channel.dataReceived(bytes([byte]))
        clock.advance(HEADERS_WITHIN / 20 - 0.01)
    assert not transport.disconnecting
    channel.dataReceived(b"a")
    clock.advance(0.5)
    assert transport.value().startswith(b"HTTP/1.1 408 ") and transport.disconnecting


def test_the_deadline_runs_from_the_first_byte_of_each_request():
    channel, transport, clock, _ = connect()
    channel.dataReceived(b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in transport.value()
    clock.advance(HEADERS_WITHIN * 3)  # idle between requests: Twisted's idle timeout governs
    assert not transport.disconnecting
    transport.clear()
    channel.dataReceived(b"GET /page HTTP/1.1\r\n")
    clock.advance(HEADERS_WITHIN)
    assert transport.value().startswith(b"HTTP/1.1 408 ")


def test_a_long_response_outlives_the_header_deadline():
    channel, transport, clock, _ = connect()
    channel.dataReceived(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(10):
        clock.advance(HEADERS_WITHIN)
    assert b"--frame" in transport.value() and not transport.disconnecting


def test_every_response_has_the_security_headers_and_hsts_only_over_https():
    for secure in (False, True):
        channel, transport, _, _ = connect(secure)
        channel.dataReceived(b"GET /nothing-here HTTP/1.1\r\nHost: cam.example:8100\r\n\r\n")
        head = transport.value().split(b"\r\n\r\n")[0]
        assert b"404" in head.split(b"\r\n")[0]
        assert b"X-Content-Type-Options: nosniff" in head and b"X-Frame-Options: DENY" in head
        assert b"Content-Security-Policy: " + CONTENT_SECURITY_POLICY.encode() in head
        assert (b"Strict-Transport-Security: max-age=" in head) == secure


def test_no_hsts_for_loopback_names_which_would_bind_every_local_port():
    assert b"Strict-Transport-Security" in security_headers(True, b"cam.example")
    for host in (b"localhost", b"127.0.0.1", b"[::1]", b"app.localhost"):
        assert b"Strict-Transport-Security" not in security_headers(True, host)


def test_the_csp_lets_the_page_work_and_nothing_frame_it():
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["script-src"] == "'self'"  # same-origin ES modules, nothing inline
    assert {"ws:", "wss:"} <= set(policy["connect-src"].split())  # masters and slaves
    assert {"blob:", "data:", "https:"} <= set(policy["img-src"].split())  # slaves' snapshots
    assert policy["frame-ancestors"] == "'none'"


def test_other_methods_are_refused_without_repeating_the_request():
    channel, transport, _, _ = connect()
    channel.dataReceived(b"DELETE /<script>alert(1)</script>?x=<b> HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 405 ") and b"<script>" not in answer and b"<b>" not in answer
    assert b"X-Content-Type-Options: nosniff" in answer


def test_the_access_log_leaves_tokens_and_tickets_out():
    channel, transport, _, log = connect()
    channel.dataReceived(
        b"GET /page?ticket=SECRET-TICKET HTTP/1.1\r\nHost: x\r\nReferer: http://x/watch?token=SECRET-TOKEN\r\n\r\n"
    )
    line = log.getvalue()
    assert '"GET /page HTTP/1.1" 200' in line and "SECRET" not in line
    channel.dataReceived(b"GET /stream?ticket=SECRET-TICKET HTTP/1.1\r\nHost: x\r\n\r\n")
    assert "/stream" in repr(channel.requests[0]) and "SECRET" not in repr(channel.requests[0])  # warnings print it


def test_the_access_line_is_the_combined_format_without_the_query():
    class Request:
        method, uri, clientproto, code, sentLength = b"GET", b"/watch/a.mjpg?ticket=T", b"HTTP/1.1", 302, 0

        def getClientAddress(self):
            return PEER

        def getHeader(self, name):
            return None

    line = access_line("[time]", Request())
    assert line.startswith('"203.0.113.9" - - [time] "GET /watch/a.mjpg HTTP/1.1" 302')


def test_a_malformed_request_gets_the_headers_too():
    channel, transport, _, _ = connect()
    channel.dataReceived(b"GET /page HTTP/1.1\r\nno colon here\r\n\r\n")
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 400 ") and b"X-Content-Type-Options: nosniff" in answer
    assert transport.disconnecting


def test_a_player_address_takes_only_a_user_name_so_refusals_repeat_no_markup():
    from twisted.web.test.requesthelper import DummyRequest

    from master.ports.web_front import PlayerRedirect

    request = DummyRequest([b"<img src=x onerror=alert(1)>.mjpg"])
    body = PlayerRedirect(None, Clock(), "watch", ".mjpg").render_GET(request)
    assert request.responseCode == 404 and body == b"use /watch/USER.mjpg\n"
