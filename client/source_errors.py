"""How a camera URL fails: at the start (the broadcast does not begin) or later (reopened)."""

from __future__ import annotations

from client.errors import FramecastError


class SourceError(FramecastError):
    """The camera cannot be used: a bad URL, refused credentials, no decodable video."""


class SourceLost(Exception):
    """The camera dropped or stalled; a broadcast under way reopens it."""
