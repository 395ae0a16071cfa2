"""Talking to the masters: login, placement redirects, status.

The server address may be one address (the load balancer) or a comma-separated list of
masters; a request that cannot reach one address is tried at the next.
"""

from __future__ import annotations

from client.connection import Connection
from client.errors import ConnectionLost
from common.addresses import parse_hostport_list
from common.protocol import MessageType as T
from common.tokens import Signer


class Masters:
    def __init__(self, server: str, timeout: float = 10.0):
        try:
            self.addresses = parse_hostport_list(server)
        except ValueError as exc:
            raise ConnectionLost(f"bad server address {server!r}: {exc}") from None
        self.timeout = timeout
        self._conn: Connection | None = None
        self._next = 0

    def request(self, msg_type: int, expect: int, **fields: object) -> dict:
        last_error: ConnectionLost | None = None
        for _ in range(len(self.addresses) + 1):
            try:
                return self._connection().request(msg_type, expect, timeout=self.timeout, **fields)
            except ConnectionLost as exc:
                last_error = exc
                self.close()
        raise last_error  # type: ignore[misc]

    def _connection(self) -> Connection:
        if self._conn is None:
            host, port = self.addresses[self._next % len(self.addresses)]
            self._next += 1
            self._conn = Connection(host, port, timeout=self.timeout)
        return self._conn

    def register(self, user: str, password: str) -> dict:
        return self.request(T.REGISTER, T.OK, user=user, password=password)

    def login(self, user: str, password: str) -> dict:
        return self.request(T.LOGIN, T.TOKEN, user=user, password=password)

    def broadcast_redirect(
        self, token: str, session: str, move_from: str | None = None, lost: str | None = None
    ) -> dict:
        return self.request(
            T.BROADCAST_REQUEST, T.REDIRECT, token=token, session=session, move_from=move_from, lost=lost
        )

    def operator(self, secret: str, command: str, **fields: object) -> dict:
        """An operator command (drain, undrain, rebalance), proven with the cluster secret."""
        proof = Signer(secret).operator_proof(command)
        return self.request(T.OPERATOR_REQUEST, T.OK, command=command, proof=proof, **fields)

    def view_redirect(self, token: str, target: str, speed_kbps: float | None = None, link: str | None = None) -> dict:
        return self.request(T.VIEW_REQUEST, T.REDIRECT, token=token, target=target, speed_kbps=speed_kbps, link=link)

    def status(self) -> dict:
        return self.request(T.STATUS_REQUEST, T.STATUS)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
