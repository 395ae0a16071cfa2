"""The master's dedicated port for slaves: hello, heartbeats and session reports (C4)."""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Factory

from common.messaging import MessageProtocol, handles
from common.protocol import Message, MessageType as T, ProtocolError
from common.tokens import CredentialError
from master.service import Master


class SlaveLinkProtocol(MessageProtocol):
    """One slave's connection. Nothing but SLAVE_HELLO is accepted before the slave proves
    it holds the cluster secret."""

    handlers: dict = {}

    def __init__(self, master: Master):
        self.master = master
        self.slave_id: str | None = None
        self.addr = ""
        self.metrics = ""
        self.container = ""
        self._in_order: Deferred = succeed(None)
        self.last_heard = master.clock()

    def dataReceived(self, data: bytes) -> None:
        self.last_heard = self.master.clock()
        super().dataReceived(data)

    def dispatch(self, message: Message) -> None:
        """Reports are stored strictly in the order the slave sent them (a session removed
        just after a complete table must stay removed), one after another."""
        if self.slave_id is None and message.type != T.SLAVE_HELLO:
            self.reject("hello_first", "a slave must send SLAVE_HELLO first")
            return
        self._in_order.addCallback(lambda _: MessageProtocol.dispatch(self, message))

    @handles(handlers, T.SLAVE_HELLO)
    def hello(self, message: Message) -> None:
        fields = message.json()
        slave_id, addr = fields.get("id"), fields.get("addr")
        if not isinstance(slave_id, str) or not slave_id or not isinstance(addr, str) or not addr:
            raise ProtocolError("bad_hello", "SLAVE_HELLO needs an id and an address")
        try:
            self.master.signer.check_slave_proof(fields.get("proof"), slave_id)
        except CredentialError as exc:
            raise ProtocolError("bad_proof", f"slave not admitted: {exc}") from None
        self.slave_id, self.addr, self.metrics = slave_id, addr, str(fields.get("metrics", ""))
        self.container = str(fields.get("container", ""))
        self.master.slave_links[slave_id] = self
        self.log.info("slave {slave} at {addr} joined", slave=slave_id, addr=addr)

    @handles(handlers, T.HEARTBEAT)
    async def heartbeat(self, message: Message) -> None:
        self.send_json(T.HEARTBEAT)  # the echo by which the slave knows this link is alive
        await self.master.slave_heartbeat(self.slave_id, self.addr, self.metrics, self.container, message.json())

    @handles(handlers, T.SESSION_ADD)
    async def session_add(self, message: Message) -> None:
        await self.master.session_added(self.slave_id, self.addr, message.json())

    @handles(handlers, T.SESSION_REMOVE)
    async def session_remove(self, message: Message) -> None:
        await self.master.session_removed(self.slave_id, message.json())

    @handles(handlers, T.SESSION_TABLE)
    async def session_table(self, message: Message) -> None:
        await self.master.session_table(self.slave_id, self.addr, message.json())

    def request_table(self) -> None:
        self.send_json(T.TABLE_REQUEST)

    def request_failed(self, failure) -> None:
        # Slaves do not wait for answers to reports; log and carry on (Redis may be away).
        if failure.check(ProtocolError):
            super().request_failed(failure)
            return
        self.log.warn("slave report from {slave} not stored: {err}", slave=self.slave_id, err=failure.getErrorMessage())

    def connectionLost(self, reason) -> None:
        if self.slave_id and self.master.slave_links.get(self.slave_id) is self:
            del self.master.slave_links[self.slave_id]


class SlaveLinkFactory(Factory):
    def __init__(self, master: Master):
        self.master = master

    def buildProtocol(self, addr):
        return SlaveLinkProtocol(self.master)
