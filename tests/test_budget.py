"""Speed tiers and per-user budgets (S7, S8) as pure functions."""

import pytest
from hypothesis import given, strategies as st

from master.policy.budget import SpeedPolicy, parse_levels, session_caps


def test_default_tiers_follow_the_seed():
    policy = SpeedPolicy()
    assert [policy.cap_for(None, link) for link in ("dialup", "dsl", "lan")] == [20, 80, 280]
    assert [policy.cap_for(speed, None) for speed in (56, 1500, 100_000)] == [20, 80, 280]
    assert policy.cap_for(None, None) is None


def test_share_policy():
    policy = SpeedPolicy.parse("share:0.5", "dialup=20,dsl=80,lan=280")
    assert policy.cap_for(1000, None) == 500
    assert policy.cap_for(None, "dsl") == 80


@pytest.mark.parametrize("bad", ["share:0", "share:2", "fastest", "share:"])
def test_bad_policies_are_refused(bad):
    with pytest.raises(ValueError):
        SpeedPolicy.parse(bad, "lan=1")


def test_allowance_is_divided_among_open_sessions():
    assert session_caps(900, {"a": None}) == {"a": 900}
    assert session_caps(900, {"a": None, "b": None, "c": None}) == {"a": 300, "b": 300, "c": 300}
    assert session_caps(900, {"a": 80, "b": None}) == {"a": 80, "b": 450}
    assert session_caps(None, {"a": 80, "b": None}) == {"a": 80, "b": None}


@given(st.floats(1, 1e6), st.dictionaries(st.text(min_size=1), st.none() | st.floats(1, 1e6), min_size=1))
def test_a_users_sessions_never_exceed_the_allowance(allowance, speed_caps):
    caps = session_caps(allowance, speed_caps)
    assert sum(caps.values()) <= allowance * (1 + 1e-9)


def test_parse_levels():
    assert parse_levels("free=2000, paid=20000") == {"free": 2000, "paid": 20000}
    with pytest.raises(ValueError):
        parse_levels("free")
