"""The slaves linked to this master, and commands for slaves linked to other masters.

Each slave keeps one link to one master. A master that needs to tell a slave something (a
viewer's new cap, a drain) sends it on the link if the slave is linked here, and otherwise
publishes it through the store for the master that holds the link. The relay of published
commands survives a malformed command (it is dropped and logged) and a lost store (it
subscribes again); a command lost meanwhile is repaired where it matters, by the registry
comparing each heartbeat with the state an operator wants.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Callable, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from common.errors import ErrorCode, ProtocolError, RequestError
from common.messages import parse
from common.messages.cluster import SlaveHello
from common.messages.schema import Control
from common.protocol import Message
from common.reactor import later
from common.signing import CredentialError
from common.tokens import NodeKeys, SlaveProof
from master.services.metrics import CAP_UPDATES
from master.storage.store import Store, StoreUnavailable, stored


SUBSCRIBE_AGAIN = 0.5  # seconds between attempts to subscribe to a lost command feed


class Link(Protocol):
    slave_id: str
    hello: SlaveHello | None  # what the slave said of itself on joining
    last_heard: float

    def send(self, message: Control) -> None: ...

    def abort(self) -> None: ...


class SlaveLinks:
    """On the control plane: ``control`` is the store over the pool of its own."""

    log = Logger()

    def __init__(self, control: Store, signer: NodeKeys, master_id: str, reactor: IReactorTime):
        self.control = control
        self.signer = signer
        self.master_id = master_id
        self.reactor = reactor
        self.local: dict[str, Link] = {}
        self._queries = itertools.count(secrets.randbelow(2**40))
        self._waiting: dict[int, Deferred] = {}

    def admit(self, hello: SlaveHello) -> None:
        """Refuse a slave whose hello carries no valid proof that it holds the slave key."""
        try:
            proof = self.signer.check(hello.proof, SlaveProof, self.reactor.seconds())
        except CredentialError as exc:
            raise ProtocolError(ErrorCode.BAD_PROOF, f"slave not admitted: {exc}") from None
        if proof.slave != hello.id:
            raise ProtocolError(ErrorCode.BAD_PROOF, "slave not admitted: the proof was made for another slave")

    def joined(self, link: Link) -> None:
        self.local[link.slave_id] = link

    def left(self, link: Link) -> None:
        if self.local.get(link.slave_id) is link:
            del self.local[link.slave_id]

    async def send(self, slave_id: str, message: Control) -> None:
        link = self.local.get(slave_id)
        if link is not None:
            CAP_UPDATES.labels("direct").inc()
            link.send(message)
        else:
            CAP_UPDATES.labels("pubsub").inc()
            await stored(self.control.publish_command(slave_id, message))

    async def ask(self, slave_id: str, query: Callable[[int, str], Control], timeout: float = 2.0):
        """Ask a slave something and wait for its answer (None if none comes in time).
        ``query(query_id, this_master)`` makes the question; the answer names both."""
        query_id = next(self._queries)
        waiting = self._waiting[query_id] = Deferred()
        waiting.addTimeout(timeout, self.reactor, onTimeoutCancel=lambda result, timeout: None)
        try:
            await self.send(slave_id, query(query_id, self.master_id))
            return await waiting
        finally:
            self._waiting.pop(query_id, None)

    async def answered(self, reply) -> None:
        """A slave's answer to ``ask``: to the waiting question here, or on to the master
        that asked."""
        if reply.reply_to == self.master_id:
            self._resolve(reply)
        else:
            await stored(self.control.publish_command(_master_address(reply.reply_to), reply))

    def _resolve(self, reply) -> None:
        waiting = self._waiting.get(reply.query)
        if waiting is not None and not waiting.called:
            waiting.callback(reply)

    def abort_silent(self, now: float, limit: float) -> None:
        """Cut links whose slave went silent (its host vanished without closing)."""
        for link in list(self.local.values()):
            if now - link.last_heard > limit:
                link.abort()

    async def relay_commands(self) -> None:
        """Deliver commands published by other masters to the slaves linked here, for the
        master's life, subscribing again whenever the store comes back."""
        while True:
            try:
                async for slave_id, msg_type, body in self.control.command_feed():
                    self.deliver(slave_id, msg_type, body)
            except StoreUnavailable as exc:
                self.log.warn("command relay lost the store ({err}); subscribing again", err=exc)
            await later(self.reactor, SUBSCRIBE_AGAIN)

    def deliver(self, slave_id: str, msg_type: int, body: bytes) -> None:
        """A published command: to the slave if its link is here, or an answer for this
        master."""
        link = self.local.get(slave_id)
        for_me = slave_id == _master_address(self.master_id)
        if link is None and not for_me:
            return
        try:
            message = parse(Message(msg_type, 0, body))
        except (RequestError, ProtocolError) as exc:
            self.log.warn("dropping a malformed command for {slave}: {err}", slave=slave_id, err=exc)
            return
        if message is None:
            self.log.warn("dropping a command of unknown type {type} for {slave}", type=msg_type, slave=slave_id)
        elif for_me:
            self._resolve(message)
        else:
            link.send(message)


def _master_address(master_id: str) -> str:
    """Where commands for a master (answers it waits for) are published."""
    return "master:" + master_id
