"""Access log lines without query strings: ``?token=`` and ``?ticket=`` are credentials."""

from __future__ import annotations

from twisted.web.http import combinedLogFormatter
from twisted.web.iweb import IAccessLogFormatter
from zope.interface import provider


def without_query(uri: bytes) -> bytes:
    return uri.split(b"?", 1)[0]


class _Unqueried:
    """What the combined log format reads of a request, its URI and Referer cut at ``?``."""

    def __init__(self, request):
        self._request = request
        self.uri = without_query(request.uri)

    def getHeader(self, name: bytes):
        value = self._request.getHeader(name)
        return without_query(value) if value is not None and name.lower() == b"referer" else value

    def __getattr__(self, name: str):
        return getattr(self._request, name)


@provider(IAccessLogFormatter)
def access_line(timestamp: str, request) -> str:
    """The combined log format (Twisted's) of ``request``, query strings left out."""
    return combinedLogFormatter(timestamp, _Unqueried(request))
