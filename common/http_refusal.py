"""Refusals over HTTP (the web fronts of masters and slaves): one line of text and the HTTP
status that says the same as the error code."""

from __future__ import annotations

from common.errors import ErrorCode, RequestError

HTTP_STATUS = {
    ErrorCode.BAD_TOKEN: 401,
    ErrorCode.WRONG_PASSWORD: 401,
    ErrorCode.UNKNOWN_USER: 401,
    ErrorCode.BAD_TICKET: 403,
    ErrorCode.WRONG_SLAVE: 403,
    ErrorCode.ACCESS_REFUSED: 403,
    ErrorCode.DECLINED: 403,
    ErrorCode.REMOVED: 403,
    ErrorCode.REQUEST_EXPIRED: 403,
    ErrorCode.NOT_BROADCASTING: 404,
    ErrorCode.NOT_HERE: 404,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.TOO_MANY_SESSIONS: 429,
    ErrorCode.NO_SLAVE: 503,
    ErrorCode.DRAINING: 503,
    ErrorCode.UNAVAILABLE: 503,
}


def refusal(request, error: RequestError) -> bytes:
    """Set ``request``'s status and headers for ``error``; the body to send."""
    status = HTTP_STATUS.get(error.code, 400)
    request.setResponseCode(status)
    if status == 401:
        request.setHeader(b"WWW-Authenticate", b'Basic realm="framecast"')
    return plain(request, error.message)


def plain(request, text: str) -> bytes:
    request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
    return (text + "\n").encode()
