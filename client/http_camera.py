"""HTTP cameras through requests: MJPEG streams and JPEG snapshot URLs.

What the camera answers decides the kind (unless ``--source-kind`` says): a
``multipart/x-mixed-replace`` body is an MJPEG stream, parsed here so each JPEG is kept
byte for byte; an ``image/jpeg`` body is a snapshot URL, fetched again at the broadcast's
frame rate; anything else is left to FFmpeg. Basic auth comes from the URL; a camera that
asks for digest auth gets it.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

import requests
import urllib3
from requests.auth import HTTPDigestAuth

from client.frames import Captured
from client.multipart import MultipartParser, boundary_of
from client.source_errors import SourceError, SourceLost
from client.source_urls import SourceUrl

CONNECT_TIMEOUT = 5.0
READ_SIZE = 65536
FAILURES = (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError)


class HttpCamera:
    def __init__(self, source: SourceUrl, stall: float, stopping: threading.Event):
        self.source = source
        self.stall = stall
        self.stopping = stopping
        self.session = requests.Session()
        self.auth = None

    def get(self) -> requests.Response:
        """The camera's streamed answer; SourceError when it refuses or cannot be reached."""
        try:
            response = self._get()
            if response.status_code == 401 and "digest" in response.headers.get("WWW-Authenticate", "").lower():
                response.close()
                self.auth = HTTPDigestAuth(self.source.user or "", self.source.password or "")
                response = self._get()
        except requests.RequestException as exc:
            raise SourceError(f"cannot reach the camera at {self.source.shown}: {self._why(exc)}") from None
        if response.status_code == 401:
            response.close()
            hint = "refused the credentials" if self.source.user else "needs credentials (--source-user/--source-password)"
            raise SourceError(f"the camera at {self.source.shown} {hint} (HTTP 401)")
        if response.status_code != 200:
            response.close()
            raise SourceError(f"the camera at {self.source.shown} answered HTTP {response.status_code} {response.reason}")
        return response

    def _get(self) -> requests.Response:
        url = self.source.without_credentials if self.auth else self.source.url
        return self.session.get(url, auth=self.auth, stream=True, timeout=(CONNECT_TIMEOUT, self.stall))

    def _why(self, exc: Exception) -> str:
        cause = exc
        while cause.__context__ is not None and not isinstance(cause, ConnectionRefusedError):
            cause = cause.__context__
        text = "connection refused" if isinstance(cause, ConnectionRefusedError) else str(exc)
        return self.source.redact(text)

    def stream(self, response: requests.Response) -> Iterator[Captured]:
        """The JPEG parts of an MJPEG stream as they come. A camera that sends bytes but no
        whole image for ``stall`` seconds has stalled as surely as a silent one."""
        try:
            parser = MultipartParser(boundary_of(response.headers.get("Content-Type", "")))
            last_image = time.monotonic()
            with response:
                while chunk := response.raw.read1(READ_SIZE):
                    for body in parser.feed(chunk):
                        last_image = time.monotonic()
                        yield Captured.of_jpeg(body)
                    if time.monotonic() - last_image > self.stall:
                        raise SourceLost(f"no image for {self.stall:g} s")
        except FAILURES as exc:
            raise SourceLost(self._lost(exc)) from None
        raise SourceLost("the camera ended its stream")

    def snapshots(self, first: requests.Response, interval: float) -> Iterator[Captured]:
        """The snapshot URL's image, fetched every ``interval`` seconds."""
        response, due = first, time.monotonic()
        while True:
            try:
                with response:
                    yield Captured.of_jpeg(response.content)
            except FAILURES as exc:
                raise SourceLost(self._lost(exc)) from None
            due = max(due + interval, time.monotonic())
            if self.stopping.wait(due - time.monotonic()):
                return
            try:
                response = self.get()
            except SourceError as exc:
                raise SourceLost(str(exc)) from None

    def _lost(self, exc: Exception) -> str:
        if isinstance(exc, (requests.Timeout, urllib3.exceptions.ReadTimeoutError, TimeoutError)):
            return f"no data for {self.stall:g} s"
        return self.source.redact(str(exc) or type(exc).__name__)
