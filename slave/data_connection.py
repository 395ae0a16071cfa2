"""A sealed viewer's data connection on the client port (``slave.sealing``): the plain
connection its sealed frames go out on, paired with its TLS connection by a one-time data
token. Part of ``SlaveClientProtocol``: the same protocol serves both connections, and a
plain one on a TLS port may do nothing but this (``DataConnection.dispatch``).

On a data connection ``data_for`` is the viewer's TLS connection's protocol; on that one,
``data`` is the data connection's. Either closing closes the other.
"""

from __future__ import annotations

from common.errors import ErrorCode, RequestError
from common.frame_seal import SEALED_ACK_BODY, check_sealed_ack, lone_sealed_ack
from common.messages.sealing import DataAttach, SealedAck
from common.messaging import handles
from common.protocol import Message, MessageType
from slave.fanout import ViewerStream
from slave.sealing import TOKEN_LIFETIME

DATA_HANDLERS: dict = {}


class DataConnection:
    """The data connection's half of ``SlaveClientProtocol`` (a mixin: ``self`` is that
    protocol, its attributes ``services``, ``stream``, ``ack_key``, ``data``, ``data_for``)."""

    def _on_tls(self) -> bool:
        return getattr(self.transport, "secure", None) is True

    def _data_only(self) -> bool:
        """A plain connection to a TLS port (``DirectTLSServer.secure``): only a sealed
        viewer's data connection. A WebSocket's transport says neither."""
        return getattr(self.transport, "secure", None) is False

    def dispatch(self, message: Message):
        if self._data_only() and message.type not in (MessageType.DATA_ATTACH, MessageType.SEALED_ACK):
            self.reject(ErrorCode.TLS_REQUIRED, "this port takes TLS (leave out --insecure); only DATA_ATTACH is plain")
            return None
        return super().dispatch(message)

    @handles(DATA_HANDLERS, DataAttach)
    def data_attach(self, attach: DataAttach) -> None:
        if not self._data_only() or self.data_for is not None or self.services.sealing is None:
            raise RequestError(ErrorCode.BAD_REQUEST, "DATA_ATTACH is for a plain connection to a TLS slave")
        viewer = self.services.sealing.claim(attach.token)
        self.data_for = viewer
        self.authenticated()
        self.decoder.max_body = SEALED_ACK_BODY  # all it says from now on
        viewer.data_attached(self)

    def data_attached(self, data: DataConnection) -> None:
        """Frames go out on ``data`` now, starting with the newest."""
        if self.stream is None or not self.connected:
            data.transport.loseConnection()
            return
        self.data = data
        self.stream.write = data._writer()
        self.stream.set_writable(True)

    def _await_data(self) -> None:
        """A sealed viewer that opens no data connection in time is dropped."""
        self.clock.callLater(TOKEN_LIFETIME, self._data_overdue)

    def _data_overdue(self) -> None:
        if self.data is None and self.connected and not self.transport.disconnecting:
            self.reject(ErrorCode.TIMEOUT, f"no data connection within {TOKEN_LIFETIME:g} s; start the view again")

    @handles(DATA_HANDLERS, SealedAck)
    def sealed_ack(self, ack: SealedAck) -> None:
        viewer = self.data_for
        if viewer is None:
            raise RequestError(ErrorCode.BAD_ACK, "SEALED_ACK before DATA_ATTACH")
        seq = check_sealed_ack(viewer.ack_key, ack.body)
        if seq is None:
            self.reject(ErrorCode.BAD_ACK, "an acknowledgement with a wrong MAC")
        elif viewer.stream is not None:
            viewer.stream.acknowledged(seq)

    def _sealed_ack_alone(self, data: bytes) -> bool:
        """The fast path of a data connection: ``data`` was one good SEALED_ACK, now taken."""
        viewer = self.data_for
        if viewer is None or viewer.stream is None or self.decoder.buffered() or self._held:
            return False
        seq = lone_sealed_ack(viewer.ack_key, data)
        if seq is None:
            return False
        viewer.stream.acknowledged(seq)
        return True

    def _frames_stream(self) -> ViewerStream | None:
        """The stream whose frames this connection's transport carries, if any."""
        if self.data_for is not None:
            return self.data_for.stream
        return None if self.ack_key is not None else self.stream

    def _data_lost(self) -> None:
        """A sealed viewer's two connections end together, whichever closes first."""
        if self.data_for is not None:
            self.data_for.transport.loseConnection()
        elif self.data is not None:
            self.data.transport.loseConnection()
        elif self.ack_key is not None:
            self.services.sealing.forget(self)
