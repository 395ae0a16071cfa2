"""A user's stored settings (U8; seed [0102], [0113]-[0114], FIG. 13B): their keys, their
values, and their defaults, checked in one place for the command line and the masters.

* ``quality`` 0-10: image quality;
* ``size`` WxH: image size;
* ``rate`` ``faster`` (15 frames a second) or ``better`` (5 frames a second, for better
  images on the same link): "faster refresh" versus "better quality";
* ``access`` ``everyone``, ``friends``, ``list``, ``ask`` or ``room:#ROOM``: who may watch;
* ``turbo`` ``always``, ``ask`` or ``never``: peer-to-peer images with a single viewer.
"""

from __future__ import annotations

import enum
import re
from typing import Any

ROOM_NAME = re.compile(r"#[A-Za-z0-9_.-]{1,32}")


class Pref(enum.StrEnum):
    QUALITY = "quality"
    SIZE = "size"
    RATE = "rate"
    ACCESS = "access"
    TURBO = "turbo"


class Rate(enum.StrEnum):
    FASTER = "faster"
    BETTER = "better"


class Turbo(enum.StrEnum):
    ALWAYS = "always"
    ASK = "ask"
    NEVER = "never"


class AccessKind(enum.StrEnum):
    EVERYONE = "everyone"
    FRIENDS = "friends"
    LIST = "list"
    ASK = "ask"
    ROOM = "room"


def _one_of(kind: type[enum.Enum], text: str) -> bool:
    return text in {member.value for member in kind}


FPS_OF_RATE = {Rate.FASTER: 15.0, Rate.BETTER: 5.0}

DEFAULTS: dict[Pref, Any] = {
    Pref.QUALITY: 7,
    Pref.SIZE: "640x480",
    Pref.RATE: Rate.FASTER.value,
    Pref.ACCESS: AccessKind.EVERYONE.value,
    Pref.TURBO: Turbo.ASK.value,
}


def parse_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and 1 <= int(width) <= 8192 and 1 <= int(height) <= 8192):
        raise ValueError("size is WxH, e.g. 640x480 (at most 8192x8192)")
    return int(width), int(height)


def access_rule(text: str) -> tuple[AccessKind, str | None]:
    """``everyone`` etc., or ``room:#ROOM``: the kind of rule and the room it names."""
    kind, sep, room = text.partition(":")
    if sep:
        if kind != AccessKind.ROOM or not ROOM_NAME.fullmatch(room):
            raise ValueError("access is everyone, friends, list, ask or room:#ROOM")
        return AccessKind.ROOM, room
    if not _one_of(AccessKind, kind) or kind == AccessKind.ROOM:
        raise ValueError("access is everyone, friends, list, ask or room:#ROOM")
    return AccessKind(kind), None


def parse_value(key: str, text: Any) -> Any:
    """The stored form of ``key = text``; ValueError with a line for the user if invalid."""
    if not _one_of(Pref, key):
        raise ValueError(f"unknown setting {key!r}; the settings are " + ", ".join(Pref))
    text = str(text).strip()
    if key == Pref.QUALITY:
        if not text.isdigit() or not 0 <= int(text) <= 10:
            raise ValueError("quality is a whole number from 0 to 10")
        return int(text)
    if key == Pref.SIZE:
        width, height = parse_size(text)
        return f"{width}x{height}"
    if key == Pref.RATE:
        if not _one_of(Rate, text):
            raise ValueError("rate is faster (more frames) or better (better images)")
        return text
    if key == Pref.ACCESS:
        access_rule(text)
        return text
    if not _one_of(Turbo, text):
        raise ValueError("turbo is always, ask or never")
    return text


def with_defaults(stored: dict[str, Any]) -> dict[str, Any]:
    """Every setting: the stored value where there is one (and it is still valid), else
    the default."""
    values = {}
    for key, default in DEFAULTS.items():
        try:
            values[key.value] = parse_value(key, stored[key]) if key in stored else default
        except ValueError:
            values[key.value] = default
    return values
