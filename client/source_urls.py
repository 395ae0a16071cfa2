"""Camera URLs: which sources are URLs, adding credentials, and keeping them out of text.

Credentials reach the URL from the URL itself or from ``--source-user``/``--source-password``;
every message that could show the URL (ours, FFmpeg's, requests') goes through ``redact``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "srt", "http", "https")
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")
QUERY_SECRETS = re.compile(r"(?i)([?&](?:passphrase|password|passwd|pwd|pass|token|auth|key)=)[^&\s]*")
HIDDEN = "***"


def is_url(spec: str) -> bool:
    return spec.partition("://")[0].lower() in SCHEMES and "://" in spec


@dataclass(frozen=True)
class SourceUrl:
    """A camera URL with its credentials (``url``) and what may be shown of it (``shown``)."""

    url: str
    user: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, spec: str, user: str | None = None, password: str | None = None) -> "SourceUrl":
        """``spec`` with ``user``/``password`` put in, replacing any the URL has."""
        parts = urlsplit(spec)
        if not parts.hostname:
            raise ValueError("a camera URL needs a host, e.g. rtsp://camera.local/stream")
        url_user = unquote(parts.username) if parts.username is not None else None
        url_password = unquote(parts.password) if parts.password is not None else None
        user = user if user is not None else url_user
        password = password if password is not None else url_password
        host = parts.netloc.rpartition("@")[2]
        if user is not None:
            login = quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "")
            host = f"{login}@{host}"
        return cls(urlunsplit(parts._replace(netloc=host)), user, password)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def without_credentials(self) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))

    @property
    def shown(self) -> str:
        return self.redact(self.url)

    def redact(self, text: str) -> str:
        """``text`` with this URL's password wherever it appears, and any URL's user info, hidden."""
        if self.password:
            for secret in sorted({self.password, quote(self.password, safe="")}, key=len, reverse=True):
                text = text.replace(secret, HIDDEN)
        return redact(text)


def redact(text: str) -> str:
    """Hide the ``user:password@`` of every URL in ``text``, and password-like query values."""
    return QUERY_SECRETS.sub(rf"\g<1>{HIDDEN}", USERINFO.sub(rf"\g<1>{HIDDEN}@", text))
