"""Login tokens, redirect tickets and slave proofs (U2)."""

import pytest
from itsdangerous import URLSafeTimedSerializer

from common.tokens import TICKET_SALT, CredentialError, Signer


def test_login_token_round_trip():
    signer = Signer("s3cret")
    assert signer.check_login_token(signer.login_token("alice")) == ("alice", "free")
    assert signer.check_login_token(signer.login_token("bob", "paid")) == ("bob", "paid")


@pytest.mark.parametrize("token", [None, "", "garbage", 42])
def test_bad_tokens_are_refused(token):
    with pytest.raises(CredentialError):
        Signer("s3cret").check_login_token(token)


def test_a_token_signed_with_another_secret_is_refused():
    with pytest.raises(CredentialError, match="invalid"):
        Signer("s3cret").check_login_token(Signer("other").login_token("alice"))


def test_expired_token_is_refused(monkeypatch):
    signer = Signer("s3cret", token_ttl=10)
    token = signer.login_token("alice")
    import itsdangerous.timed

    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: 2e9)
    with pytest.raises(CredentialError, match="expired"):
        signer.check_login_token(token)


def test_a_ticket_cannot_be_used_as_a_login_token():
    signer = Signer("s3cret")
    with pytest.raises(CredentialError):
        signer.check_login_token(signer.ticket(user="alice"))
    assert URLSafeTimedSerializer("s3cret", salt=TICKET_SALT).loads(signer.ticket(user="a")) == {"user": "a"}


def test_slave_proof_names_its_slave():
    signer = Signer("s3cret")
    signer.check_slave_proof(signer.slave_proof("slave-1"), "slave-1")
    with pytest.raises(CredentialError):
        signer.check_slave_proof(signer.slave_proof("slave-1"), "slave-2")


def test_a_secret_is_required():
    with pytest.raises(ValueError):
        Signer("")
