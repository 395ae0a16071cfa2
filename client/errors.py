"""Errors a user sees: each becomes one line on stderr and a non-zero exit."""

from __future__ import annotations


class FramecastError(Exception):
    """Something the user must be told about, in one clear line."""


class ServerError(FramecastError):
    """A server refused a request; ``code`` is its machine-readable reason."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class ConnectionLost(FramecastError):
    """The connection closed or could not be made."""
