"""Why a request was refused: the error codes every role sends and matches, and the two
exceptions that carry them; and why a server would not start (``ConfigError``).

An ERROR message carries a code from ``ErrorCode`` (for programs) and a message (for people).
``RequestError`` refuses one request and keeps the connection; ``ProtocolError`` means the
peer broke the protocol: it is answered once and the connection is closed.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    # protocol violations (the connection is closed)
    BAD_MAGIC = "bad_magic"
    BAD_VERSION = "bad_version"
    TOO_LARGE = "too_large"
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    BAD_ACK = "bad_ack"
    BAD_HELLO = "bad_hello"
    BAD_PROOF = "bad_proof"
    HELLO_FIRST = "hello_first"
    TLS_REQUIRED = "tls_required"  # a plain connection to a TLS port that is not a data connection
    # malformed requests
    BAD_REQUEST = "bad_request"
    BAD_USER = "bad_user"
    BAD_PASSWORD = "bad_password"
    BAD_SESSION = "bad_session"
    BAD_SPEED = "bad_speed"
    BAD_LINK = "bad_link"
    BAD_COMMAND = "bad_command"
    # credentials
    BAD_TOKEN = "bad_token"
    BAD_TICKET = "bad_ticket"
    NOT_OPERATOR = "not_operator"
    WRONG_PASSWORD = "wrong_password"
    UNKNOWN_USER = "unknown_user"
    USER_EXISTS = "user_exists"
    # placement and sessions
    ALREADY_BROADCASTING = "already_broadcasting"
    ALREADY_STARTED = "already_started"
    NOT_BROADCASTING = "not_broadcasting"
    NOT_HERE = "not_here"
    WRONG_SLAVE = "wrong_slave"
    DRAINING = "draining"
    NO_SLAVE = "no_slave"
    UNKNOWN_SLAVE = "unknown_slave"
    DEAD_SLAVE = "dead_slave"
    STALLED = "stalled"
    # who may watch whom
    ACCESS_REFUSED = "access_refused"
    DECLINED = "declined"
    REQUEST_EXPIRED = "request_expired"
    NO_REQUEST = "no_request"
    NO_INVITATION = "no_invitation"
    NOT_WATCHING = "not_watching"
    REMOVED = "removed"
    BAD_PREF = "bad_pref"
    # messages
    MESSAGE_TOO_LONG = "message_too_long"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_SESSIONS = "too_many_sessions"
    NOT_A_MEMBER = "not_a_member"
    UNKNOWN_ROOM = "unknown_room"
    BAD_RECIPIENT = "bad_recipient"
    # the service itself
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    TIMEOUT = "timeout"


class ProtocolError(Exception):
    """The peer broke the protocol; the connection must be answered and closed."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class RequestError(Exception):
    """A request was refused; the client is told why and the connection stays open."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""
