"""Flood limits as data: what is counted (``Flood``), at which rate and burst, and how many
viewer sessions one user may hold open. ``services/floods.py`` counts against them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from common.errors import ErrorCode, RequestError


class Flood(enum.StrEnum):
    LOGIN_ADDRESS = "login-address"
    FAILED_LOGIN_PAIR = "failed-login-pair"  # one address, one user
    FAILED_LOGIN_ADDRESS = "failed-login-address"  # one address, any user
    FAILED_LOGIN_USER = "failed-login-user"  # one user, any address: slows, never refuses
    REGISTER_ADDRESS = "register-address"
    VIEW_USER = "view-user"
    STATUS_USER = "status-user"
    LIVE_USER = "live-user"
    INVITE_USER = "invite-user"
    THROW_USER = "throw-user"
    DECLINE_USER = "decline-user"
    ROOM_CREATE = "room-create"
    ROOM_ASK = "room-ask"
    UNKNOWN_NAME = "unknown-name"


@dataclass(frozen=True)
class Limit:
    rate: float  # a second, on average
    burst: int
    what: str  # for the refusal: "too many {what}"


LIMITS = {
    Flood.LOGIN_ADDRESS: Limit(5.0, 60, "logins from your address"),
    Flood.FAILED_LOGIN_PAIR: Limit(0.1, 10, "failed logins as this user from your address"),
    Flood.FAILED_LOGIN_ADDRESS: Limit(0.5, 30, "failed logins from your address"),
    Flood.FAILED_LOGIN_USER: Limit(0.5, 20, "failed logins as this user"),
    Flood.REGISTER_ADDRESS: Limit(2.0, 60, "registrations from your address"),
    Flood.VIEW_USER: Limit(2.0, 30, "requests to watch"),
    Flood.STATUS_USER: Limit(2.0, 20, "status requests"),
    Flood.LIVE_USER: Limit(2.0, 20, "live lists"),
    Flood.INVITE_USER: Limit(0.5, 20, "invitations"),
    Flood.THROW_USER: Limit(1.0, 20, "throws and removals"),
    Flood.DECLINE_USER: Limit(1.0, 20, "declines"),
    Flood.ROOM_CREATE: Limit(1 / 60, 10, "new rooms"),
    Flood.ROOM_ASK: Limit(0.2, 10, "requests to join rooms"),
    Flood.UNKNOWN_NAME: Limit(1 / 30, 20, "names of users who do not exist"),
}
MAX_VIEWER_SESSIONS = 20  # one user's open viewer sessions, on all slaves


def check_viewer_sessions(open_sessions: int) -> None:
    if open_sessions >= MAX_VIEWER_SESSIONS:
        raise RequestError(
            ErrorCode.TOO_MANY_SESSIONS,
            f"you have {open_sessions} viewer sessions open (at most {MAX_VIEWER_SESSIONS})",
        )
