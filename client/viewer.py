"""The viewer (feature S4): receive, acknowledge, then save, show and count.

Each frame is acknowledged as soon as it has arrived in full, which lets the slave send the
next (newest) one. Statistics are gathered per second. When the slave goes away, the viewer
asks the masters for the broadcaster's new slave and carries on; while the broadcaster is
itself moving, "not broadcasting" answers are retried until ``reconnect_deadline``.

What to do at each step is ``client.view_state``'s to decide; this loop reads and writes the
sockets and carries out what the state asks.
"""

from __future__ import annotations

import select
import time
from pathlib import Path
from typing import Callable

from client.actions import Cap, Close, Move, Say, Send
from client.admission import admitted
from client.errors import ConnectionLost, FramecastError
from client.masters import Masters
from client.session import SlaveSession, connect_with_retry
from client.turbo_view import ViewerTurbo
from client.view_state import BroadcastOver, ViewState
from client.viewer_stats import ViewerStats
from common.errors import ErrorCode
from common.frame_seal import SealError
from common.messages.accounts import Redirect
from common.messages.sealing import FrameKey, SealedFrame
from common.messages.streaming import ImageFrame, ViewStart
from common.protocol import FrameInfo, decode_frame, encode_ack


KEY_WAIT = 2.0  # seconds a sealed frame may wait for its key on the TLS connection


