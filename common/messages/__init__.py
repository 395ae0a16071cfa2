"""Typed control messages (one frozen dataclass per message type), by connection:

* ``basic``: ERROR and OK, which every connection uses;
* ``accounts``: client <-> master (register, login, redirects, status, operators);
* ``streaming``: client <-> slave (starting a broadcast or a view, frames, acks, control);
* ``cluster``: slave <-> master (hello, heartbeats, session reports, commands);
* ``social``: a user's attached sessions, friends, presence and settings;
* ``admission``: view requests, invitations, the viewer list, throwing a viewer out;
* ``chat``: instant messages and rooms;
* ``turbo``: images peer to peer with a lone viewer, and the switch back;
* ``relay``: slaves pulling a broadcast from one another (relay chains);
* ``sealing``: sealed frames for native viewers of a TLS slave (keys, the data connection).

``schema`` explains how a message is declared; ``fields`` holds the checked field types.
Importing this package registers every message type, so ``parse`` knows them all.
"""

from common.messages import accounts, admission, basic, chat, cluster, relay, sealing, social, streaming, turbo  # noqa: F401  (registers)
from common.messages.schema import Control, parse

__all__ = ["Control", "parse"]
