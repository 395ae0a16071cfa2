"""Keeping the login token between commands, in ``$FRAMECAST_HOME/credentials.json``
(default ``~/.framecast``), readable only by the user."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from client.errors import FramecastError
from common.private_files import write_private
from common.messages.accounts import LoginToken


@dataclass(frozen=True)
class SavedLogin:
    user: str
    token: str
    expires_at: float
    server: str = ""


def home() -> Path:
    return Path(os.environ.get("FRAMECAST_HOME") or Path.home() / ".framecast")


def local_ca_folder() -> Path:
    """Where ``framecast up`` keeps this OS user's local CA, which clients trust by default.

    In the real home, not ``FRAMECAST_HOME``: that one says which framecast user a command
    runs as (two users on one machine each have their own), the CA which servers this
    machine's user trusts."""
    return Path.home() / ".framecast" / "tls"


def _write_private(name: str, text: str) -> Path:
    """Write a file in the framecast home that only this user can read (the home, and
    any folder made on the way to it, 0700)."""
    return write_private(home() / name, text.encode())


def save(login: LoginToken, server: str) -> None:
    saved = SavedLogin(login.user, login.token, login.expires_at, server)
    _write_private("credentials.json", json.dumps(asdict(saved)))


def save_cluster_secret(secret: str) -> Path:
    """Where ``framecast up`` leaves its cluster's secret for this user's operator commands."""
    return _write_private("cluster-secret", secret)


def secret_in_environment() -> bool:
    """An operator's environment names the cluster secret."""
    return bool(os.environ.get("FRAMECAST_SECRET") or os.environ.get("FRAMECAST_SECRET_FILE"))


def cluster_secret() -> str:
    """The cluster secret for operator commands: FRAMECAST_SECRET, the file named by
    FRAMECAST_SECRET_FILE, or the one ``framecast up`` saved."""
    if os.environ.get("FRAMECAST_SECRET"):
        return os.environ["FRAMECAST_SECRET"]
    path = Path(os.environ.get("FRAMECAST_SECRET_FILE") or home() / "cluster-secret")
    try:
        return path.read_text().strip()
    except OSError:
        raise FramecastError(
            "operator commands need the cluster secret: set FRAMECAST_SECRET or FRAMECAST_SECRET_FILE"
        ) from None


def forget() -> bool:
    """Remove the saved login; False if there was none."""
    try:
        (home() / "credentials.json").unlink()
    except FileNotFoundError:
        return False
    return True


def load() -> SavedLogin:
    path = home() / "credentials.json"
    try:
        login = SavedLogin(**json.loads(path.read_text()))
    except FileNotFoundError:
        raise FramecastError("not logged in: run 'framecast login USER' first") from None
    except (OSError, ValueError, TypeError) as exc:
        raise FramecastError(f"cannot read {path}: {exc}; run 'framecast login USER' again") from None
    if login.expires_at < time.time():
        raise FramecastError(f"the login of {login.user} has expired: run 'framecast login USER' again")
    return login