class Viewer:
    def __init__(
        self,
        masters: Masters,
        token: str,
        target: str,
        speed_kbps: float | None = None,
        link: str | None = None,
        reconnect_deadline: float = 30.0,
        on_frame: Callable[[FrameInfo, memoryview], None] = lambda info, image: None,
        on_second: Callable[[ViewerStats], None] = lambda stats: None,
        on_event: Callable[[str], None] = lambda text: None,
        on_push: Callable[[object], None] = lambda event: None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.masters = masters
        self.token = token
        self.target = target
        self.speed_kbps = speed_kbps
        self.link = link
        self.reconnect_deadline = reconnect_deadline
        self.on_frame = on_frame
        self.on_second = on_second
        self.on_event = on_event
        self.on_push = on_push
        self.state = ViewState(target)
        self.stats: ViewerStats = self.state.stats
        self.turbo = ViewerTurbo(target, self._tell_slave, on_event)
        self.clock = clock

    def run(
        self, frames: int | None = None, duration: float | None = None, keep_going: Callable[[], bool] = lambda: True
    ) -> ViewerStats:
        end = self.clock() + duration if duration else None
        self.masters.attach(self.token)
        self._connect(first=True)
        try:
            while (frames is None or self.stats.frames < frames) and keep_going():
                if end is not None and self.clock() >= end:
                    break
                if self.state.slave is None:
                    self._connect(first=False)
                self._receive(0.05)
                for event in self.masters.poll():
                    self.on_push(event)
                if self.stats.roll():
                    self.on_second(self.stats)
        except BroadcastOver as ended:
            self.on_event(str(ended))
        finally:
            self.turbo.close()
            self._do(self.state.stopped())
        return self.stats

    def _connect(self, first: bool) -> None:
        """Join the broadcaster's slave (``ViewState.join_codes`` says what is waited out)."""
        session = self._join(self.state.join_codes(first))
        self._joined(self.state.joined(session, again=not first))

    def _join(self, retry_codes: set[ErrorCode]) -> SlaveSession:
        return connect_with_retry(
            self.masters,
            self._admitted,
            ViewStart,
            self.reconnect_deadline,
            retry_codes=retry_codes,
            on_retry=lambda why: self.on_event(f"retrying: {why}"),
        )

    def _joined(self, actions: list) -> None:
        self.turbo.new_slave()  # a new slave offers turbo mode afresh
        self._do(actions)

    def _admitted(self) -> Redirect:
        """A redirect to the broadcaster's slave, once the broadcaster let us in."""
        ask = lambda: self.masters.view_redirect(self.token, self.target, self.speed_kbps, self.link)  # noqa: E731
        return admitted(self.masters, ask, self.on_event, self.on_push)

    def _move(self) -> None:
        """Make-before-break: join the broadcast's new slave, then leave the old one."""
        try:
            session = self._join(self.state.join_codes(first=False))
        except FramecastError as exc:
            self._do(self.state.follow_failed(str(exc)))  # the main loop reconnects through the masters
            return
        self._joined(self.state.followed(session))

    def _receive(self, timeout: float) -> None:
        turbo = self.turbo
        turbo.step()
        session = self.state.slave
        data = session.data
        others = [*turbo.sockets(), *([data.conn.sock] if data is not None else [])]
        if others and not session.conn.pending():
            readable = ()
            if data is None or not data.conn.pending():
                readable = select.select([session.conn.sock, *others], [], [], timeout)[0]
            if turbo.link is not None and (turbo.link.sock in readable or turbo.link.pending()):
                self._from_peer(turbo.receive())
            if data is not None and (data.conn.sock in readable or data.conn.pending()):
                self._from_data(session)
            if self.state.slave is not session:
                return
            timeout = 0.0
        self.stats.path = turbo.path
        try:
            message = session.conn.recv(timeout)
        except ConnectionLost as exc:
            self._do(self.state.lost(str(exc)))
            return
        if message is None:
            self._do(self.state.quiet(session.silent_for()))
        else:
            self._from_slave(session, message)

    def _from_slave(self, session: SlaveSession, message) -> None:
        """A message on the slave's TLS (or plain) connection."""
        if isinstance(message, ImageFrame):
            self._show(message, lambda seq: session.conn.send_bytes(encode_ack(seq)))
        elif isinstance(message, FrameKey) and session.data is not None:
            try:
                session.data.add_key(message)
            except ConnectionLost as exc:
                self._do(self.state.lost(str(exc)))
        elif not self.turbo.handle(message):
            self._do(self.state.received(message))

    def _from_data(self, session: SlaveSession) -> None:
        """A sealed frame on the data connection: opened, acknowledged, shown."""
        data = session.data
        try:
            sealed = data.conn.recv(0)
            if not isinstance(sealed, SealedFrame):
                return
            self._await_key(session, sealed)
            if self.state.slave is not session:
                return
            frame = data.open(sealed)
        except SealError as exc:
            self._do(self.state.lost(f"slave {session.slave} sent a frame that does not open: {exc}"))
            return
        except ConnectionLost as exc:
            self._data_lost(session, str(exc))
            return
        self._show(frame, data.ack)

    def _data_lost(self, session: SlaveSession, why: str) -> None:
        """The data connection closed. A slave that ends a view says why on the TLS
        connection (the broadcast ended, a throw, a move) as it closes both, and the two
        are not ordered: read what is left there first."""
        try:
            self._read_slave_until(session, lambda: False)
        except ConnectionLost:
            pass
        if self.state.slave is session:
            self._do(self.state.lost(why))

    def _await_key(self, session: SlaveSession, sealed: SealedFrame) -> None:
        """The frame's key travels on the TLS connection and may come after it."""
        if not self._read_slave_until(session, lambda: session.data.has_key_for(sealed)):
            raise SealError(f"its key did not come within {KEY_WAIT:g} s")

    def _read_slave_until(self, session: SlaveSession, done: Callable[[], bool]) -> bool:
        """Handle what arrives on the TLS connection until ``done()``, the session ends, or
        nothing comes for ``KEY_WAIT`` s (False)."""
        deadline = self.clock() + KEY_WAIT
        while not done():
            if self.state.slave is not session:
                return True
            message = session.conn.recv(max(0.0, deadline - self.clock()))
            if message is None:
                return False
            self._from_slave(session, message)
        return True

    def _show(self, frame: ImageFrame, ack: Callable[[int], None]) -> None:
        """Acknowledge a frame, then count and show it unless the other path brought it."""
        info, image = decode_frame(frame.body)
        try:
            ack(info.seq)
        except ConnectionLost as exc:
            self._do(self.state.lost(str(exc)))
            return
        if self.state.counts(info, len(image), two_paths=self.turbo.link is not None):
            self.on_frame(info, image)

    def _from_peer(self, message) -> None:
        if isinstance(message, ImageFrame):
            self._show(message, lambda seq: self.turbo.ack(encode_ack(seq)))
            self.turbo.peer_frame()

    def _do(self, actions: list) -> None:
        """Carry out what the state decided, in order."""
        for action in actions:
            if isinstance(action, Say):
                self.on_event(action.line)
            elif isinstance(action, Send):
                self._tell(action.to, action.message)
            elif isinstance(action, Close):
                action.session.close()
            elif isinstance(action, Move):
                self._move()
            elif isinstance(action, Cap):
                self.turbo.set_cap(action.kbps)

    def _tell_slave(self, message) -> None:
        if self.state.slave is not None:
            self._tell(self.state.slave, message)

    @staticmethod
    def _tell(session: SlaveSession, message) -> None:
        try:
            session.conn.send(message)
        except ConnectionLost:
            pass  # the main loop notices, reconnects and says it again

    def set_paused(self, paused: bool) -> None:
        """Pause (no images are sent to us at all) or resume (the newest frame comes at once)."""
        self.turbo.set_paused(paused)
        self._do(self.state.set_paused(paused))


def frame_saver(directory: Path) -> Callable[[FrameInfo, memoryview], None]:
    """Save each frame's compressed bytes as they arrived, named by sequence number."""
    from client.codecs import EXTENSIONS

    directory.mkdir(parents=True, exist_ok=True)

    def save(info: FrameInfo, image: memoryview) -> None:
        (directory / f"{info.seq:08d}{EXTENSIONS.get(info.codec, '.bin')}").write_bytes(image)

    return save
