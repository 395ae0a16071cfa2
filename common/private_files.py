"""Folders and files only their owner may read: the framecast home (the login token, the
cluster secret) and the local CA's key.

``Path.mkdir(parents=True, mode=...)`` gives the mode to the last folder only; the parents
it makes get the default (0755 under the usual umask), so ``~/.framecast`` would be
readable by everyone when made on the way to ``~/.framecast/tls``. Here every folder
made is 0700, and a private file is 0600 from the moment it exists.
"""

from __future__ import annotations

import os
from pathlib import Path


def private_folder(path: Path) -> Path:
    """``path``, made if missing, with each folder made on the way readable only by its owner."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write ``path`` (its folder made private if missing), never readable by others, not
    even for a moment."""
    private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file made earlier by other means may have been readable
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    return path
