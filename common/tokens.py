"""Signed, expiring credentials that only the servers can check (feature U2).

All servers share one secret (``FRAMECAST_SECRET``). Three kinds of credential are signed
with it, each under its own salt so that one kind can never be replayed as another:

* a *login token*, given to a user at login: ``{"user", "level"}`` (the service level, so
  viewing needs no database lookup; a change applies from the next login); lives for hours;
* a *ticket*, given by a master with a redirect: names the slave chosen, the user and what
  they may do there (broadcast, or view a given broadcaster); lives for seconds, so a slave
  can check "a master placed you here" without asking a master;
* a *slave proof*, sent by a slave when it joins a master: proves it holds the secret;
* an *operator proof*, sent with drain, undrain and rebalance: operators are whoever holds
  the cluster secret (the same trust as running a node).

Signing and expiry come from itsdangerous.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

LOGIN_SALT = "framecast.login"
TICKET_SALT = "framecast.ticket"
SLAVE_SALT = "framecast.slave"
OPERATOR_SALT = "framecast.operator"


class CredentialError(Exception):
    """A token, ticket or proof is forged, malformed or expired; ``str()`` says which."""


class Signer:
    def __init__(self, secret: str, token_ttl: float = 12 * 3600, ticket_ttl: float = 30):
        if not secret:
            raise ValueError("a shared secret is required (set FRAMECAST_SECRET)")
        self.token_ttl = token_ttl
        self.ticket_ttl = ticket_ttl
        self._login = URLSafeTimedSerializer(secret, salt=LOGIN_SALT)
        self._ticket = URLSafeTimedSerializer(secret, salt=TICKET_SALT)
        self._slave = URLSafeTimedSerializer(secret, salt=SLAVE_SALT)
        self._operator = URLSafeTimedSerializer(secret, salt=OPERATOR_SALT)

    def login_token(self, user: str, level: str = "free") -> str:
        return self._login.dumps({"user": user, "level": level})

    def check_login_token(self, token: Any) -> tuple[str, str]:
        """The user a login token names, and the user's service level."""
        claims = _load(self._login, token, self.token_ttl, "login token")
        return claims["user"], claims.get("level", "free")

    def ticket(self, **claims: Any) -> str:
        return self._ticket.dumps(claims)

    def check_ticket(self, ticket: Any) -> dict[str, Any]:
        return _load(self._ticket, ticket, self.ticket_ttl, "ticket")

    def slave_proof(self, slave_id: str) -> str:
        return self._slave.dumps({"slave": slave_id})

    def check_slave_proof(self, proof: Any, slave_id: str) -> None:
        if _load(self._slave, proof, self.ticket_ttl, "slave proof").get("slave") != slave_id:
            raise CredentialError("slave proof was issued for another slave")

    def operator_proof(self, command: str) -> str:
        return self._operator.dumps({"command": command})

    def check_operator_proof(self, proof: Any, command: str) -> None:
        if _load(self._operator, proof, self.ticket_ttl, "operator proof").get("command") != command:
            raise CredentialError("operator proof was issued for another command")


def _load(serializer: URLSafeTimedSerializer, value: Any, max_age: float, what: str) -> dict[str, Any]:
    if not isinstance(value, str) or not value:
        raise CredentialError(f"missing {what}")
    try:
        claims = serializer.loads(value, max_age=max_age)
    except SignatureExpired:
        raise CredentialError(
            f"{what} has expired; log in again" if what == "login token" else f"{what} has expired"
        ) from None
    except BadSignature:
        raise CredentialError(f"invalid {what}") from None
    if not isinstance(claims, dict):
        raise CredentialError(f"invalid {what}")
    return claims
