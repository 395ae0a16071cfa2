"""Login floods (issue 18, finding 8): failures count, per address and user, per address,
and per user from anywhere; the last only slows a login, by at most MAX_LOGIN_DELAY, so
nobody can lock a user out by sending wrong passwords in her name.

In-process: the master's Floods on the in-memory store, with accounts that know one
password per user and a Twisted Clock for the delay."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from common.errors import ErrorCode, RequestError
from common.messages.accounts import LoginToken
from master.policy.limits import LIMITS, Flood
from master.services.floods import MAX_LOGIN_DELAY, Floods
from master.storage.memory_store import MemoryStore
from tests.test_master_logic import clock_at, twisted

ATTACKER, ALICE_HOME = "203.0.113.7", "198.51.100.2"


class Passwords:
    """Accounts with one right password a user."""

    def __init__(self, **passwords: str):
        self.passwords = passwords
        self.checked = 0

    async def login(self, user: str, password: str) -> LoginToken:
        self.checked += 1
        if self.passwords.get(user) != password:
            raise RequestError(ErrorCode.WRONG_PASSWORD, "wrong user name or password")
        return LoginToken(user, f"token-{user}", 2000.0)


def floods_master():
    """The master's floods, with its accounts: ``Passwords``."""
    accounts = Passwords(alice="right-alice", bob="right-bob")
    return SimpleNamespace(accounts=accounts, floods=Floods(MemoryStore(), accounts, clock_at(1000.0)))


async def answer(master, address: str, user: str, password: str) -> str:
    """The login's token, or the refusal's code and message."""
    try:
        return (await twisted(master.floods.login(address, user, password))).token
    except RequestError as exc:
        return f"{exc.code}: {exc.message}"


def test_wrong_passwords_from_one_address_do_not_lock_the_user_out():
    """25 wrong passwords for alice from one address: past the burst they are refused unchecked
    (so guessing from there stops), while alice's right one from her address logs in at once."""
    master = floods_master()

    async def scenario():
        answers = [await answer(master, ATTACKER, "alice", f"guess-{i}") for i in range(25)]
        burst = LIMITS[Flood.FAILED_LOGIN_PAIR].burst
        assert all(a.startswith("wrong_password") for a in answers[:burst])
        assert all("too many failed logins as this user from your address" in a for a in answers[burst:])
        assert master.accounts.checked == burst  # no Argon2 check once refused
        assert await answer(master, ATTACKER, "alice", "right-alice") == answers[-1]  # a right guess too
        assert await answer(master, ALICE_HOME, "alice", "right-alice") == "token-alice"
        assert not master.floods.reactor.getDelayedCalls()  # not even slowed
        assert await answer(master, ATTACKER, "bob", "right-bob") == "token-bob"  # other users: fine

    asyncio.run(scenario())


def test_failures_from_many_addresses_only_slow_the_right_password_by_a_bounded_delay():
    master = floods_master()
    reactor = master.floods.reactor

    async def scenario():
        burst = LIMITS[Flood.FAILED_LOGIN_PAIR].burst
        addresses = [f"203.0.113.{n}" for n in range(LIMITS[Flood.FAILED_LOGIN_USER].burst // burst)]
        for address in addresses:  # as many failures as the user's burst: the next login waits
            for i in range(burst):
                assert (await answer(master, address, "alice", f"guess-{i}")).startswith("wrong_password")
        login = asyncio.ensure_future(answer(master, ALICE_HOME, "alice", "right-alice"))
        for _ in range(100):  # until it waits on the clock
            if reactor.getDelayedCalls():
                break
            await asyncio.sleep(0)
        (delay,) = reactor.getDelayedCalls()
        assert 0 < delay.getTime() - reactor.seconds() <= MAX_LOGIN_DELAY and not login.done()
        reactor.advance(MAX_LOGIN_DELAY)
        assert await login == "token-alice"

    asyncio.run(scenario())


def test_one_address_failing_for_many_users_is_refused():
    """Password spraying: one address, one wrong password for each of many users."""
    master = floods_master()

    async def scenario():
        burst = LIMITS[Flood.FAILED_LOGIN_ADDRESS].burst
        for i in range(burst):
            assert (await answer(master, ATTACKER, f"user{i}", "password")).startswith("wrong_password")
        refused = await answer(master, ATTACKER, "alice", "right-alice")
        assert refused.startswith("rate_limited") and "too many failed logins from your address" in refused
        assert await answer(master, ALICE_HOME, "alice", "right-alice") == "token-alice"

    asyncio.run(scenario())


def test_the_delay_bound_covers_a_full_bucket():
    """A full bucket of the user's failures waits at most one interval, within MAX_LOGIN_DELAY."""
    assert 1 / LIMITS[Flood.FAILED_LOGIN_USER].rate <= MAX_LOGIN_DELAY
