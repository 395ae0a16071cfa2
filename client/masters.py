"""Talking to the masters: requests, and the events a master pushes to an attached session.

The server address may be one address (the load balancer) or a comma-separated list of
masters; a request that cannot reach one address is tried at the next. A session that
attached (``attach``) is attached again on every new connection, so events keep coming
after a master dies; events that arrive while waiting for an answer are kept in ``events``.
"""

from __future__ import annotations

import collections
import dataclasses
import select
import ssl
import time
from typing import Callable, TypeVar

from client.connection import Connection
from client.errors import ConnectionLost
from common.addresses import parse_hostport_list
from common.messages.accounts import (
    BroadcastRequest,
    Login,
    LoginToken,
    OperatorCommand,
    OperatorRequest,
    RebalancePlan,
    Redirect,
    Register,
    SlaveChanged,
    Status,
    StatusRequest,
    ViewRequest,
)
from common.messages.admission import ViewPending
from common.messages.basic import Ok
from common.messages.schema import Control
from common.messages.social import Attach, Attached
from common.signing import Signer
from common.tokens import OperatorProof

M = TypeVar("M")
RECONNECT_EVERY = 1.0  # seconds between attempts to re-attach a lost connection


class Masters:
    def __init__(self, server: str, timeout: float = 10.0, tls: bool | ssl.SSLContext = True):
        try:
            self.addresses = parse_hostport_list(server)
        except ValueError as exc:
            raise ConnectionLost(f"bad server address {server!r}: {exc}") from None
        self.timeout = timeout
        self.tls = tls  # as Connection takes it
        self.attached: Attach | None = None
        self.events: collections.deque = collections.deque()
        self._conn: Connection | None = None
        self._next = 0
        self._retry_at = 0.0

    # --- requests -----------------------------------------------------------------------
    def request(self, message: Control, expect: type[M] | tuple[type, ...]) -> M:
        return self._retrying(lambda conn: conn.request(message, expect, self.timeout, self.events.append))

    def send(self, message: Control) -> None:
        """Send without waiting for an answer (on the attached connection, if any)."""
        if self._conn is None:
            raise ConnectionLost("not connected to a master")
        try:
            self._conn.send(message)
        except ConnectionLost:
            self.close()
            raise

    def _retrying(self, action: Callable[[Connection], M]) -> M:
        """``action`` on a connection, trying the next address when one is lost."""
        last_error: ConnectionLost | None = None
        for _ in range(len(self.addresses) + 1):
            try:
                return action(self._connection())
            except ConnectionLost as exc:
                last_error = exc
                self.close()
        raise last_error  # type: ignore[misc]

    def _connection(self) -> Connection:
        if self._conn is None:
            host, port = self.addresses[self._next % len(self.addresses)]
            self._next += 1
            conn = Connection(host, port, timeout=self.timeout, tls=self.tls)
            if self.attached is not None:
                try:
                    conn.request(self.attached, Attached, self.timeout, self.events.append)
                except ConnectionLost:
                    conn.close()
                    raise
            self._conn = conn
        return self._conn

    # --- an attached session --------------------------------------------------------------
    def attach(self, token: str, since: int | None = None, messages: bool = True, presence: bool = False) -> None:
        """From now on, this user's events are pushed to this connection (and to every new
        one after a reconnection)."""
        attach = Attach(token, since, messages, presence)
        if self._conn is not None:
            self.request(attach, Attached)
            self.attached = attach
        else:
            self.attached = attach
            self._retrying(lambda conn: conn)  # a new connection attaches as it connects

    def resume_from(self, message_id: int) -> None:
        """A reconnection attaches from this message on (the last one this session has)."""
        if self.attached is not None:
            self.attached = dataclasses.replace(self.attached, since=message_id)

    def fileno(self) -> int | None:
        return self._conn.sock.fileno() if self._conn is not None else None

    def poll(self, timeout: float = 0.0) -> list:
        """The events pushed since the last poll, waiting up to ``timeout`` for one. A lost
        connection is attached again (at most once a second); until then, none come."""
        if self._conn is None:
            if time.monotonic() < self._retry_at:
                time.sleep(min(timeout, max(0.0, self._retry_at - time.monotonic())))
                return self._drain()
            self._retry_at = time.monotonic() + RECONNECT_EVERY
            try:
                self._connection()
            except ConnectionLost:
                return self._drain()
        try:
            if not self.events and select.select([self._conn.sock], [], [], timeout)[0]:
                message = self._conn.recv(0)
                while message is not None:
                    self.events.append(message)
                    message = self._conn.recv(0) if self._conn.pending() else None
        except ConnectionLost:
            self.close()
        return self._drain()

    def _drain(self) -> list:
        events = list(self.events)
        self.events.clear()
        return events

    # --- the requests of the client library ---------------------------------------------
    def register(self, user: str, password: str) -> Ok:
        return self.request(Register(user, password), Ok)

    def login(self, user: str, password: str) -> LoginToken:
        return self.request(Login(user, password), LoginToken)

    def broadcast_redirect(
        self,
        token: str,
        session: str,
        move_from: str | None = None,
        lost: str | None = None,
        turbo: tuple[int, tuple[str, ...], str] | None = None,
    ) -> Redirect:
        """Where to broadcast; ``turbo``: the port and hosts a lone viewer may reach us at,
        and the fingerprint of the peer link's certificate."""
        port, hosts, fingerprint = turbo or (None, (), "")
        return self.request(BroadcastRequest(token, session, move_from, lost, port, hosts, fingerprint), Redirect)

    def local_host(self) -> str | None:
        """This machine's address on the way to the masters (a turbo mode candidate)."""
        return self._conn.sock.getsockname()[0] if self._conn is not None else None

    def view_redirect(
        self, token: str, target: str, speed_kbps: float | None = None, link: str | None = None
    ) -> Redirect | ViewPending:
        """Where to watch ``target``, or that the broadcaster must first say yes."""
        return self.request(ViewRequest(token, target, speed_kbps, link), (Redirect, ViewPending))

    def operator(
        self, secret: str, command: OperatorCommand, slave: str | None = None, deadline: float | None = None
    ) -> SlaveChanged | RebalancePlan:
        """An operator command (drain, undrain, rebalance), proven with the cluster secret."""
        proof = Signer(secret).sign(OperatorProof.fresh(command, slave))
        answer = RebalancePlan if command == OperatorCommand.REBALANCE else SlaveChanged
        return self.request(OperatorRequest(command, proof, slave, deadline), answer)

    def status(self, token: str | None = None, secret: str | None = None) -> Status:
        """What a user may see of the cluster (``token``), or everything (the ``secret``)."""
        proof = Signer(secret).sign(OperatorProof.fresh(OperatorProof.STATUS)) if secret else None
        return self.request(StatusRequest(token, proof), Status)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
