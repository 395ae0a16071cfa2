"""The checked field types of control messages: each one says what a valid value is, once.

Strings are bounded, hold no NUL (PostgreSQL's text cannot) and names are matched whole
(``fullmatch``: "alice\\n" is not a user name); numbers must be finite, and integers of absurd size are refused rather than turned
into infinities.
"""

from __future__ import annotations

import enum
import math
import re
from typing import Annotated, Any, Callable

from common.errors import ErrorCode
from common.messages.schema import Check

USER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
USER_NAME_RULE = "user names are 1-32 letters, digits, '_', '.' or '-'"
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_PASSWORD = 256
MIN_PASSWORD = 8  # for new passwords; logins take whatever an account was made with
MAX_TEXT = 4096
MAX_CREDENTIAL = 2048


def text(max_length: int = MAX_TEXT, pattern: re.Pattern | None = None, rule: str = "") -> Callable[[Any], str]:
    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(rule or "must be text")
        if len(value) > max_length:
            raise ValueError(rule or f"must be at most {max_length} characters")
        if "\x00" in value:
            raise ValueError(rule or "must not contain a NUL character")
        if not value.isascii():
            _check_unicode(value)
        if pattern is not None and not pattern.fullmatch(value):
            raise ValueError(rule or "is not well formed")
        return value

    return validate


def _check_unicode(value: str) -> None:
    """JSON's escapes can carry lone surrogates ("\\udcff"), which no encoder (UTF-8 for a
    token, PostgreSQL for a message) takes: refuse them here, not deep in a handler."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text (a lone surrogate)") from None


def number(low: float = -math.inf, high: float = math.inf, rule: str = "") -> Callable[[Any], float]:
    """A finite JSON number within [low, high]."""

    def validate(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(rule or "must be a number")
        try:
            value = float(value)
        except OverflowError:
            raise ValueError(rule or "is out of range") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(rule or f"must be a finite number from {low:g} to {high:g}")
        return value

    return validate


def integer(low: int = 0, high: int = 2**53) -> Callable[[Any], int]:
    def validate(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value

    return validate


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def one_of(kind: type[enum.Enum]) -> Callable[[Any], enum.Enum]:
    def validate(value: Any) -> enum.Enum:
        try:
            return kind(value)
        except ValueError:
            raise ValueError("must be one of " + ", ".join(str(k.value) for k in kind)) from None

    return validate


def list_of(item: Callable[[Any], Any], max_items: int = 10_000) -> Callable[[Any], tuple]:
    def validate(value: Any) -> tuple:
        if not isinstance(value, list) or len(value) > max_items:
            raise ValueError(f"must be a list of at most {max_items} items")
        return tuple(item(v) for v in value)

    return validate


def nested(cls: type) -> Callable[[Any], Any]:
    """A record declared with ``@record``, given as a JSON object."""

    def validate(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"must be a {cls.__name__} object")
        return cls.from_fields(value)

    return validate


def records(cls: type, max_items: int = 100_000) -> Check:
    return Check(list_of(nested(cls), max_items))


UserName = Annotated[str, Check(text(32, USER_NAME, USER_NAME_RULE), ErrorCode.BAD_USER)]
Password = Annotated[
    str,
    Check(
        text(MAX_PASSWORD, re.compile(r".+", re.S), f"a password of 1-{MAX_PASSWORD} characters is required"),
        ErrorCode.BAD_PASSWORD,
    ),
]
NewPassword = Annotated[
    str,
    Check(
        text(
            MAX_PASSWORD,
            re.compile(f".{{{MIN_PASSWORD},}}", re.S),
            f"a password needs {MIN_PASSWORD}-{MAX_PASSWORD} characters",
        ),
        ErrorCode.BAD_PASSWORD,
    ),
]
SessionId = Annotated[
    str,
    Check(text(64, SESSION_ID, "a session id is 8-64 letters, digits, '_' or '-'"), ErrorCode.BAD_SESSION),
]
Token = Annotated[str, Check(text(MAX_CREDENTIAL), ErrorCode.BAD_TOKEN)]
Ticket = Annotated[str, Check(text(MAX_CREDENTIAL), ErrorCode.BAD_TICKET)]
Proof = Annotated[str, Check(text(MAX_CREDENTIAL), ErrorCode.NOT_OPERATOR)]
Name = Annotated[str, Check(text(128))]  # ids of nodes, link types, container ids
Address = Annotated[str, Check(text(300))]  # host:port
Text = Annotated[str, Check(text())]
Kbps = Annotated[
    float, Check(number(0.0, 1e9, "a rate in kbps must be a finite number from 0 to 10^9"), ErrorCode.BAD_SPEED)
]
Seconds = Annotated[float, Check(number(0.0, 1e6, "seconds must be a finite number from 0 to 10^6"))]
Time = Annotated[float, Check(number(0.0, 1e11))]  # epoch seconds
Count = Annotated[int, Check(integer())]
Flag = Annotated[bool, Check(boolean)]
