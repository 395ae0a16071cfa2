"""Login tokens, redirect tickets and proofs (U2), as typed credentials."""

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from common.tokens import BroadcastTicket, CredentialError, LoginClaims, OperatorProof, Signer, SlaveProof, ViewTicket


def test_login_token_round_trip():
    signer = Signer("s3cret")
    assert signer.check(signer.sign(LoginClaims("alice")), LoginClaims) == LoginClaims("alice", "free")
    assert signer.check(signer.sign(LoginClaims("bob", "paid")), LoginClaims).level == "paid"


def test_tickets_carry_their_typed_claims():
    signer = Signer("s3cret")
    ticket = ViewTicket("bob", "alice", "slave-1", "session-123", 80.0, 80.0, 2000.0)
    assert signer.check(signer.sign(ticket), ViewTicket) == ticket


@pytest.mark.parametrize("token", [None, "", "garbage", 42])
def test_bad_tokens_are_refused(token):
    with pytest.raises(CredentialError):
        Signer("s3cret").check(token, LoginClaims)


def test_a_token_signed_with_another_secret_is_refused():
    with pytest.raises(CredentialError, match="invalid"):
        Signer("s3cret").check(Signer("other").sign(LoginClaims("alice")), LoginClaims)


def test_expired_token_is_refused(monkeypatch):
    signer = Signer("s3cret", token_ttl=10)
    token = signer.sign(LoginClaims("alice"))
    import itsdangerous.timed

    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: 2e9)
    with pytest.raises(CredentialError, match="expired"):
        signer.check(token, LoginClaims)


def test_one_kind_of_credential_cannot_be_used_as_another():
    signer = Signer("s3cret")
    ticket = signer.sign(BroadcastTicket("alice", "session-123", "slave-1"))
    for kind in (LoginClaims, ViewTicket, SlaveProof, OperatorProof):
        with pytest.raises(CredentialError):
            signer.check(ticket, kind)


def test_signed_claims_that_do_not_fit_the_kind_are_refused():
    forged = URLSafeTimedSerializer("s3cret", salt="framecast.login-token").dumps({"user": "alice\n"})
    with pytest.raises(CredentialError, match="invalid login token"):
        Signer("s3cret").check(forged, LoginClaims)


def test_a_secret_is_required():
    with pytest.raises(ValueError):
        Signer("")


@pytest.mark.parametrize("offset, valid", [(3, True), (-33, True), (10, False), (-40, False)])
def test_clocks_a_few_seconds_apart_are_tolerated(monkeypatch, offset, valid):
    """A ticket (30 s) signed on a node whose clock is ``offset`` seconds off."""
    from itsdangerous.timed import TimestampSigner

    signer = Signer("s3cret", ticket_ttl=30)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) + offset)
    ticket = signer.sign(BroadcastTicket("alice", "session-123", "slave-1"))
    monkeypatch.undo()
    if valid:
        assert signer.check(ticket, BroadcastTicket).user == "alice"
    else:
        with pytest.raises(CredentialError, match="expired"):
            signer.check(ticket, BroadcastTicket)
