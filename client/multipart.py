"""An incremental parser of ``multipart/x-mixed-replace`` bodies (MJPEG over HTTP).

Fed the bytes as they arrive, it returns each part's body exactly as sent, so the JPEG of an
MJPEG camera can be forwarded byte for byte. Cameras differ: some give every part a
``Content-Length``, some do not (the body then ends at the next boundary); some declare the
boundary with its leading ``--``; some put a blank line before the first boundary.
"""

from __future__ import annotations

MAX_PART = 16 * 1024 * 1024
MAX_HEADERS = 8192


def boundary_of(content_type: str) -> bytes:
    """The boundary named in a Content-Type header; ValueError without one."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').encode()
    raise ValueError("a multipart stream without a boundary")


class MultipartParser:
    def __init__(self, boundary: bytes, max_part: int = MAX_PART):
        self.delimiter = boundary if boundary.startswith(b"--") else b"--" + boundary
        self.max_part = max_part
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The bodies of the parts completed by ``data``; ValueError on a malformed stream."""
        self.buffer += data
        parts = []
        while (part := self._next_part()) is not None:
            parts.append(part)
        if len(self.buffer) > self.max_part + MAX_HEADERS:
            raise ValueError(f"a multipart part over {self.max_part} bytes")
        return parts

    def _next_part(self) -> bytes | None:
        start = self.buffer.find(self.delimiter)
        if start < 0:
            return None
        header_end = self.buffer.find(b"\r\n\r\n", start)
        if header_end < 0:
            if len(self.buffer) - start > MAX_HEADERS:
                raise ValueError("multipart headers too long")
            return None
        headers = self._headers(bytes(self.buffer[start:header_end]))
        body_start = header_end + 4
        if "content-length" in headers:
            body_end = body_start + self._length(headers["content-length"])
            if len(self.buffer) < body_end:
                return None
            rest = body_end
        else:
            body_end = self.buffer.find(self.delimiter, body_start)
            if body_end < 0:
                return None
            rest = body_end
            body_end = self._trim(body_start, body_end)
        body = bytes(self.buffer[body_start:body_end])
        del self.buffer[:rest]
        return body

    def _trim(self, start: int, end: int) -> int:
        """Where a body without a length ends: before the CRLF that precedes the boundary."""
        if self.buffer[start:end].endswith(b"\r\n"):
            return end - 2
        return end - 1 if self.buffer[start:end].endswith(b"\n") else end

    @staticmethod
    def _headers(block: bytes) -> dict[str, str]:
        lines = block.decode("latin-1").splitlines()[1:]  # the first is the boundary line
        pairs = (line.partition(":") for line in lines if ":" in line)
        return {name.strip().lower(): value.strip() for name, _, value in pairs}

    def _length(self, text: str) -> int:
        if not text.isdigit() or int(text) > self.max_part:
            raise ValueError(f"a bad multipart Content-Length: {text[:20]!r}")
        return int(text)
