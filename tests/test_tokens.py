"""Login tokens, redirect tickets and proofs (U2), as typed credentials."""

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from common import keys
from common.signing import CLOCK_SKEW, CredentialError, Signer
from common.tokens import BroadcastTicket, LoginClaims, NodeKeys, OperatorProof, RelayTicket, SlaveProof, ViewTicket


def test_login_token_round_trip():
    signer = Signer("s3cret")
    assert signer.check(signer.sign(LoginClaims("alice")), LoginClaims, time.time()) == LoginClaims("alice", "free")
    assert signer.check(signer.sign(LoginClaims("bob", "paid")), LoginClaims, time.time()).level == "paid"


def test_tickets_carry_their_typed_claims():
    signer = Signer("s3cret")
    ticket = ViewTicket("bob", "alice", "slave-1", "session-123", 80.0, 80.0, 2000.0)
    assert signer.check(signer.sign(ticket), ViewTicket, time.time()) == ticket


@pytest.mark.parametrize("token", [None, "", "garbage", 42])
def test_bad_tokens_are_refused(token):
    with pytest.raises(CredentialError):
        Signer("s3cret").check(token, LoginClaims, time.time())


def test_a_token_signed_with_another_secret_is_refused():
    with pytest.raises(CredentialError, match="invalid"):
        Signer("s3cret").check(Signer("other").sign(LoginClaims("alice")), LoginClaims, time.time())


def test_expired_token_is_refused():
    signer = Signer("s3cret", token_ttl=10)
    token = signer.sign(LoginClaims("alice"))
    assert signer.check(token, LoginClaims, time.time() + 10).user == "alice"
    with pytest.raises(CredentialError, match="expired"):
        signer.check(token, LoginClaims, time.time() + 11 + CLOCK_SKEW)


def test_one_kind_of_credential_cannot_be_used_as_another():
    signer = Signer("s3cret")
    ticket = signer.sign(BroadcastTicket("alice", "session-123", "slave-1"))
    for kind in (LoginClaims, ViewTicket, SlaveProof, OperatorProof):
        with pytest.raises(CredentialError):
            signer.check(ticket, kind, time.time())


def test_signed_claims_that_do_not_fit_the_kind_are_refused():
    forged = URLSafeTimedSerializer("s3cret", salt="framecast.login-token").dumps({"user": "alice\n"})
    with pytest.raises(CredentialError, match="invalid login token"):
        Signer("s3cret").check(forged, LoginClaims, time.time())


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
        assert signer.check(ticket, BroadcastTicket, time.time()).user == "alice"
    else:
        with pytest.raises(CredentialError, match="expired"):
            signer.check(ticket, BroadcastTicket, time.time())


# --- what masters and slaves hold (common/keys.py) ------------------------------------------
MASTERS = NodeKeys.for_master("s3cret")
MASTER_KEY, SLAVE_KEY = keys.slave_settings("s3cret").values()
SLAVE = NodeKeys.for_slave(keys.load_public_key(MASTER_KEY), SLAVE_KEY)


def forgeries_with_a_slaves_keys(credential):
    """Everything a slave's key material signs ``credential`` into: its own keys, and HMAC
    with each of its two settings taken as a secret."""
    yield from (Signer(SLAVE_KEY).sign(credential), Signer(MASTER_KEY).sign(credential))
    with pytest.raises(TypeError):
        SLAVE.sign(credential)


@pytest.mark.parametrize("credential", [LoginClaims("mallory", "paid"), OperatorProof.fresh(OperatorProof.STATUS)])
def test_a_slaves_keys_cannot_make_a_login_token_or_operator_proof_masters_accept(credential):
    for forged in forgeries_with_a_slaves_keys(credential):
        with pytest.raises(CredentialError, match="invalid"):
            MASTERS.check(forged, type(credential), time.time())
    assert MASTERS.check(MASTERS.sign(credential), type(credential), time.time()) == credential


@pytest.mark.parametrize(
    "ticket",
    [ViewTicket("mallory", "alice", "slave-1", "session-123"), BroadcastTicket("mallory", "session-1", "slave-1")],
)
def test_a_ticket_signed_with_the_slave_key_is_refused_as_a_master_ticket(ticket):
    for forged in forgeries_with_a_slaves_keys(ticket):
        with pytest.raises(CredentialError, match="invalid"):
            SLAVE.check(forged, type(ticket), time.time())
    assert SLAVE.check(MASTERS.sign(ticket), type(ticket), time.time()) == ticket


def test_slaves_check_no_login_tokens_or_operator_proofs():
    for credential in (LoginClaims("alice"), OperatorProof.fresh(OperatorProof.STATUS)):
        with pytest.raises(CredentialError, match="cannot check"):
            SLAVE.check(MASTERS.sign(credential), type(credential), time.time())


def test_what_slaves_sign_masters_accept_and_the_other_way_round():
    assert MASTERS.check(SLAVE.sign(SlaveProof("slave-1")), SlaveProof, time.time()) == SlaveProof("slave-1")
    relay = RelayTicket("alice", "slave-1", "slave-2")
    assert SLAVE.check(SLAVE.sign(relay), RelayTicket, time.time()) == relay


def test_one_master_ticket_cannot_be_used_as_another():
    ticket = MASTERS.sign(BroadcastTicket("alice", "session-123", "slave-1"))
    with pytest.raises(CredentialError, match="invalid view ticket"):
        SLAVE.check(ticket, ViewTicket, time.time())


def test_each_key_is_its_own_and_comes_from_the_secret_alone():
    assert keys.slave_settings("s3cret") == {"FRAMECAST_MASTER_KEY": MASTER_KEY, "FRAMECAST_SLAVE_KEY": SLAVE_KEY}
    other = keys.slave_settings("other secret")
    assert other["FRAMECAST_MASTER_KEY"] != MASTER_KEY and other["FRAMECAST_SLAVE_KEY"] != SLAVE_KEY
    assert "s3cret" not in SLAVE_KEY and SLAVE_KEY != MASTER_KEY
    with pytest.raises(ValueError, match="not a master key"):
        keys.load_public_key(SLAVE_KEY[:20])


def test_a_nonce_is_kept_as_long_as_its_credential_can_pass_a_check():
    """Signed by a clock CLOCK_SKEW ahead, a proof passes until lifetime + 2 x skew from now."""
    assert MASTERS.kept_for(OperatorProof) == MASTERS.ticket_ttl + 2 * CLOCK_SKEW
    assert SLAVE.kept_for(ViewTicket) == SLAVE.ticket_ttl + 2 * CLOCK_SKEW
