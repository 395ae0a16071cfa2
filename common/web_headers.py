"""The security headers every response of a web front carries (masters and slaves alike).

The page (``master/static``) loads only same-origin ES modules and its style sheet, opens
WebSockets to masters and slaves (other ports, maybe other hosts: ``ws:``/``wss:``), and
draws images it decodes from ``blob:``/``data:`` URLs or a slave's ``/snapshot`` address (any
slave). Nothing may frame a framecast page, and no page leaks a ticket in a Referer.
HSTS goes only on HTTPS responses, and not for loopback host names: it would bind every
other port of ``localhost`` to HTTPS in that browser.
"""

from __future__ import annotations

import ipaddress

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data: http: https:",
        "connect-src 'self' ws: wss:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
ALWAYS = {
    b"X-Content-Type-Options": b"nosniff",
    b"X-Frame-Options": b"DENY",
    b"Content-Security-Policy": CONTENT_SECURITY_POLICY.encode(),
    b"Referrer-Policy": b"no-referrer",
}
HSTS = (b"Strict-Transport-Security", b"max-age=31536000")


def security_headers(secure: bool, host: bytes | None) -> dict[bytes, bytes]:
    """The headers for a response over HTTPS (``secure``) or not, to a request for ``host``
    (its Host header, without the port)."""
    headers = dict(ALWAYS)
    if secure and not is_loopback_name(host or b""):
        headers[HSTS[0]] = HSTS[1]
    return headers


def is_loopback_name(host: bytes) -> bool:
    name = host.decode("ascii", "replace").strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
