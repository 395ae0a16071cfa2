"""What the broadcaster's and the viewer's state ask their socket loops to do.

``BroadcastState`` and ``ViewState`` decide; they never touch a socket. Each event they are
fed returns a list of these, which the loop carries out in order. ``to`` and ``session`` are
the slave sessions the state was given (anything with ``slave`` and ``slave_id``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Say:
    """A line for the user."""

    line: str


@dataclass(frozen=True, eq=False)
class Send:
    """A control message to a slave session."""

    to: object
    message: object


@dataclass(frozen=True, eq=False)
class Close:
    """Close a slave session, after a last message (``farewell``) if there is one."""

    session: object
    farewell: object | None = None


@dataclass(frozen=True)
class Move:
    """Make-before-break: join the slave a master chooses now, keeping the current one."""


@dataclass(frozen=True)
class Upload:
    """Encode the captured frame as number ``seq`` and send it to the slave, the peers or both."""

    seq: int
    to_slave: bool
    to_peers: bool


@dataclass(frozen=True)
class Cap:
    """The slave set the viewer's cap: a peer link, if any, hears it too."""

    kbps: float | None
